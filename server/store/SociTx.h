#pragma once

#include <soci/soci.h>

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "server/store/Migrations.h"
#include "server/store/RowCache.h"
#include "server/store/SqlQuery.h"
#include "server/store/Store.h"

namespace te::store {

// PostgreSQL: ids for new jobs and tasks, taken from their sequences a block at a time and
// handed out in order, so that an INSERT need not return its id and can wait in a WriteBatch.
// Ids a server took but never used (its exit, a transaction rolled back) are skipped, as
// sequences skip them anyway. Thread-safe.
class IdBlocks {
public:
    enum class Table { Jobs, Tasks };
    std::int64_t next(Connection& db, Table table);
    // Each block is a round trip, mostly inside a submission's transaction: at 64, one job
    // in 32 paid for one (a task takes an id too). A restart skips up to this many ids. The
    // sequences' step (migration 6).
    static constexpr int kBlock = 256;

private:
    std::mutex _mutex;
    std::deque<std::int64_t> _free[2];
};

// A count as last committed, kept across transactions: admission asks in every batch how
// many jobs are started and which are queued, and each answer walks an index (dead entries
// too, on PostgreSQL, until a vacuum); GET /health counts every job and task. Each
// transaction adds its change at COMMIT. A count read from the database is kept only when no
// transaction that changes the count was committing from just before the read until this
// transaction's own COMMIT was done: such a commit may or may not be in what was read. With
// one writer (SQLite) that never happens; on PostgreSQL several writer connections may commit
// at once. V is std::int64_t or StateCounts (all of /health's counts at once). Thread-safe.
template <class V>
class Kept {
public:
    // The count, when known.
    std::optional<V> value() const;
    // Before a transaction reads the count from the database.
    struct Ticket {
        std::uint64_t generation = 0;
        bool clean = false;  // no commit was going on
    };
    Ticket beforeRead() const;
    // Around the COMMIT of a transaction whose change to the count is `change` (nullopt:
    // unknown), which read `read` (the count before its own change) with `ticket`, if it
    // read one. committing returns what committed takes. A transaction that only read the
    // count passes a change of zero. A write that commits as it runs (Connection::
    // oneWriteOnly) calls committing before it, with nullopt, and committed with its change.
    struct Commit {
        std::uint64_t generation = 0;
        bool counted = false;  // a commit other reads must not miss
    };
    Commit committing(const std::optional<V>& change);
    void committed(const std::optional<V>& change, const Commit& mine, const std::optional<V>& read,
                   const Ticket& ticket);
    // COMMIT failed without saying whether it happened.
    void commitLost(const Commit& mine);

private:
    mutable std::mutex _mutex;
    std::optional<V> _value;
    std::uint64_t _generation = 0;  // commits that change the count, begun so far
    int _committing = 0;            // of those, not done yet
};
using KeptCount = Kept<std::int64_t>;

// The kept counts a writer's transactions follow.
struct KeptCounts {
    KeptCount started;
    KeptCount queued;
    Kept<StateCounts> states;
};

// The Tx of SociStore: every method is one or two SQL statements on the session whose
// transaction SociStore::transact opened. All SQL of the project lives in the SociTx*.cpp
// files, split by area (jobs, tasks, logs/settings/schedules, outbox).
//
// Rows the transaction read or wrote are kept, and reads by id are answered from them: the
// engine's lock keeps other writers away for the transaction. Updates of kept rows are
// written later, together (WriteBatch: one round trip on PostgreSQL), before any query their
// changes could answer differently and before COMMIT. The few queries of one job's tasks
// (listTasks, tasksInStates, anyStageTask) lay the unwritten changes over what they read
// instead, so a task's result does not cost a write of its own.
// Not thread-safe: used by the one thread that runs the transaction.
class SociTx : public Tx {
public:
    // `counts`, when given, are the counts of started and of queued jobs as last committed,
    // kept by the store across transactions; see countJobsInState, queuedJobs and
    // committing/committed.
    // `ids`, when given, hands out the ids of new jobs and tasks, whose INSERTs then wait
    // for the next WriteBatch like the updates (PostgreSQL; SQLite has no round trips to save).
    // `cache`, when given, answers reads by id across transactions and takes this
    // transaction's rows after its COMMIT (RowCache; PostgreSQL, where a read is a round trip).
    explicit SociTx(Connection& db, KeptCounts* counts = nullptr, IdBlocks* ids = nullptr,
                    RowCache* cache = nullptr)
        : _db(db),
          _dialect(db.dialect()),
          _started(counts ? &counts->started : nullptr),
          _queued(counts ? &counts->queued : nullptr),
          _states(counts ? &counts->states : nullptr),
          _ids(ids),
          _cache(cache) {}
    // Without committed(), the rows it marked stay out of the cache.
    ~SociTx() override;

