#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shared/model/CallbackEvent.h"
#include "shared/model/Job.h"
#include "shared/model/LogEntry.h"
#include "shared/model/Schedule.h"
#include "shared/model/Task.h"

namespace te {

// GET /jobs filters. Every field is optional; the defaults give "the last 10 jobs".
struct JobFilter {
    int limit = 10;              // 1..1000 (the HTTP layer validates)
    std::string orderBy = "id";  // one of Store::sortableJobColumns(); anything else throws
    bool asc = false;
    std::vector<JobState> states;      // empty: any
    std::optional<TimeMs> from;        // created_at >= from
    std::optional<TimeMs> to;          // created_at <= to
    std::optional<bool> failed;        // true: completed and failed; false: not failed
    std::string search;                // exact content_id
    std::vector<std::int64_t> jobIds;  // empty: any
    std::string client;                // empty: any
    std::optional<bool> persist;
};

struct QueueCounts {
    std::int64_t pending = 0;  // queued tasks, ready or waiting out a retry delay
    std::int64_t working = 0;  // assigned or running
};

struct TaskTotals {
    std::int64_t failed = 0;     // tasks in state failed
    std::int64_t pending = 0;    // queued + assigned + running
    std::int64_t processed = 0;  // completed + failed + retried + incomplete
};

// What GET /health counts: every job by state, every task by state, and each queue's open
// tasks. A server keeps them between transactions (SociStore) rather than count a table of
// millions at every request.
struct StateCounts {
    static constexpr int kJobStates = static_cast<int>(JobState::Paused) + 1;
    static constexpr int kTaskStates = static_cast<int>(TaskState::Cancelled) + 1;
    std::array<std::int64_t, kJobStates> jobs{};    // by JobState
    std::int64_t failedJobs = 0;                    // completed and failed
    std::array<std::int64_t, kTaskStates> tasks{};  // by TaskState
    std::map<std::string, QueueCounts> queues;      // only queues with an open task

    TaskTotals totals() const;
    // One job or task entering (+1) or leaving (-1) a state.
    void addJob(const Job& job, int sign);
    void addTask(TaskState state, const std::string& queue, int sign);
    StateCounts& operator+=(const StateCounts& change);
    bool isZero() const;  // changes nothing
};

struct CallbackCounts {
    std::int64_t pending = 0;
    std::int64_t delivered = 0;
    std::int64_t dead = 0;
};

// One unit of work against the database. Every method runs inside the transaction that
// Store::transact opened; nothing is visible to others until the function returns.
// Methods throw StoreError on database faults and NotFoundError where they say so.
class Tx {
public:
    virtual ~Tx() = default;

    // --- jobs ---
    // Sets job.id, createdAt/updatedAt (now, unless already set) and returns the id.
    virtual std::int64_t insertJob(Job& job) = 0;
    virtual std::optional<Job> findJob(std::int64_t id) = 0;
    virtual std::vector<Job> listJobs(const JobFilter& filter) = 0;
    // Writes every mutable field of the job (all but id, client, workflow, createdAt) and sets
    // updatedAt to now. Throws NotFoundError if the id is unknown.
    virtual void updateJob(Job& job) = 0;
    // Queued jobs in admission order: priority ascending, then runAt, then id.
    virtual std::vector<Job> queuedJobs(int limit) = 0;
    // 1-based place of a queued job in admission order; 0 for a job that is not queued.
    virtual std::int64_t queuePosition(const Job& job) = 0;
    // Jobs in `state` (Scheduled or Pending; other states find nothing) whose runAt <= before
    // (the scheduler's query), oldest runAt first.
    virtual std::vector<Job> jobsDue(JobState state, TimeMs before, int limit) = 0;
    virtual std::map<JobState, std::int64_t> countJobsByState() = 0;
    virtual std::int64_t countFailedJobs() = 0;
    // Started jobs that are priority jobs (priority < threshold).
    virtual std::int64_t countStartedBelowPriority(int threshold) = 0;
    // Jobs in one state: an index range, unlike countJobsByState, which reads every job.
    virtual std::int64_t countJobsInState(JobState state) = 0;

