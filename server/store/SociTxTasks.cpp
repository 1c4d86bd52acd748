// Tasks: the engine's plan of a job, and the dispatcher's claims and leases.
#include <algorithm>
#include <cstring>
#include <map>

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
const char* const kTaskColumnsButId = kTaskColumns + std::strlen("id, ");

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

// One row of kTaskColumns as a pipeline returned it (WriteBatch::addReturning).
Task taskFromRow(const PipelineRows& rows, int r) {
    int c = 0;
    auto number = [&] { return rows.number(r, c++); };
    auto text = [&] { return rows.text(r, c++); };
    Task task;
    task.id = number();
    task.jobId = number();
    task.stage = static_cast<int>(number());
    task.name = text();
    task.kind = static_cast<TaskKind>(number());
    task.state = static_cast<TaskState>(number());
    task.queue = text();
    task.targetWorker = text();
    task.worker = text();
    task.attempt = static_cast<int>(number());
    task.maxAttempts = static_cast<int>(number());
    task.priority = static_cast<int>(number());
    task.builtin = text();
    task.command = text();
    task.args = text();
    task.env = text();
    task.inputs = text();
    task.timeoutSec = static_cast<int>(number());
    task.output = text();
    task.message = text();
    if (rows.isNull(r, c)) {
        ++c;
    } else {
        task.exitCode = static_cast<int>(number());
    }
    task.createdAt = number();
    task.notBefore = number();
    task.leaseUntil = number();
    task.startedAt = number();
    task.finishedAt = number();
    return task;
}

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

bool inStates(const std::vector<TaskState>& states, TaskState state) {
    return std::find(states.begin(), states.end(), state) != states.end();
}

static_assert(RowCache::kMaxListed == SociTx::kWholeJobTasks,
              "the cache keeps the task lists of the jobs a transaction keeps whole");

const std::string kQueuedTerm = kQueuedTaskTerm;  // tasks_queued's condition: see Migrations.h

}  // namespace

std::int64_t SociTx::insertTask(Task& task) {
    if (task.createdAt == 0) task.createdAt = nowMs();
    wholeJob(task.jobId);             // a job kept whole in the cache stays whole with its new task
    if (!_ids) _stageAbsent.clear();  // written now, not among the changes anyStageTask scans
    task.id = insertRow(IdBlocks::Table::Tasks, _tasksNew, [&](SqlQuery& query) {
        bindTask(task, query, false);
        return insertSql("tasks", kTaskColumnsButId, 1);
    });
    _tasksSeen[task.id] = task;
    _stateChange.addTask(task.state, task.queue, +1);
    auto whole = _wholeJobs.find(task.jobId);
    if (whole != _wholeJobs.end()) {
        // In id order, as a query would give them: ids from IdBlocks need not grow in the
        // order tasks are inserted (threads take their blocks in turn).
        auto& ids = whole->second;
        ids.insert(std::upper_bound(ids.begin(), ids.end(), task.id), task.id);
    }
    return task.id;
}

std::int64_t SociTx::insertRow(IdBlocks::Table table, std::set<std::int64_t>& unwritten,
                               const std::function<std::string(SqlQuery&)>& insert) {
    if (_ids) {
        // The id is known now, so the INSERT can wait for the next WriteBatch.
        const std::int64_t id = _ids->next(_db, table);
        unwritten.insert(id);
        return id;
    }
    SqlQuery query(_db);
    long long id = 0;
    query.into(id);
    query.run(insert(query) + " RETURNING id");
    // A new row: no other transaction can have marked it, nor read it before this COMMIT.
    if (_cache) {
        if (table == IdBlocks::Table::Jobs) {
            _cache->markJob(_marks, id, true);
        } else {
            _cache->markTask(_marks, id);
        }
    }
    return id;
}

void SociTx::addInserts(WriteBatch& batch, const std::string& table, const std::string& columns,
                        size_t count, const std::function<void(size_t, SqlQuery&)>& bindRow) {
    for (size_t start = 0; start < count; start += kInsertChunk) {
        const size_t rows = std::min(kInsertChunk, count - start);
        SqlQuery query(_db);
        for (size_t i = start; i < start + rows; ++i) bindRow(i, query);
        batch.add(query, insertSql(table, columns, rows));
    }
}

void SociTx::bindTask(const Task& task, SqlQuery& query, bool withId) {
    int exitCode = task.exitCode.value_or(0);
    soci::indicator exitCodeIndicator = task.exitCode ? soci::i_ok : soci::i_null;
    if (withId) query.bind(task.id);
    query.bind(task.jobId)
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
}