    std::int64_t insertJob(Job& job) override;
    std::optional<Job> findJob(std::int64_t id) override;
    std::vector<Job> listJobs(const JobFilter& filter) override;
    void updateJob(Job& job) override;
    std::vector<Job> queuedJobs(int limit) override;
    std::int64_t queuePosition(const Job& job) override;
    std::vector<Job> jobsDue(JobState state, TimeMs before, int limit) override;
    std::map<JobState, std::int64_t> countJobsByState() override;
    std::int64_t countFailedJobs() override;
    std::int64_t countStartedBelowPriority(int threshold) override;
    std::int64_t countJobsInState(JobState state) override;

    std::int64_t insertTask(Task& task) override;
    std::optional<Task> findTask(std::int64_t id) override;
    void prefetchTasks(const std::vector<std::int64_t>& taskIds) override;
    std::vector<Task> listTasks(std::int64_t jobId) override;
    void updateTask(const Task& task) override;
    std::vector<Task> claimTasks(const std::vector<std::string>& queues, const std::string& worker,
                                 int limit, TimeMs now, TimeMs leaseUntil) override;
    void claimTasksAtCommit(const std::vector<std::string>& queues, const std::string& worker,
                            int limit, TimeMs now, TimeMs leaseUntil,
                            std::vector<Task>& claimed) override;
    int renewLeases(const std::string& worker, const std::vector<std::int64_t>& taskIds,
                    TimeMs leaseUntil) override;
    std::vector<Task> expiredLeases(TimeMs now, int limit) override;
    bool anyStageTask(std::int64_t jobId, int stage, const std::vector<TaskState>& states) override;
    std::vector<Task> tasksInStates(std::int64_t jobId,
                                    const std::vector<TaskState>& states) override;
    std::vector<Task> undeliveredTargeted(TimeMs before, int limit) override;
    std::map<std::string, QueueCounts> taskCountsByQueue() override;
    std::optional<std::int64_t> queuedTasks(const std::string& queue) override;
    StateCounts countStates() override;

    void appendLog(LogEntry& entry) override;
    std::vector<LogEntry> listLogs(std::int64_t jobId, int limit) override;

    std::map<std::string, std::string> settings() override;
    void putSetting(const std::string& name, const std::string& value) override;

    std::vector<Schedule> schedules() override;
    void ensureSchedule(const Schedule& schedule) override;
    void setScheduleActive(const std::string& name, bool active) override;

    std::int64_t enqueueCallback(CallbackEvent& event) override;
    std::vector<CallbackEvent> dueCallbacks(TimeMs now, int limit) override;
    void updateCallback(const CallbackEvent& event) override;
    std::vector<CallbackEvent> listCallbacks(std::int64_t jobId) override;
    CallbackCounts callbackCounts() override;

    // Writes what is not written yet (updates, log rows); SociStore calls it before COMMIT.
    // thenCommit: see WriteBatch::send, whose answer it returns.
    bool flush(bool thenCommit = false);
    // Just before COMMIT, after it, and when its outcome is unknown: keep the counts of
    // started and queued jobs up to date.
    void committing();
    void committed();
    void commitLost();
    // The first job this transaction inserted with an id from IdBlocks (PostgreSQL): its row
    // exists exactly when the transaction committed.
    std::optional<std::int64_t> firstNewJob() const { return _firstNewJob; }