    // --- tasks ---
    // Sets task.id and createdAt (now, unless set).
    virtual std::int64_t insertTask(Task& task) = 0;
    virtual std::optional<Task> findTask(std::int64_t id) = 0;
    // A hint that findTask (and findJob of their jobs) will be asked for these tasks next:
    // a store that pays per statement may read them all at once. Changes nothing visible.
    virtual void prefetchTasks(const std::vector<std::int64_t>& taskIds) { (void)taskIds; }
    // All rows of a job, ordered by id (so by stage, then creation).
    virtual std::vector<Task> listTasks(std::int64_t jobId) = 0;
    // Writes every mutable field. Throws NotFoundError if the id is unknown.
    virtual void updateTask(const Task& task) = 0;
    // Moves up to `limit` queued tasks of the given queues with notBefore <= now and an empty
    // or matching targetWorker to Assigned for `worker`, with leaseUntil, attempt count kept.
    // Order: priority ascending, then id. On PostgreSQL uses FOR UPDATE SKIP LOCKED.
    virtual std::vector<Task> claimTasks(const std::vector<std::string>& queues,
                                         const std::string& worker, int limit, TimeMs now,
                                         TimeMs leaseUntil) = 0;
    // The same claim, which may wait for the transaction's COMMIT and go with it (PostgreSQL:
    // in its round trip, where a claim of its own was one more under the engine's lock).
    // `claimed` holds the tasks once the transaction has committed; it must live until then.
    // A later read of the transaction sends the claim first, so it sees the claim's work; a
    // later write may go before the claim. Meant for the transaction's last statements.
    virtual void claimTasksAtCommit(const std::vector<std::string>& queues,
                                    const std::string& worker, int limit, TimeMs now,
                                    TimeMs leaseUntil, std::vector<Task>& claimed) {
        claimed = claimTasks(queues, worker, limit, now, leaseUntil);
    }
    // Extends the leases of those of `taskIds` that `worker` still holds (assigned or
    // running); returns how many. Named, not every task of the worker: a task the store
    // assigned to it without the dispatcher knowing (a claim whose COMMIT got no answer, a
    // reserve of a server that restarted) then runs out its lease and is queued again.
    virtual int renewLeases(const std::string& worker, const std::vector<std::int64_t>& taskIds,
                            TimeMs leaseUntil) = 0;
    // Assigned/running tasks whose lease ended before `now`.
    virtual std::vector<Task> expiredLeases(TimeMs now, int limit) = 0;
    // Tasks of a job in the given states.
    virtual std::vector<Task> tasksInStates(std::int64_t jobId,
                                            const std::vector<TaskState>& states) = 0;
    // Whether any task of one stage of a job is in the given states (false for an empty
    // list). The engine asks it on every task result of a fan-out: one index probe, where a
    // count walked every open task of the stage each time (quadratic in the fan-out).
    virtual bool anyStageTask(std::int64_t jobId, int stage,
                              const std::vector<TaskState>& states) = 0;
    // Queued targeted tasks (targetWorker set) created before `before`: the broadcast timeout.
    virtual std::vector<Task> undeliveredTargeted(TimeMs before, int limit) = 0;
    virtual std::map<std::string, QueueCounts> taskCountsByQueue() = 0;
    // The queued tasks of `queue` (QueueCounts::pending) as this transaction would commit
    // them, when that is known without a query: the count kept since the last commit plus
    // this transaction's change. Unknown (nullopt) by default, and whenever the store does
    // not keep the count or this transaction changed a row it had not read.
    virtual std::optional<std::int64_t> queuedTasks(const std::string& queue) {
        (void)queue;
        return std::nullopt;
    }
    // Every count of StateCounts, from the tables.
    virtual StateCounts countStates() = 0;

    // --- logs ---
    // Sets entry.createdAt (now, unless set). The row may be written only when the
    // transaction commits (several in one statement), but listLogs sees it at once; a job's
    // entries get ids in the order they were appended.
    virtual void appendLog(LogEntry& entry) = 0;
    // Oldest first. limit 0: all.
    virtual std::vector<LogEntry> listLogs(std::int64_t jobId, int limit) = 0;

