#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shared/model/Job.h"
#include "shared/model/Task.h"

namespace te::store {

// Job and task rows as this server last committed them, kept across transactions (PostgreSQL):
// a task's result then reads neither its task, nor its job, nor the job's other tasks, three
// round trips under the engine's lock. Only rows a transaction wrote are put, after its
// COMMIT; a row read from the database may be older than another connection's commit.
//
// - Before a transaction sends a write of a row, the row leaves the cache and is marked. After
//   COMMIT the transaction's row is put back, unless another transaction marked the same row
//   while this mark was out: then which write was the last is not known here, and the row
//   stays out.
// - A job's UPDATE writes only the columns it changed, so the row after it may hold another
//   transaction's changes too. It is put only when the transaction read the row from the
//   cache and that version was still the cache's when the write was marked: no one wrote the
//   row in between. Otherwise the job is read from the database again. (A task's UPDATE
//   writes every column it may change.)
// - Queued tasks are never kept, so a claim, which finds its rows only as it changes them,
//   has nothing to take out first. Its rows are put unless a transaction marked one of them
//   after the claim began.
// - Lease renewal names its rows (the tasks the dispatcher sent or holds): they leave as for
//   any write, and are not put, since the renewal never read them.
// - A rollback, or a COMMIT whose outcome is unknown, puts nothing: the next read of those
//   rows goes to the database.
// - A job that ends leaves its tasks and their list; its row stays, for the client's next
//   GET, until kMaxEnded later jobs have ended. Past kMaxRows kept rows, everything leaves.
// A job's list of tasks is kept like a row, for jobs of at most kMaxListed tasks; of a larger
// job, only that it is larger (tasks are never deleted, so it stays larger).
// For a larger job (a fan-out), every batch of results asks whether the stage still has open
// tasks and whether one failed (anyStageTask), a query each. A kept task answers the first
// while one of the stage's tasks is kept open. A probe that found nothing is kept, and
// answers until a commit writes a task of that stage into one of those states; it is put
// only when no other transaction wrote a task between the probe and the COMMIT, and only for
// states a claim cannot enter unseen (with assigned, queued too).
//
// Like KeptCount, it assumes this server is the database's only writer. Thread-safe.
class RowCache {
public:
    // What one transaction marked and claimed; it passes them back at its end.
    struct Marks {
        std::set<std::int64_t> jobs, tasks, lists;
        // Of `jobs`: those whose row the transaction knows as written, the only ones put
        // (inserted here, or updated over the version read from the cache).
        std::set<std::int64_t> exactJobs;
        // Marked tasks whose whole value the transaction does not know (a row it never
        // read): taken out, never put.
        std::set<std::int64_t> blindTasks;
        std::optional<std::uint64_t> claimSince;  // the clock when its first claim began
        std::set<std::int64_t> claimed;
        // Probes that found no task of a stage in some states, with the count of other
        // transactions' task marks at the probe (see probedAbsent).
        struct Absence {
            std::int64_t jobId = 0;
            int stage = 0;
            std::uint32_t states = 0;  // bits by TaskState
            std::uint64_t othersMarked = 0;
        };
        std::vector<Absence> absences;
        bool ended = false;
    };

    static constexpr size_t kMaxRows = 50000;
    static constexpr size_t kMaxListed = 32;
    static constexpr size_t kMaxEnded = 1024;

    // `version`, when given, receives the row's version, for markJob.
    std::optional<Job> job(std::int64_t id, std::uint64_t* version = nullptr) const;
    std::optional<Task> task(std::int64_t id) const;
    // Every task of the job in id order, when the list and all its rows are kept.
    std::optional<std::vector<Task>> wholeJob(std::int64_t jobId) const;
    // The job has more than kMaxListed tasks (a fan-out): reading it whole is no use.
    bool bigJob(std::int64_t jobId) const;
    void noteBigJob(std::int64_t jobId);

    // A kept task of the stage whose state is in `states` (bits by TaskState; only open
    // states are looked up). ownState gives the transaction's view of a row it holds, which
    // wins over the kept one.
    std::optional<std::int64_t> keptStageTask(
        std::int64_t jobId, int stage, std::uint32_t states,
        const std::function<std::optional<TaskState>(std::int64_t)>& ownState) const;
    // A committed probe found no task of the stage in `states`, and no commit has written one
    // into them since.
    bool stageAbsent(std::int64_t jobId, int stage, std::uint32_t states) const;
    // The transaction's probe found no such task; committed() puts it when it still holds.
    void probedAbsent(Marks& marks, std::int64_t jobId, int stage, std::uint32_t states);

    // Before the write of a row (or of a task of the job, for its list) is sent. inserted:
    // the job's INSERT; readVersion: the version of the row the transaction read from the
    // cache, if it did.
    void markJob(Marks& marks, std::int64_t id, bool inserted,
                 std::optional<std::uint64_t> readVersion = std::nullopt);
    void markTask(Marks& marks, std::int64_t id);
    void markList(Marks& marks, std::int64_t jobId);
    // Before a claim's statement; the claimed ids go into marks.claimed after it.
    void claimBegins(Marks& marks);

    // After COMMIT, with the rows as the transaction holds them (after its writes) and the
    // task lists of the jobs it holds whole. Only the marked and claimed ids are looked up;
    // one missing from the maps is not put.
    void committed(Marks& marks, const std::unordered_map<std::int64_t, Job>& jobs,
                   const std::unordered_map<std::int64_t, Task>& tasks,
                   const std::unordered_map<std::int64_t, std::vector<std::int64_t>>& lists);
    // After a rollback, or a COMMIT whose outcome is unknown.
    void abandoned(Marks& marks);

    size_t size() const;
    // Every row leaves (the marks stay with their transactions).
    void clear();

private:
    struct Mark {
        int out = 0;             // transactions holding it
        bool contested = false;  // two held it at once
    };
    using MarkMap = std::unordered_map<std::int64_t, Mark>;
    void mark(MarkMap& map, std::int64_t id);
    // Releases the mark; true when the transaction's row may be put.
    bool release(MarkMap& map, std::int64_t id);
    void end(Marks& marks);
    void putTask(const Task& task);
    void eraseTask(std::int64_t id);
    void eraseJob(std::int64_t id);
    void eraseAll();

    mutable std::mutex _mutex;
    std::uint64_t _clock = 0;
    struct KeptJob {
        Job row;
        std::uint64_t version = 0;  // the clock when put
    };
    std::unordered_map<std::int64_t, KeptJob> _jobs;
    std::deque<std::int64_t> _ended;  // jobs put ended, oldest first
    std::unordered_map<std::int64_t, Task> _tasks;
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> _lists;
    std::unordered_set<std::int64_t> _bigJobs;
    std::unordered_map<std::int64_t, std::set<std::int64_t>> _keptOfJob;  // for eviction
    // Of those, the open ones (waiting, assigned, running; queued ones are never kept).
    std::unordered_map<std::int64_t, std::set<std::int64_t>> _openOfJob;
    std::set<std::tuple<std::int64_t, int, std::uint32_t>> _absent;  // job, stage, states
    std::uint64_t _taskMarksTaken = 0;                               // ever
    std::int64_t _taskMarksOut = 0;  // by transactions not ended yet
    MarkMap _jobMarks, _taskMarks, _listMarks;
    // While claims are out: task id -> the clock of its last mark.
    int _claiming = 0;
    std::unordered_map<std::int64_t, std::uint64_t> _markedWhileClaiming;
};

}  // namespace te::store
