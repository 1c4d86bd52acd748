// Tasks: the engine's plan of a job, and the dispatcher's claims and leases.
#include <algorithm>

#include "server/store/Migrations.h"
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"

namespace te::store {
namespace {

const char* const kTaskColumns =
    "id, job_id, stage, name, kind, state, queue, target_worker, worker, attempt, max_attempts,"
    " priority, builtin, command, args, env, inputs, timeout_sec, output, message, exit_code,"
    " created_at, not_before, lease_until, started_at, finished_at";

// Receives one row of kTaskColumns.
struct TaskRow {
    Task task;
    int kind = 0;
    int state = 0;
    int exitCode = 0;
    soci::indicator exitCodeIndicator = soci::i_null;

    void bindTo(SqlQuery& query) {
        query.into(task.id)
            .into(task.jobId)
            .into(task.stage)
            .into(task.name)
            .into(kind)
            .into(state)
            .into(task.queue)
            .into(task.targetWorker)
            .into(task.worker)
            .into(task.attempt)
            .into(task.maxAttempts)
            .into(task.priority)
            .into(task.builtin)
            .into(task.command)
            .into(task.args)
            .into(task.env)
            .into(task.inputs)
            .into(task.timeoutSec)
            .into(task.output)
            .into(task.message)
            .into(exitCode, exitCodeIndicator)
            .into(task.createdAt)
            .into(task.notBefore)
            .into(task.leaseUntil)
            .into(task.startedAt)
            .into(task.finishedAt);
    }
    Task take() {
        task.kind = static_cast<TaskKind>(kind);
        task.state = static_cast<TaskState>(state);
        task.exitCode =
            exitCodeIndicator == soci::i_ok ? std::optional<int>(exitCode) : std::nullopt;
        return task;
    }
};

// Runs "<head> <task columns> <rest>" (a SELECT, or an UPDATE ... RETURNING).
template <class Bind>
std::vector<Task> selectTasks(Connection& db, const std::string& sql, Bind bind) {
    SqlQuery query(db);
    TaskRow row;
    row.bindTo(query);
    bind(query);
    std::vector<Task> tasks;
    if (query.run(sql)) {
        do {
            tasks.push_back(row.take());
        } while (query.next());
    }
    return tasks;
}

std::string select(const std::string& rest) {
    return std::string("SELECT ") + kTaskColumns + " FROM tasks " + rest;
}

long long asInt(TaskState s) { return static_cast<long long>(s); }

const std::string kQueuedTerm = kQueuedTaskTerm;  // tasks_queued's condition: see Migrations.h

}  // namespace

std::int64_t SociTx::insertTask(Task& task) {
    if (task.createdAt == 0) task.createdAt = nowMs();
    SqlQuery query(_db);
    long long id = 0;
    int exitCode = task.exitCode.value_or(0);
    soci::indicator exitCodeIndicator = task.exitCode ? soci::i_ok : soci::i_null;
    query.into(id)
        .bind(task.jobId)
        .bind(task.stage)
        .bind(task.name)
        .bind(static_cast<long long>(task.kind))
        .bind(asInt(task.state))
        .bind(task.queue)
        .bind(task.targetWorker)
        .bind(task.worker)
        .bind(task.attempt)
        .bind(task.maxAttempts)
        .bind(task.priority)
        .bind(task.builtin)
        .bind(task.command)
        .bind(task.args)
        .bind(task.env)
        .bind(task.inputs)
        .bind(task.timeoutSec)
        .bind(task.output)
        .bind(task.message)
        .bindNullable(exitCode, exitCodeIndicator)
        .bind(task.createdAt)
        .bind(task.notBefore)
        .bind(task.leaseUntil)
        .bind(task.startedAt)
        .bind(task.finishedAt);
    query.run(
        "INSERT INTO tasks (job_id, stage, name, kind, state, queue, target_worker, worker,"
        " attempt, max_attempts, priority, builtin, command, args, env, inputs, timeout_sec,"
        " output, message, exit_code, created_at, not_before, lease_until, started_at,"
        " finished_at) VALUES (:job_id, :stage, :name, :kind, :state, :queue, :target_worker,"
        " :worker, :attempt, :max_attempts, :priority, :builtin, :command, :args, :env,"
        " :inputs, :timeout_sec, :output, :message, :exit_code, :created_at, :not_before,"
        " :lease_until, :started_at, :finished_at) RETURNING id");
    task.id = id;
    return id;
}

std::optional<Task> SociTx::findTask(std::int64_t id) {
    auto tasks = selectTasks(_db, select("WHERE id = :id"), [&](SqlQuery& q) { q.bind(id); });
    if (tasks.empty()) return std::nullopt;
    return tasks.front();
}

std::vector<Task> SociTx::listTasks(std::int64_t jobId) {
    return selectTasks(_db, select("WHERE job_id = :job_id ORDER BY id"),
                       [&](SqlQuery& q) { q.bind(jobId); });
}

void SociTx::updateTask(const Task& task) {
    SqlQuery query(_db);
    int exitCode = task.exitCode.value_or(0);
    soci::indicator exitCodeIndicator = task.exitCode ? soci::i_ok : soci::i_null;
    query.bind(task.stage)
        .bind(task.name)
        .bind(static_cast<long long>(task.kind))
        .bind(asInt(task.state))
        .bind(task.queue)
        .bind(task.targetWorker)
        .bind(task.worker)
        .bind(task.attempt)
        .bind(task.maxAttempts)
        .bind(task.priority)
        .bind(task.builtin)
        .bind(task.command)
        .bind(task.args)
        .bind(task.env)
        .bind(task.inputs)
        .bind(task.timeoutSec)
        .bind(task.output)
        .bind(task.message)
        .bindNullable(exitCode, exitCodeIndicator)
        .bind(task.notBefore)
        .bind(task.leaseUntil)
        .bind(task.startedAt)
        .bind(task.finishedAt)
        .bind(task.id);
    query.run(
        "UPDATE tasks SET stage = :stage, name = :name, kind = :kind, state = :state,"
        " queue = :queue, target_worker = :target_worker, worker = :worker,"
        " attempt = :attempt, max_attempts = :max_attempts, priority = :priority,"
        " builtin = :builtin, command = :command, args = :args, env = :env, inputs = :inputs,"
        " timeout_sec = :timeout_sec, output = :output, message = :message,"
        " exit_code = :exit_code, not_before = :not_before, lease_until = :lease_until,"
        " started_at = :started_at, finished_at = :finished_at WHERE id = :id");
    if (query.affectedRows() == 0) {
        throw NotFoundError("task " + std::to_string(task.id) + " not found");
    }
}

std::vector<Task> SociTx::claimTasks(const std::vector<std::string>& queues,
                                     const std::string& worker, int limit, TimeMs now,
                                     TimeMs leaseUntil) {
    if (queues.empty() || limit <= 0) return {};
    // One statement: pick and mark. On PostgreSQL, SKIP LOCKED lets concurrent dispatchers
    // claim disjoint rows instead of queueing behind each other; SQLite serializes writers.
    const std::string lock = _dialect == Dialect::Postgres ? " FOR UPDATE SKIP LOCKED" : "";
    const std::string sql =
        "UPDATE tasks SET state = :assigned, worker = :worker, lease_until = :lease"
        " WHERE id IN (SELECT id FROM tasks WHERE " +
        kQueuedTerm + " AND queue IN (" + placeholders("q", queues.size()) +
        ") AND not_before <= :now AND (target_worker = '' OR target_worker = :target)"
        " ORDER BY priority, id LIMIT :limit" +
        lock + ") RETURNING " + kTaskColumns;
    auto tasks = selectTasks(_db, sql, [&](SqlQuery& q) {
        q.bind(asInt(TaskState::Assigned)).bind(worker).bind(leaseUntil);
        for (const auto& queue : queues) q.bind(queue);
        q.bind(now).bind(worker).bind(limit);
    });
    // RETURNING gives no order; the contract's order is the selection order.
    std::sort(tasks.begin(), tasks.end(), [](const Task& a, const Task& b) {
        return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
    });
    return tasks;
}

int SociTx::renewLeases(const std::string& worker, TimeMs leaseUntil) {
    SqlQuery query(_db);
    query.bind(leaseUntil)
        .bind(worker)
        .bind(asInt(TaskState::Assigned))
        .bind(asInt(TaskState::Running));
    query.run(
        "UPDATE tasks SET lease_until = :lease WHERE worker = :worker"
        " AND state IN (:assigned, :running)");
    return static_cast<int>(query.affectedRows());
}

std::vector<Task> SociTx::expiredLeases(TimeMs now, int limit) {
    return selectTasks(_db,
                       select("WHERE state IN (:assigned, :running) AND lease_until < :now"
                              " ORDER BY lease_until, id LIMIT :limit"),
                       [&](SqlQuery& q) {
                           q.bind(asInt(TaskState::Assigned)).bind(asInt(TaskState::Running));
                           q.bind(now).bind(limit);
                       });
}

std::vector<Task> SociTx::tasksInStates(std::int64_t jobId, const std::vector<TaskState>& states) {
    if (states.empty()) return {};
    return selectTasks(_db,
                       select("WHERE job_id = :job_id AND state IN (" +
                              placeholders("s", states.size()) + ") ORDER BY id"),
                       [&](SqlQuery& q) {
                           q.bind(jobId);
                           for (TaskState s : states) q.bind(asInt(s));
                       });
}

bool SociTx::anyStageTask(std::int64_t jobId, int stage, const std::vector<TaskState>& states) {
    if (states.empty()) return false;
    SqlQuery query(_db);
    long long found = 0;
    query.into(found).bind(jobId).bind(stage);
    for (TaskState s : states) query.bind(asInt(s));
    // COUNT over LIMIT 1 rather than EXISTS: an integer on both backends.
    query.run(
        "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE job_id = :job_id AND"
        " stage = :stage AND state IN (" +
        placeholders("s", states.size()) + ") LIMIT 1) AS any_task");
    return found > 0;
}

std::vector<Task> SociTx::undeliveredTargeted(TimeMs before, int limit) {
    return selectTasks(
        _db,
        select("WHERE " + kQueuedTerm +
               " AND target_worker <> '' AND created_at < :before ORDER BY id LIMIT :limit"),
        [&](SqlQuery& q) { q.bind(before).bind(limit); });
}

std::map<std::string, QueueCounts> SociTx::taskCountsByQueue() {
    // Only queues with queued, assigned or running tasks appear.
    // Pending from tasks_queued alone (it holds the queue); working from the few rows of
    // assigned and running tasks.
    const std::string working = "state IN (" + std::to_string(asInt(TaskState::Assigned)) + ", " +
                                std::to_string(asInt(TaskState::Running)) + ")";
    std::map<std::string, QueueCounts> counts;
    for (const bool pending : {true, false}) {
        SqlQuery query(_db);
        std::string queue;
        long long count = 0;
        query.into(queue).into(count);
        if (query.run("SELECT queue, COUNT(*) FROM tasks WHERE " +
                      (pending ? kQueuedTerm : working) + " GROUP BY queue")) {
            do {
                (pending ? counts[queue].pending : counts[queue].working) += count;
            } while (query.next());
        }
    }
    return counts;
}

TaskTotals SociTx::taskTotals() {
    TaskTotals totals;
    SqlQuery query(_db);
    int state = 0;
    long long count = 0;
    query.into(state).into(count);
    if (query.run("SELECT state, COUNT(*) FROM tasks GROUP BY state")) {
        do {
            switch (static_cast<TaskState>(state)) {
                case TaskState::Failed:
                    totals.failed += count;
                    totals.processed += count;
                    break;
                case TaskState::Queued:
                case TaskState::Assigned:
                case TaskState::Running:
                    totals.pending += count;
                    break;
                case TaskState::Completed:
                case TaskState::Retried:
                case TaskState::Incomplete:
                    totals.processed += count;
                    break;
                case TaskState::Waiting:
                case TaskState::Cancelled:
                    break;
            }
        } while (query.next());
    }
    return totals;
}

}  // namespace te::store