    // --- settings ---
    virtual std::map<std::string, std::string> settings() = 0;
    virtual void putSetting(const std::string& name, const std::string& value) = 0;

    // --- schedules ---
    virtual std::vector<Schedule> schedules() = 0;
    // Inserts the schedule if its name is new; an existing row keeps its `active` flag (it was
    // set through PUT /scheduler and must survive restarts) but takes the other fields.
    virtual void ensureSchedule(const Schedule& schedule) = 0;
    // Throws NotFoundError for an unknown name.
    virtual void setScheduleActive(const std::string& name, bool active) = 0;

    // --- callback outbox ---
    // Sets event.id and createdAt/nextAttemptAt (now, unless set).
    virtual std::int64_t enqueueCallback(CallbackEvent& event) = 0;
    // Pending events with nextAttemptAt <= now that are the oldest pending event of their
    // (jobId, url) pair, so delivery stays in order per job and endpoint. Oldest first.
    virtual std::vector<CallbackEvent> dueCallbacks(TimeMs now, int limit) = 0;
    // Writes state, attempts, lastError, nextAttemptAt, deliveredAt.
    virtual void updateCallback(const CallbackEvent& event) = 0;
    virtual std::vector<CallbackEvent> listCallbacks(std::int64_t jobId) = 0;
    virtual CallbackCounts callbackCounts() = 0;
};

// The database. Thread-safe: any thread may call transact at any time.
class Store {
public:
    virtual ~Store() = default;

    // Opens "sqlite3://db=PATH" (WAL mode; the folder is created) or "postgresql://..." and
    // applies pending schema migrations. Throws StoreError with a one-line reason.
    // With `exclusive` (the server's), it first takes the database for this process alone
    // until the store is destroyed, waiting that long for a holder that is going away; a
    // database another process holds so throws StoreError naming it (OwnerLock).
    static std::unique_ptr<Store> open(
        const std::string& url, std::optional<std::chrono::milliseconds> exclusive = std::nullopt);

    // Runs fn in one transaction and commits; rolls back if fn throws and rethrows. When the
    // connection was lost (database restarted) it reconnects and runs fn again, up to a few
    // times, so fn must have no effect outside the transaction before it returns. fn must not
    // call transact itself (on SQLite the one writer connection would deadlock). A connection
    // lost during COMMIT may run fn again although the first commit went through.
    virtual void transact(const std::function<void(Tx&)>& fn) = 0;

    // As transact, for fn whose only write is one statement (reads may come before it): on
    // PostgreSQL that statement is a transaction by itself, without BEGIN and COMMIT, one
    // round trip where they made three. A second write throws StoreError before it is sent.
    // fn must not throw after its write: that is committed already. On PostgreSQL the commit
    // does not wait for the disk: a crash of the database may forget it, so use it only for
    // writes the engine recovers from (the dispatcher's claims: the task runs again).
    virtual void transactOneWrite(const std::function<void(Tx&)>& fn) { transact(fn); }

    // Runs fn, which only reads, in a transaction of its own. On SQLite that is one
    // consistent snapshot, on a reader connection beside the writer, so GET requests never
    // wait behind the engine's writes; a write in fn fails with StoreError there. On
    // PostgreSQL (READ COMMITTED) each statement sees the last commit when it begins.
    virtual void read(const std::function<void(Tx&)>& fn) { transact(fn); }

    // The counts GET /health shows, as last committed. This base version, a wrapper's (the
    // tests' FaultyStore), counts them every time (Tx::countStates: several index scans,
    // 30-40 ms at a million jobs).
    virtual StateCounts stateCounts();

    // "sqlite3" or "postgresql".
    virtual std::string backend() const = 0;
    // SELECT 1 on a connection; false when the database is down.
    virtual bool ping() = 0;
    virtual int schemaVersion() = 0;

    // The columns GET /jobs may order by.
    static const std::vector<std::string>& sortableJobColumns();
};

}  // namespace te