    // IN lists of ids go in chunks of this many placeholders.
    static constexpr size_t kIdChunk = 16;
    // anyStageTask skips up to this many changed rows of the job; past it, it writes them.
    static constexpr size_t kMaxSkipped = 8;
    // prefetchTasks reads every task of the batch's jobs that have at most this many.
    static constexpr int kWholeJobTasks = 32;
    // Rows a multi-row INSERT holds; fewer rows make other texts, up to this many of them.
    static constexpr size_t kInsertChunk = 16;
    // PostgreSQL: up to this many log entries of one job, appended in one transaction, share
    // a row: the first in its columns, the others in `more` (JSON), numbered id + 1, id + 2,
    // ... The logs' sequence steps by this much (migration 7). A row and its index entry
    // were 2 of a job's ~45 WAL records each, for 7 entries a job.
    static constexpr size_t kLogPack = 16;

private:
    std::array<std::int64_t, StateCounts::kTaskStates> countTasksByState();
    // The UPDATE of a job (only what differs from `before`, all columns without it) or a
    // task, with its values bound to query.
    std::string jobUpdate(const Job& job, const Job* before, SqlQuery& query);
    std::string taskUpdate(const Task& task, SqlQuery& query);
    // Bind the values of a job's or task's INSERT, in column order (kJobColumns,
    // kTaskColumns); withId: with its id (from _ids) first, else the table gives it one.
    static void bindJob(const Job& job, SqlQuery& query, bool withId);
    static void bindTask(const Task& task, SqlQuery& query, bool withId);
    // The INSERTs of `count` new rows, at most kInsertChunk rows a statement: on PostgreSQL
    // the cost of a statement as such (binding, the executor's start) was most of a one-row
    // INSERT's. bindRow(i, query) binds row i's values in the order of `columns`.
    void addInserts(WriteBatch& batch, const std::string& table, const std::string& columns,
                    size_t count, const std::function<void(size_t, SqlQuery&)>& bindRow);
    // The id of a new row: with _ids, taken from them, and its INSERT waits in `unwritten`;
    // without, the INSERT `insert` builds (its SQL, with values bound to the query) runs now.
    std::int64_t insertRow(IdBlocks::Table table, std::set<std::int64_t>& unwritten,
                           const std::function<std::string(SqlQuery&)>& insert);
    // The unwritten updates into batch (add*), or written now (write*).
    void addJobWrites(WriteBatch& batch);
    void addTaskWrites(WriteBatch& batch);
    // The claims waiting for COMMIT (claimTasksAtCommit), after the writes they must see.
    void addClaims(WriteBatch& batch);
    // The log rows appended since the last flush.
    void addLogs(WriteBatch& batch);
    // A claim's SQL for this many queues, and its values, in the order of its placeholders.
    std::string claimSql(size_t queues) const;
    static void bindClaim(SqlQuery& query, const std::vector<std::string>& queues,
                          const std::string& worker, int limit, TimeMs now, TimeMs leaseUntil);
    // What a claim found, in the contract's order, with the transaction's bookkeeping done.
    std::vector<Task> claimed(std::vector<Task> tasks);
    void writeChanges();
    // Reads the jobs not kept yet.
    void cacheJobs(const std::vector<std::int64_t>& ids);
    // Keeps the row as the cache holds it (a job with the version read, for markJob); false
    // when there is no cache or it has no such row.
    bool jobFromCache(std::int64_t id);
    bool taskFromCache(std::int64_t id);
    // Task rows of job `jobId` as the database holds them, with this transaction's unwritten
    // changes laid over: a changed row is replaced by its kept copy, if still `wanted`.
    std::vector<Task> withChanges(std::int64_t jobId, std::vector<Task> rows,
                                  const std::function<bool(const Task&)>& wanted);
    // The kept tasks of a job whose every task is kept (here, or in the cache), in id order;
    // null for other jobs.
    const std::vector<std::int64_t>* wholeJob(std::int64_t jobId);
    // Keeps `rows`, every row of the job as the database holds them (kept copies win), and
    // marks the job whole.
    void keepWholeJob(std::int64_t jobId, std::vector<Task> rows);
    // Calls fn with an IN list of kIdChunk placeholders and the ids for it, per chunk of
    // the distinct ids; the last chunk repeats its last id, so one text serves every count.
    static void forChunksOfIds(
        std::vector<std::int64_t> ids,
        const std::function<void(const std::string&, const std::vector<std::int64_t>&)>& fn);