std::optional<Task> SociTx::findTask(std::int64_t id) {
    // As for jobs (findJob): under the engine's lock a row seen here is still as seen.
    auto seen = _tasksSeen.find(id);
    if (seen != _tasksSeen.end()) return seen->second;
    if (taskFromCache(id)) return _tasksSeen.at(id);
    auto tasks = selectTasks(_db, select("WHERE id = :id"), [&](SqlQuery& q) { q.bind(id); });
    if (tasks.empty()) return std::nullopt;
    _tasksSeen.emplace(id, tasks.front());
    return tasks.front();
}

bool SociTx::taskFromCache(std::int64_t id) {
    auto kept = _cache ? _cache->task(id) : std::nullopt;
    if (!kept) return false;
    _tasksSeen[id] = std::move(*kept);
    return true;
}

void SociTx::forChunksOfIds(
    std::vector<std::int64_t> ids,
    const std::function<void(const std::string&, const std::vector<std::int64_t>&)>& fn) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    static const std::string in = placeholders("i", kIdChunk);
    for (size_t start = 0; start < ids.size(); start += kIdChunk) {
        std::vector<std::int64_t> chunk(ids.begin() + start,
                                        ids.begin() + std::min(ids.size(), start + kIdChunk));
        chunk.resize(kIdChunk, chunk.back());  // repeats match nothing new
        fn(in, chunk);
    }
}

void SociTx::prefetchTasks(const std::vector<std::int64_t>& taskIds) {
    std::vector<std::int64_t> missing;
    for (std::int64_t id : taskIds) {
        if (!_tasksSeen.count(id) && !taskFromCache(id)) missing.push_back(id);
    }
    forChunksOfIds(missing, [&](const std::string& in, const std::vector<std::int64_t>& chunk) {
        auto tasks = selectTasks(_db, select("WHERE id IN (" + in + ")"), [&](SqlQuery& q) {
            q.planWithValues();
            for (std::int64_t id : chunk) q.bind(id);
        });
        for (Task& task : tasks) _tasksSeen.emplace(task.id, std::move(task));
    });
    std::vector<std::int64_t> jobIds;
    for (std::int64_t id : taskIds) {
        auto seen = _tasksSeen.find(id);
        if (seen != _tasksSeen.end()) jobIds.push_back(seen->second.jobId);
    }
    cacheJobs(jobIds);
    // On PostgreSQL, where every query is a round trip: the small jobs' other tasks, so the
    // results' fan-in probes and stage lists need no query each (one-task jobs are most).
    // A fan-out's job is left out; its probe reads a few index entries.
    if (_dialect != Dialect::Postgres) return;
    std::vector<std::int64_t> partial;
    for (std::int64_t jobId : jobIds) {
        if (!wholeJob(jobId) && !(_cache && _cache->bigJob(jobId))) partial.push_back(jobId);
    }
    // Per job, its first kWholeJobTasks + 1 tasks by the (job_id, id) index: a job that
    // fills them all is too big to keep. (A GROUP BY ... HAVING COUNT form was planned as two
    // sequential scans while the table had no statistics yet.)
    static const std::string sql = [] {
        std::string values;
        for (size_t i = 0; i < kIdChunk; ++i) {
            values += std::string(i ? ", " : "") + "(CAST(:j" + std::to_string(i) + " AS BIGINT))";
        }
        return std::string("SELECT t.* FROM (SELECT DISTINCT v.id FROM (VALUES ") + values +
               ") AS v(id)) AS j CROSS JOIN LATERAL (" +
               select("WHERE job_id = j.id ORDER BY id LIMIT :most") + ") AS t";
    }();
    forChunksOfIds(partial, [&](const std::string&, const std::vector<std::int64_t>& chunk) {
        auto rows = selectTasks(_db, sql, [&](SqlQuery& q) {
            for (std::int64_t id : chunk) q.bind(id);
            q.bind(kWholeJobTasks + 1);
        });
        std::map<std::int64_t, std::vector<Task>> byJob;
        for (Task& row : rows) byJob[row.jobId].push_back(std::move(row));
        for (auto& [jobId, tasks] : byJob) {
            if (tasks.size() <= static_cast<size_t>(kWholeJobTasks)) {
                keepWholeJob(jobId, std::move(tasks));
            } else if (_cache) {
                _cache->noteBigJob(jobId);  // the next batches skip this read
            }
        }
    });
}

