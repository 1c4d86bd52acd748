#include "server/http/JsonViews.h"

#include "shared/Version.h"
#include "shared/util/Json.h"

namespace te {
namespace {

Poco::Dynamic::Var isoOrNull(TimeMs t) {
    if (t == 0) return Poco::Dynamic::Var();
    return formatIso(t);
}

// The reference calls PostgreSQL "postgres" in /health.
std::string databaseName(const std::string& backend) {
    return backend == "postgresql" ? "postgres" : backend;
}

}  // namespace

Poco::JSON::Object::Ptr JsonViews::object() {
    return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Poco::JSON::Object::Ptr JsonViews::job(const JobView& view, JobFields fields) {
    const Job& j = view.job;
    auto o = object();
    o->set("id", static_cast<Poco::Int64>(j.id));
    o->set("client", j.client);
    o->set("workflow", j.workflow);
    o->set("priority", j.priority);
    o->set("position", static_cast<Poco::Int64>(view.position));
    if (fields == JobFields::Full) o->set("top_of_queue", view.topOfQueue);
    if (fields != JobFields::Summary) o->set("parameters", json::objectOrEmpty(j.parameters));
    o->set("created_at", formatIso(j.createdAt));
    o->set("updated_at", formatIso(j.updatedAt));
    o->set("queue_state", std::string(toString(j.state)));
    o->set("failed", j.failed);
    o->set("run_at", formatIso(j.runAt));
    return o;
}

Poco::JSON::Object::Ptr JsonViews::log(const LogEntry& e) {
    auto o = object();
    o->set("id", static_cast<Poco::Int64>(e.id));
    o->set("job_id", static_cast<Poco::Int64>(e.jobId));
    o->set("severity", static_cast<int>(e.severity));
    o->set("severity_description", std::string(toString(e.severity)));
    o->set("progname", e.progname);
    o->set("message", e.message);
    o->set("created_at", formatIso(e.createdAt));
    o->set("updated_at", formatIso(e.createdAt));  // log entries never change
    o->set("task_id", static_cast<Poco::Int64>(e.taskId));
    o->set("visible", true);
    return o;
}

Poco::JSON::Object::Ptr JsonViews::task(const Task& t) {
    auto o = object();
    o->set("id", static_cast<Poco::Int64>(t.id));
    o->set("name", t.name);
    o->set("stage", t.stage);
    o->set("kind", std::string(toString(t.kind)));
    o->set("state", std::string(toString(t.state)));
    o->set("queue", t.queue);
    o->set("worker", t.worker);
    o->set("attempt", t.attempt);
    o->set("started_at", isoOrNull(t.startedAt));
    o->set("finished_at", isoOrNull(t.finishedAt));
    o->set("exit_code", t.exitCode ? Poco::Dynamic::Var(*t.exitCode) : Poco::Dynamic::Var());
    o->set("message", t.message);
    o->set("output", json::objectOrEmpty(t.output));
    return o;
}

Poco::JSON::Object::Ptr JsonViews::schedule(const Schedule& s) {
    auto o = object();
    o->set("class", s.className);
    Poco::JSON::Array::Ptr every = new Poco::JSON::Array;
    every->add(s.everySec);
    auto firstIn = object();
    firstIn->set("first_in", s.firstInSec);
    every->add(firstIn);
    o->set("every", every);
    o->set("queue", s.queue);
    o->set("description", s.description);
    return o;
}

Poco::JSON::Object::Ptr JsonViews::health(const HealthReport& r) {
    auto o = object();
    o->set("version", std::string(kVersion));
    auto databases = object();
    databases->set(databaseName(r.databaseBackend), r.databaseOk ? "OK" : "ERROR");
    o->set("databases", databases);
    auto queues = object();
    for (const auto& [name, q] : r.queues) {
        auto stats = object();
        stats->set("workers", static_cast<Poco::Int64>(q.workers));
        stats->set("working", static_cast<Poco::Int64>(q.working));
        stats->set("pending", static_cast<Poco::Int64>(q.pending));
        queues->set(name, stats);
    }
    o->set("queues", queues);
    const TaskTotals totals = r.counts.totals();
    auto tasks = object();
    tasks->set("failed", static_cast<Poco::Int64>(totals.failed));
    tasks->set("pending", static_cast<Poco::Int64>(totals.pending));
    tasks->set("processed", static_cast<Poco::Int64>(totals.processed));
    o->set("tasks", tasks);
    auto count = [&r](JobState s) -> Poco::Int64 { return r.counts.jobs[static_cast<int>(s)]; };
    auto jobs = object();
    jobs->set("completed", count(JobState::Completed));
    jobs->set("failed", static_cast<Poco::Int64>(r.counts.failedJobs));
    jobs->set("pending", count(JobState::Pending));
    jobs->set("broken", count(JobState::Broken));
    jobs->set("queued", count(JobState::Queued));
    jobs->set("started", count(JobState::Started));
    jobs->set("scheduled", count(JobState::Scheduled));
    jobs->set("paused", count(JobState::Paused));
    jobs->set("max_jobs", r.settings.maxJobs);
    jobs->set("priority_slots", r.settings.prioritySlots);
    o->set("jobs", jobs);
    return o;
}

Poco::JSON::Object::Ptr JsonViews::dashboard(const Dashboard& d, const std::string& client) {
    auto list = [&client](const std::vector<JobView>& views) {
        Poco::JSON::Array::Ptr a = new Poco::JSON::Array;
        for (const auto& v : views) {
            // A client sees only its own jobs (DESIGN.md); positions stay global.
            if (v.job.client == client) a->add(job(v, JobFields::Summary));
        }
        return a;
    };
    auto o = object();
    o->set("max_jobs", d.settings.maxJobs);
    o->set("priority_slots", d.settings.prioritySlots);
    o->set("started", list(d.started));
    o->set("queued", list(d.queued));
    o->set("scheduled", list(d.scheduled));
    o->set("version", std::string(kVersion));
    return o;
}

}  // namespace te