    Connection& _db;
    Dialect _dialect;
    // A job writes several log rows per transaction (7 for a one-task job); one multi-row
    // INSERT instead of one statement each saves a round trip per row on PostgreSQL.
    std::vector<LogEntry> _logs;
    // Jobs as this transaction last read or wrote them, so updateJob sets only what changed.
    // Only updateJob writes job rows, so the copies stay true for the transaction.
    std::unordered_map<std::int64_t, Job> _jobsSeen;
    std::unordered_map<std::int64_t, Task> _tasksSeen;
    // Jobs updated but not written: the row as stored (the copy in _jobsSeen is the new one).
    std::map<std::int64_t, Job> _jobsStored;
    // Tasks updated but not written; _tasksSeen holds their new values.
    std::set<std::int64_t> _tasksDirty;
    // Jobs and tasks inserted but not written (with ids from _ids); kept in _*Seen.
    std::set<std::int64_t> _jobsNew;
    std::set<std::int64_t> _tasksNew;
    std::optional<std::int64_t> _firstNewJob;
    // Jobs whose every task row is in _tasksSeen (read in full, or the job inserted here), and
    // the ids of those tasks: listTasks, tasksInStates and anyStageTask answer for them
    // without a query. A one-task job's result then costs no read of its job's tasks (the
    // fan-in probe and the stage's list were two round trips on PostgreSQL). Only insertTask
    // adds a task to a job; claimTasks and renewLeases update the kept copies they change.
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> _wholeJobs;
    // anyStageTask's finds: (job, stage, states as bits) -> a task that was in those states.
    std::map<std::tuple<std::int64_t, int, std::uint32_t>, std::int64_t> _stageWitnesses;
    // anyStageTask's probes that found nothing, true until a task row is written.
    std::set<std::tuple<std::int64_t, int, std::uint32_t>> _stageAbsent;
    // Admission counts the started jobs and reads the queue in every batch. So both counts
    // are kept (KeptCount): this transaction's change to each, known while every job it wrote
    // was seen first (an unseen row's old state is unknown), and the count before it, once
    // read. A known queued count of 0 spares the queue's read.
    struct CountInTx {
        explicit CountInTx(KeptCount* count) : kept(count) {}
        KeptCount* kept;
        std::int64_t change = 0;
        std::optional<std::int64_t> before;
        KeptCount::Ticket ticket;
        KeptCount::Commit commit;
    };
    CountInTx _started;
    CountInTx _queued;
    std::optional<std::int64_t> changeIfKnown(const CountInTx& count) const;
    bool _changesKnown = true;
    // GET /health's counts (KeptCounts::states): this transaction's change, known while every
    // job and task it wrote was seen first, as for the counts above. On PostgreSQL a task seen
    // queued may have been claimed since on a claims connection, and a write over it would
    // count it out of the wrong state: its change is not known either.
    Kept<StateCounts>* _states;
    StateCounts _stateChange;
    bool _tasksKnown = true;
    Kept<StateCounts>::Commit _statesCommit;
    bool _statesCommitting = false;  // committing() was called for them already
    std::optional<StateCounts> stateChangeIfKnown() const;
    // Before a write that commits as it runs (oneWriteOnly): a read of the counts that sees
    // it must not be kept, and this transaction's change is added at its committed().
    void commitsNow();
    // Some job row of this transaction was written: the database's rows are no longer the
    // last commit's.
    bool _jobsWritten = false;
    IdBlocks* _ids;
    RowCache* _cache;
    RowCache::Marks _marks;
    // Claims that go with the next batch of writes (claimTasksAtCommit).
    struct PendingClaim {
        std::vector<std::string> queues;
        std::string worker;
        int limit = 0;
        TimeMs now = 0;
        TimeMs leaseUntil = 0;
        std::vector<Task>* claimed = nullptr;
    };
    std::vector<PendingClaim> _claims;
    // Jobs read from the cache: the version read (RowCache::markJob).
    std::unordered_map<std::int64_t, std::uint64_t> _jobVersions;
};

}  // namespace te::store
