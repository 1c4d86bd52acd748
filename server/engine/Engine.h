#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/engine/Settings.h"
#include "server/store/Store.h"
#include "shared/model/Job.h"
#include "shared/model/LogEntry.h"
#include "shared/model/Schedule.h"
#include "shared/model/Task.h"

namespace te {

// A POST /job, after the HTTP layer has authenticated it and checked JSON types.
struct Submission {
    std::string client;
    std::string workflow;
    Poco::JSON::Object::Ptr parameters;          // never null
    std::map<std::string, std::string> headers;  // request headers, names lower-cased
    std::optional<int> priority;
    std::optional<TimeMs> runAt;
    std::string semaphoreUrl;
    bool persist = false;
    std::string requestLog;  // JSON text for the "job_created" api log entry
};

// PUT /jobs/<id>: the fields a client may change.
struct JobUpdate {
    std::optional<JobState> queueState;  // paused, broken, or queued (resume a paused job)
    std::optional<TimeMs> runAt;
    std::optional<int> priority;
    std::optional<std::string> semaphoreUrl;
    std::optional<bool> persist;
};

// A job with the fields computed for responses.
struct JobView {
    Job job;
    std::int64_t position = 0;  // 1-based place among queued jobs; 0 when not queued
    bool topOfQueue = false;
};

struct QueueStats {
    std::int64_t workers = 0;
    std::int64_t working = 0;
    std::int64_t pending = 0;
};

struct HealthReport {
    bool databaseOk = false;
    std::string databaseBackend;               // "sqlite3" / "postgresql"
    std::map<std::string, QueueStats> queues;  // work, windows_capture, scheduler, callback...
    StateCounts counts;                        // jobs and tasks (its queues are in `queues`)
    Settings settings;
};

struct Dashboard {
    Settings settings;
    std::vector<JobView> started, queued, scheduled;
};

// The job life cycle: planning, admission, stage progress, retries, and every client-facing
// operation. Thread-safe. Methods throw ValidationError (400), NotFoundError (404; also for a
// job of another client), StoreError (database down).
class Engine {
public:
    virtual ~Engine() = default;

    // Validates against the workflow, stores the job (queued, scheduled or pending) and tries to
    // admit it. Returns the job id.
    virtual std::int64_t submit(const Submission& submission) = 0;
    virtual JobView getJob(const std::string& client, std::int64_t id) = 0;
    // client may be empty (GET /jobs needs no authentication in the reference).
    virtual std::vector<JobView> listJobs(const JobFilter& filter) = 0;
    // Returns the list of what was done, e.g. "priority, run_at".
    virtual std::string updateJob(const std::string& client, std::int64_t id,
                                  const JobUpdate& update) = 0;
    // Breaks the original and submits a copy; returns the new id.
    virtual std::int64_t rerun(const std::string& client, std::int64_t id) = 0;
    virtual std::vector<LogEntry> logs(const std::string& client, std::int64_t id) = 0;
    virtual std::vector<Task> tasks(const std::string& client, std::int64_t id) = 0;

    virtual Settings settings() = 0;
    // Validates, persists and applies at once (admission re-runs).
    virtual void putSetting(const std::string& name, const std::string& value) = 0;
    virtual std::vector<Schedule> schedules() = 0;
    // Returns the names of the active schedules afterwards. NotFoundError for an unknown name.
    virtual std::vector<std::string> setScheduleActive(const std::string& name, bool active) = 0;

    virtual HealthReport health() = 0;
    virtual Dashboard dashboard() = 0;
    virtual bool hasWorkflow(const std::string& name) const = 0;
};

}  // namespace te
