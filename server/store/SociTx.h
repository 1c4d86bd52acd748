#pragma once

#include <soci/soci.h>

#include <optional>
#include <unordered_map>
#include <vector>

#include "server/store/Migrations.h"
#include "server/store/SqlQuery.h"
#include "server/store/Store.h"

namespace te::store {

// The Tx of SociStore: every method is one or two SQL statements on the session whose
// transaction SociStore::transact opened. All SQL of the project lives in the SociTx*.cpp
// files, split by area (jobs, tasks, logs/settings/schedules, outbox).
// Not thread-safe: used by the one thread that runs the transaction.
class SociTx : public Tx {
public:
    // `startedJobs`, when given, is the count of started jobs as last committed, kept by
    // the store across transactions (SQLite's one writer: nothing else changes it); see
    // countJobsInState and committed.
    explicit SociTx(Connection& db, std::optional<std::int64_t>* startedJobs = nullptr)
        : _db(db), _dialect(db.dialect()), _startedJobs(startedJobs) {}

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
    std::vector<Task> listTasks(std::int64_t jobId) override;
    void updateTask(const Task& task) override;
    std::vector<Task> claimTasks(const std::vector<std::string>& queues, const std::string& worker,
                                 int limit, TimeMs now, TimeMs leaseUntil) override;
    int renewLeases(const std::string& worker, TimeMs leaseUntil) override;
    std::vector<Task> expiredLeases(TimeMs now, int limit) override;
    bool anyStageTask(std::int64_t jobId, int stage, const std::vector<TaskState>& states) override;
    std::vector<Task> tasksInStates(std::int64_t jobId,
                                    const std::vector<TaskState>& states) override;
    std::vector<Task> undeliveredTargeted(TimeMs before, int limit) override;
    std::map<std::string, QueueCounts> taskCountsByQueue() override;
    TaskTotals taskTotals() override;

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

    // Writes the log rows appendLog kept; SociStore calls it before COMMIT.
    void flush();
    // After COMMIT: brings the kept count of started jobs up to date.
    void committed();

private:
    Connection& _db;
    Dialect _dialect;
    // A job writes several log rows per transaction (7 for a one-task job); one multi-row
    // INSERT instead of one statement each saves a round trip per row on PostgreSQL.
    std::vector<LogEntry> _logs;
    // Jobs as this transaction last read or wrote them, so updateJob sets only what changed.
    // Only updateJob writes job rows, so the copies stay true for the transaction.
    std::unordered_map<std::int64_t, Job> _jobsSeen;
    // Admission counts the started jobs in every batch; counting walks all of them. So the
    // count is kept: this transaction's change to it, known while every job it wrote was
    // seen first (an unseen row's old state is unknown), and the count before it, once read.
    std::optional<std::int64_t>* _startedJobs;
    std::int64_t _startedChange = 0;
    bool _startedChangeKnown = true;
    std::optional<std::int64_t> _startedBefore;
};

}  // namespace te::store