const std::vector<std::int64_t>* SociTx::wholeJob(std::int64_t jobId) {
    auto whole = _wholeJobs.find(jobId);
    if (whole != _wholeJobs.end()) return &whole->second;
    auto kept = _cache ? _cache->wholeJob(jobId) : std::nullopt;
    if (!kept) return nullptr;
    keepWholeJob(jobId, std::move(*kept));
    return &_wholeJobs.at(jobId);
}

void SociTx::keepWholeJob(std::int64_t jobId, std::vector<Task> rows) {
    std::vector<std::int64_t> ids;
    for (Task& row : rows) {
        ids.push_back(row.id);
        _tasksSeen.emplace(row.id, std::move(row));  // a kept copy is newer than the row
    }
    for (std::int64_t id : _tasksNew) {  // inserted here, not written yet
        if (_tasksSeen.at(id).jobId == jobId) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    _wholeJobs[jobId] = std::move(ids);
}

std::vector<Task> SociTx::withChanges(std::int64_t jobId, std::vector<Task> rows,
                                      const std::function<bool(const Task&)>& wanted) {
    bool changed = false;
    std::vector<Task> out;
    for (Task& row : rows) {
        if (_tasksDirty.count(row.id)) {
            changed = true;  // the kept copy is added below, if it is still wanted
        } else {
            out.push_back(std::move(row));
        }
    }
    for (const auto* unwritten : {&_tasksDirty, &_tasksNew}) {
        for (std::int64_t id : *unwritten) {
            const Task& task = _tasksSeen.at(id);
            if (task.jobId == jobId && wanted(task)) {
                out.push_back(task);
                changed = true;
            }
        }
    }
    if (changed) {
        std::sort(out.begin(), out.end(), [](const Task& a, const Task& b) { return a.id < b.id; });
    }
    return out;
}

std::vector<Task> SociTx::listTasks(std::int64_t jobId) {
    const auto* ids = wholeJob(jobId);
    if (!ids) {
        // Every row: the job is whole from now on, with this transaction's changes laid over.
        keepWholeJob(jobId, selectTasks(_db, select("WHERE job_id = :job_id ORDER BY id"),
                                        [&](SqlQuery& q) { q.bind(jobId); }));
        ids = wholeJob(jobId);
    }
    std::vector<Task> out;
    out.reserve(ids->size());
    for (std::int64_t id : *ids) out.push_back(_tasksSeen.at(id));
    return out;
}

void SociTx::updateTask(const Task& task) {
    auto seen = _tasksSeen.find(task.id);
    if (seen != _tasksSeen.end()) {
        // Written by writeChanges with the other changes (see updateJob). The copy keeps what
        // the UPDATE does not write.
        const std::int64_t jobId = seen->second.jobId;
        const TimeMs createdAt = seen->second.createdAt;
        if (_dialect == Dialect::Postgres && seen->second.state == TaskState::Queued &&
            !_tasksNew.count(task.id)) {
            _tasksKnown = false;  // it may have been claimed since it was read
        }
        _stateChange.addTask(seen->second.state, seen->second.queue, -1);
        _stateChange.addTask(task.state, task.queue, +1);
        seen->second = task;
        seen->second.jobId = jobId;
        seen->second.createdAt = createdAt;
        if (!_tasksNew.count(task.id)) _tasksDirty.insert(task.id);
        return;
    }
    _stageAbsent.clear();  // written now, not among the changes anyStageTask scans
    _tasksKnown = false;   // its old state is not known
    if (_cache) {
        _cache->markTask(_marks, task.id);
        _marks.blindTasks.insert(task.id);  // the caller's copy may not be the whole row
    }
    SqlQuery query(_db);
    query.run(taskUpdate(task, query));
    if (query.affectedRows() == 0) {
        throw NotFoundError("task " + std::to_string(task.id) + " not found");
    }
    _tasksSeen.emplace(task.id, task);
}

void SociTx::addTaskWrites(WriteBatch& batch) {
    if (_cache) {
        for (std::int64_t id : _tasksNew) {
            _cache->markTask(_marks, id);
            _cache->markList(_marks, _tasksSeen.at(id).jobId);
        }
        for (std::int64_t id : _tasksDirty) _cache->markTask(_marks, id);
    }
    const std::vector<std::int64_t> inserted(_tasksNew.begin(), _tasksNew.end());
    addInserts(batch, "tasks", kTaskColumns, inserted.size(), [&](size_t i, SqlQuery& query) {
        bindTask(_tasksSeen.at(inserted[i]), query, true);
    });
    _tasksNew.clear();
    for (std::int64_t id : _tasksDirty) {
        SqlQuery query(_db);
        const std::string sql = taskUpdate(_tasksSeen.at(id), query);
        batch.add(query, sql, "task " + std::to_string(id) + " not found");
    }
    _tasksDirty.clear();
}

void SociTx::writeChanges() {
    if (_jobsNew.empty() && _jobsStored.empty() && _tasksNew.empty() && _tasksDirty.empty() &&
        _claims.empty()) {
        return;
    }
    // Jobs first: a task's row refers to its job's.
    _stageAbsent.clear();  // rows written here leave the unwritten changes anyStageTask scans
    WriteBatch batch(_db);
    addJobWrites(batch);
    addTaskWrites(batch);
    addClaims(batch);
    batch.send();
}

void SociTx::addClaims(WriteBatch& batch) {
    std::vector<PendingClaim> claims;
    claims.swap(_claims);
    for (const PendingClaim& c : claims) {
        SqlQuery query(_db);
        bindClaim(query, c.queues, c.worker, c.limit, c.now, c.leaseUntil);
        std::vector<Task>* out = c.claimed;
        batch.addReturning(query, claimSql(c.queues.size()), [this, out](const PipelineRows& rows) {
            std::vector<Task> tasks;
            for (int r = 0; r < rows.rows(); ++r) tasks.push_back(taskFromRow(rows, r));
            *out = claimed(std::move(tasks));
        });
    }
}

std::string SociTx::taskUpdate(const Task& task, SqlQuery& query) {
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
    return "UPDATE tasks SET stage = :stage, name = :name, kind = :kind, state = :state,"
           " queue = :queue, target_worker = :target_worker, worker = :worker,"
           " attempt = :attempt, max_attempts = :max_attempts, priority = :priority,"
           " builtin = :builtin, command = :command, args = :args, env = :env, inputs = :inputs,"
           " timeout_sec = :timeout_sec, output = :output, message = :message,"
           " exit_code = :exit_code, not_before = :not_before, lease_until = :lease_until,"
           " started_at = :started_at, finished_at = :finished_at WHERE id = :id";
}

std::vector<Task> SociTx::claimTasks(const std::vector<std::string>& queues,
                                     const std::string& worker, int limit, TimeMs now,
                                     TimeMs leaseUntil) {
    if (queues.empty() || limit <= 0) return {};
    writeChanges();
    if (_cache) _cache->claimBegins(_marks);
    commitsNow();
    return claimed(selectTasks(_db, claimSql(queues.size()), [&](SqlQuery& q) {
        bindClaim(q, queues, worker, limit, now, leaseUntil);
    }));
}

void SociTx::claimTasksAtCommit(const std::vector<std::string>& queues, const std::string& worker,
                                int limit, TimeMs now, TimeMs leaseUntil,
                                std::vector<Task>& claimed) {
    // A write that commits as it runs has no COMMIT to wait for, and SQLite no round trip.
    if (_dialect != Dialect::Postgres || _db.commitsEachWrite()) {
        claimed = claimTasks(queues, worker, limit, now, leaseUntil);
        return;
    }
    claimed.clear();
    if (queues.empty() || limit <= 0) return;
    if (_cache) _cache->claimBegins(_marks);
    _claims.push_back({queues, worker, limit, now, leaseUntil, &claimed});
}

void SociTx::bindClaim(SqlQuery& query, const std::vector<std::string>& queues,
                       const std::string& worker, int limit, TimeMs now, TimeMs leaseUntil) {
    query.bind(asInt(TaskState::Assigned)).bind(worker).bind(leaseUntil);
    for (const auto& queue : queues) query.bind(queue);
    query.bind(now).bind(worker).bind(limit);
}

std::string SociTx::claimSql(size_t queues) const {
    // One statement: pick and mark. On PostgreSQL, SKIP LOCKED lets concurrent dispatchers
    // claim disjoint rows instead of queueing behind each other; SQLite serializes writers.
    const std::string lock = _dialect == Dialect::Postgres ? " FOR UPDATE SKIP LOCKED" : "";
    return "UPDATE tasks SET state = :assigned, worker = :worker, lease_until = :lease"
           " WHERE id IN (SELECT id FROM tasks WHERE " +
           kQueuedTerm + " AND queue IN (" + placeholders("q", queues) +
           ") AND not_before <= :now AND (target_worker = '' OR target_worker = :target)"
           " ORDER BY priority, id LIMIT :limit" +
           lock + ") RETURNING " + kTaskColumns;
}

std::vector<Task> SociTx::claimed(std::vector<Task> tasks) {
    // RETURNING gives no order; the contract's order is the selection order.
    std::sort(tasks.begin(), tasks.end(), claimsBefore);
    for (const Task& task : tasks) {
        _stateChange.addTask(TaskState::Queued, task.queue, -1);  // what the claim picked
        _stateChange.addTask(task.state, task.queue, +1);
        _tasksSeen[task.id] = task;
        _marks.claimed.insert(task.id);
    }
    if (!tasks.empty()) _stageAbsent.clear();  // claimed rows are assigned now
    return tasks;
}

int SociTx::renewLeases(const std::string& worker, const std::vector<std::int64_t>& taskIds,
                        TimeMs leaseUntil) {
    writeChanges();
    if (_cache) {
        // Rows this transaction never read: taken out, never put.
        for (std::int64_t id : taskIds) {
            _cache->markTask(_marks, id);
            _marks.blindTasks.insert(id);
        }
    }
    // On PostgreSQL, the rows another transaction holds are left out: that one is storing
    // their results, or claiming, and a renewal that waited for it while holding rows of its
    // own met the batches of results in a deadlock (their UPDATEs take the same rows in
    // another order). Skipped rows are renewed at the next heartbeat, long before their
    // lease ends.
    long long renewed = 0;
    forChunksOfIds(taskIds, [&](const std::string& in, const std::vector<std::int64_t>& chunk) {
        const std::string workersOpenTasks =
            "id IN (" + in + ") AND worker = :worker AND state IN (:assigned, :running)";
        SqlQuery query(_db);
        query.planWithValues();
        query.bind(leaseUntil);
        for (std::int64_t id : chunk) query.bind(id);
        query.bind(worker).bind(asInt(TaskState::Assigned)).bind(asInt(TaskState::Running));
        query.run("UPDATE tasks SET lease_until = :lease WHERE " +
                  (_dialect == Dialect::Postgres ? "id IN (SELECT id FROM tasks WHERE " +
                                                       workersOpenTasks + " FOR UPDATE SKIP LOCKED)"
                                                 : workersOpenTasks));
        renewed += query.affectedRows();
    });
    for (std::int64_t id : taskIds) {
        auto seen = _tasksSeen.find(id);
        if (seen != _tasksSeen.end() && seen->second.worker == worker &&
            (seen->second.state == TaskState::Assigned ||
             seen->second.state == TaskState::Running)) {
            seen->second.leaseUntil = leaseUntil;
        }
    }
    return static_cast<int>(renewed);
}

std::vector<Task> SociTx::expiredLeases(TimeMs now, int limit) {
    writeChanges();
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
    if (const auto* ids = wholeJob(jobId)) {
        std::vector<Task> out;
        for (std::int64_t id : *ids) {
            const Task& task = _tasksSeen.at(id);
            if (inStates(states, task.state)) out.push_back(task);
        }
        return out;
    }
    auto rows = selectTasks(_db,
                            select("WHERE job_id = :job_id AND state IN (" +
                                   placeholders("s", states.size()) + ") ORDER BY id"),
                            [&](SqlQuery& q) {
                                q.bind(jobId);
                                for (TaskState s : states) q.bind(asInt(s));
                            });
    return withChanges(jobId, std::move(rows),
                       [&](const Task& t) { return inStates(states, t.state); });
}

bool SociTx::anyStageTask(std::int64_t jobId, int stage, const std::vector<TaskState>& states) {
    if (states.empty()) return false;
    if (const auto* ids = wholeJob(jobId)) {
        for (std::int64_t id : *ids) {
            const Task& task = _tasksSeen.at(id);
            if (task.stage == stage && inStates(states, task.state)) return true;
        }
        return false;
    }
    // The job's unwritten changes answer for their rows; the query skips those rows.
    std::vector<std::int64_t> changed;
    for (const auto* unwritten : {&_tasksDirty, &_tasksNew}) {
        for (std::int64_t id : *unwritten) {
            const Task& task = _tasksSeen.at(id);
            if (task.jobId != jobId) continue;
            if (task.stage == stage && inStates(states, task.state)) return true;
            if (unwritten == &_tasksDirty) changed.push_back(id);
        }
    }
    // A row an earlier probe of this transaction found answers again while it is still in
    // one of the states: every result of a fan-out probes the same stage. A row this
    // transaction has not touched since is unchanged (the engine's lock); one it touched is
    // kept in _tasksSeen as it is now.
    std::uint32_t mask = 0;
    for (TaskState s : states) mask |= 1u << static_cast<int>(s);
    const auto key = std::make_tuple(jobId, stage, mask);
    auto witness = _stageWitnesses.find(key);
    if (witness != _stageWitnesses.end()) {
        auto seen = _tasksSeen.find(witness->second);
        if (seen == _tasksSeen.end() || (mask >> static_cast<int>(seen->second.state)) & 1u) {
            return true;
        }
        _stageWitnesses.erase(witness);
    }
    // Likewise a probe that found nothing, until this transaction writes a task row (its
    // unwritten changes were scanned above): the failure probe of every fan-out result.
    if (_stageAbsent.count(key)) return false;
    if (_cache) {
        // Across transactions: a kept task of the stage, or a probe of an earlier one that
        // found nothing (as of the last commit: this transaction's own rows are newer).
        auto ownState = [&](std::int64_t id) -> std::optional<TaskState> {
            auto seen = _tasksSeen.find(id);
            if (seen == _tasksSeen.end()) return std::nullopt;
            return seen->second.state;
        };
        if (auto kept = _cache->keptStageTask(jobId, stage, mask, ownState)) {
            _stageWitnesses[key] = *kept;
            return true;
        }
        if (_cache->stageAbsent(jobId, stage, mask)) {
            for (const auto& [id, task] : _tasksSeen) {
                if (task.jobId == jobId && task.stage == stage && inStates(states, task.state)) {
                    _stageWitnesses[key] = id;
                    return true;
                }
            }
            _stageAbsent.insert(key);
            return false;
        }
    }
    if (changed.size() > kMaxSkipped) {
        writeChanges();
        changed.clear();
    }
    SqlQuery query(_db);
    long long found = 0;
    query.into(found).bind(jobId).bind(stage);
    for (TaskState s : states) query.bind(asInt(s));
    for (std::int64_t id : changed) query.bind(id);
    const std::string skip =
        changed.empty() ? "" : " AND id NOT IN (" + placeholders("x", changed.size()) + ")";
    if (!query.run("SELECT id FROM tasks WHERE job_id = :job_id AND stage = :stage AND state IN (" +
                   placeholders("s", states.size()) + ")" + skip + " LIMIT 1")) {
        _stageAbsent.insert(key);
        if (_cache) _cache->probedAbsent(_marks, jobId, stage, mask);
        return false;
    }
    _stageWitnesses[key] = found;
    return true;
}

std::vector<Task> SociTx::undeliveredTargeted(TimeMs before, int limit) {
    writeChanges();
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
    writeChanges();
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

std::array<std::int64_t, StateCounts::kTaskStates> SociTx::countTasksByState() {
    writeChanges();
    std::array<std::int64_t, StateCounts::kTaskStates> counts{};
    SqlQuery query(_db);
    int state = 0;
    long long count = 0;
    query.into(state).into(count);
    if (query.run("SELECT state, COUNT(*) FROM tasks GROUP BY state")) {
        do {
            if (state >= 0 && state < StateCounts::kTaskStates) counts[state] = count;
        } while (query.next());
    }
    return counts;
}

std::optional<std::int64_t> SociTx::queuedTasks(const std::string& queue) {
    if (!_states) return std::nullopt;
    const auto change = stateChangeIfKnown();
    if (!change) return std::nullopt;
    const auto kept = _states->value();
    if (!kept) return std::nullopt;
    std::int64_t queued = 0;
    for (const StateCounts* counts : {&*kept, &*change}) {
        auto it = counts->queues.find(queue);
        if (it != counts->queues.end()) queued += it->second.pending;
    }
    return queued;
}

StateCounts SociTx::countStates() {
    StateCounts counts;
    for (const auto& [state, count] : countJobsByState()) {
        counts.jobs[static_cast<int>(state)] = count;
    }
    counts.failedJobs = countFailedJobs();
    counts.tasks = countTasksByState();
    counts.queues = taskCountsByQueue();
    return counts;
}

}  // namespace te::store
