// The job life cycle inside the engine: stages, fan-out and fan-in, pause/resume/break, rerun.
// Every function here runs with EngineImpl::_mutex held and inside one store transaction.
#include <Poco/JSON/Array.h>

#include "server/engine/EngineEffects.h"
#include "server/engine/EngineImpl.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te {
namespace {

bool isFailure(TaskState s) { return s == TaskState::Failed || s == TaskState::Incomplete; }

std::vector<std::string> endpointsOf(const Job& job) {
    std::vector<std::string> out;
    auto params = json::objectOrEmpty(job.parameters);
    if (!params->has("endpoints")) return out;
    auto value = params->get("endpoints");
    if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
        for (const auto& v : *value.extract<Poco::JSON::Array::Ptr>()) {
            if (v.isString() && !v.extract<std::string>().empty())
                out.push_back(v.extract<std::string>());
        }
    } else if (value.isString()) {
        out.push_back(value.extract<std::string>());
    }
    return out;
}

}  // namespace

Task EngineImpl::makeTask(const Job& job, int stage, const TaskClass& cls, TaskKind kind,
                          const Poco::JSON::Object::Ptr& element) {
    // Resolution order, lowest first (docs/workflows.md): parameters, header inputs, outputs
    // of earlier tasks, the task's own spawn element. Environment inputs resolve on the worker.
    Poco::JSON::Object::Ptr values = json::objectOrEmpty(job.parameters);
    for (const auto* layer : {&job.headers, &job.context}) {
        auto obj = json::objectOrEmpty(*layer);
        for (const auto& kv : *obj) values->set(kv.first, kv.second);
    }
    if (element) {
        for (const auto& kv : *element) values->set(kv.first, kv.second);
    }
    // Defaults come last and fill only what nothing else gave: the job's inputs first (a
    // submission may leave out an input that has a default), then the task class's.
    const JobDef* def = _workflows->findJob(job.workflow);
    for (const auto* inputs : {def ? &def->input : nullptr, &cls.input}) {
        if (!inputs) continue;
        for (const auto& [name, in] : *inputs) {
            if (in.defaultValue && in.source != InputSource::Environment && !values->has(name)) {
                values->set(name, *in.defaultValue);
            }
        }
    }
    Task t;
    t.jobId = job.id;
    t.stage = stage;
    t.name = cls.key;
    t.kind = kind;
    t.state = TaskState::Queued;
    t.queue = cls.queue.empty() ? "work" : cls.queue;
    t.priority = job.priority;
    t.builtin = cls.builtin;
    t.command = cls.execCommand;
    t.args = json::stringify(json::fromStringList(cls.execArgs));
    t.env = "{}";
    t.inputs = json::stringify(json::fromStringMap(json::toStringMap(values)));
    t.timeoutSec = cls.timeoutSec;
    t.maxAttempts = 1 + cls.retries.value_or(_settings.retryLimit);
    // A placeholder nothing can fill fails the task here: no worker and no retry could help.
    // Environment inputs are the worker's to fill.
    for (const auto& name : placeholdersOf(cls)) {
        auto in = cls.input.find(name);
        if (in != cls.input.end() && in->second.source == InputSource::Environment) continue;
        if (!values->has(name)) {
            t.state = TaskState::Failed;
            t.message = "no value for input '" + name + "'";
            t.finishedAt = nowMs();
            break;
        }
    }
    return t;
}

void EngineImpl::plan(Tx& tx, Effects& fx, const Job& job, Task& task) {
    tx.insertTask(task);
    if (task.state == TaskState::Queued) fx.planned.push_back(task.id);
    if (task.state != TaskState::Failed) return;
    log(tx, job, task.id, Severity::Error, "controller",
        "'" + task.name + "' failed: " + task.message);
    callback(tx, fx, job, &task, "fail", task.message);
}

void EngineImpl::startJob(Tx& tx, Effects& fx, Job& job) {
    job.state = JobState::Started;
    if (job.startedAt == 0) job.startedAt = nowMs();
    log(tx, job, 0, Severity::Info, "controller", "job started");
    if (job.stage >= 0) {
        tx.updateJob(job);
        resumeJob(tx, fx, job);
    } else {
        startStage(tx, fx, job, 0);  // writes the job, with its stage
    }
}

void EngineImpl::startStage(Tx& tx, Effects& fx, Job& job, int index) {
    const JobDef* def = _workflows->findJob(job.workflow);
    if (!def) {
        finishJob(tx, fx, job, true, "workflow '" + job.workflow + "' is no longer defined");
        return;
    }
    if (index >= static_cast<int>(def->stages.size())) {
        finishJob(tx, fx, job, false, "");
        return;
    }
    const StageDef& stage = def->stages[index];
    job.stage = index;
    tx.updateJob(job);
    log(tx, job, 0, Severity::Info, "controller",
        "stage " + std::to_string(index + 1) + " '" + stage.name + "' started");

    int created = 0;
    bool bornFailed = false;
    if (!stage.spawnTask.empty()) {
        Task t =
            makeTask(job, index, *_workflows->findTask(stage.spawnTask), TaskKind::Spawn, nullptr);
        plan(tx, fx, job, t);
        bornFailed |= t.state == TaskState::Failed;
        ++created;
    } else {
        const TaskClass& cls = *_workflows->findTask(stage.taskClass);
        std::vector<std::string> targets = endpointsOf(job);
        if (targets.empty() && stage.broadcast && _hooks.liveWorkers) {
            for (const auto& w : _hooks.liveWorkers()) {
                for (const auto& q : w.queues) {
                    if (q == cls.queue) {
                        targets.push_back(w.name);
                        break;
                    }
                }
            }
            if (targets.empty()) {
                log(tx, job, 0, Severity::Warn, "controller",
                    "broadcast stage '" + stage.name + "': no live worker serves queue '" +
                        cls.queue + "'");
            }
        }
        if (targets.empty() && !stage.broadcast) {
            Task t = makeTask(job, index, cls, TaskKind::Normal, nullptr);
            plan(tx, fx, job, t);
            bornFailed |= t.state == TaskState::Failed;
            ++created;
        }
        for (const auto& worker : targets) {
            Task t = makeTask(job, index, cls, TaskKind::Normal, nullptr);
            t.targetWorker = worker;
            plan(tx, fx, job, t);
            bornFailed |= t.state == TaskState::Failed;
            ++created;
        }
    }
    // Nothing to wait for when the stage has no task; a task that failed at birth may end it.
    if (created == 0 || bornFailed) advance(tx, fx, job);
}

void EngineImpl::advance(Tx& tx, Effects& fx, Job& job) {
    if (job.state != JobState::Started || job.stage < 0) return;
    const JobDef* def = _workflows->findJob(job.workflow);
    if (!def) return;
    const StageDef& stage = def->stages.at(job.stage);
    // Most calls come while other tasks of the stage are still open (every result of a
    // fan-out): then only a failure under job_failed_on_error changes anything. Two index
    // counts instead of reading every task of the job, which made a fan-out quadratic.
    static const std::vector<TaskState> kOpen = {TaskState::Waiting, TaskState::Queued,
                                                 TaskState::Assigned, TaskState::Running};
    static const std::vector<TaskState> kFailure = {TaskState::Failed, TaskState::Incomplete};
    if (tx.anyStageTask(job.id, job.stage, kOpen) &&
        (!stage.jobFailedOnError || !tx.anyStageTask(job.id, job.stage, kFailure))) {
        return;
    }
    std::vector<Task> tasks;
    for (auto& t : tx.listTasks(job.id)) {
        if (t.stage == job.stage) tasks.push_back(std::move(t));
    }
    const Task* firstFailure = nullptr;
    int failures = 0;
    bool open = false;
    for (const auto& t : tasks) {
        if (isFailure(t.state)) {
            if (!firstFailure) firstFailure = &t;
            ++failures;
        }
        if (!isTerminal(t.state)) open = true;
    }
    if (firstFailure && stage.jobFailedOnError) {
        finishJob(tx, fx, job, true,
                  "task '" + firstFailure->name + "' (" + std::to_string(firstFailure->id) +
                      ") failed: " + firstFailure->message);
        return;
    }
    if (open) return;
    if (failures > 0) {
        log(tx, job, 0, Severity::Warn, "controller",
            "stage '" + stage.name + "' completed with " + std::to_string(failures) +
                " failed task(s); job_failed_on_error is false, so the job goes on");
    }
    if (!stage.spawnTask.empty()) {
        // Fan-in: the next stages see every fanned-out output, in task order, as one array.
        Poco::JSON::Array::Ptr outputs = new Poco::JSON::Array;
        for (const auto& t : tasks) {
            if (t.kind == TaskKind::Normal && t.state == TaskState::Completed) {
                outputs->add(json::objectOrEmpty(t.output));
            }
        }
        auto context = json::objectOrEmpty(job.context);
        context->set(stage.taskClass + ".outputs", json::stringify(outputs));
        job.context = json::stringify(context);
    }
    startStage(tx, fx, job, job.stage + 1);
}

void EngineImpl::finishJob(Tx& tx, Effects& fx, Job& job, bool failed, const std::string& message) {
    if (failed) stopTasks(tx, fx, job, "job failed");
    if (job.state == JobState::Started) fx.slotFreed = true;
    job.state = JobState::Completed;
    fx.ended.push_back(job.id);
    job.failed = failed;
    job.message = message;
    job.finishedAt = nowMs();
    tx.updateJob(job);
    if (failed) {
        log(tx, job, 0, Severity::Error, "controller", "job has failed: " + message);
    } else {
        log(tx, job, 0, Severity::Info, "controller", "job has completed successfully");
    }
    callback(tx, fx, job, nullptr, failed ? "fail" : "complete", message);
}

void EngineImpl::stopTasks(Tx& tx, Effects& fx, Job& job, const std::string& why) {
    for (Task& t : tx.tasksInStates(job.id, {TaskState::Waiting, TaskState::Queued,
                                             TaskState::Assigned, TaskState::Running})) {
        // A queued one too: a claim on PostgreSQL commits beside this transaction and may
        // have taken it since it was read, to run it after all. The dispatcher stops it
        // wherever it is (a claim on its way, a reserve, a worker) and ignores it elsewhere.
        if (t.state == TaskState::Assigned || t.state == TaskState::Running ||
            t.state == TaskState::Queued) {
            fx.cancel.push_back(t.id);
        }
        t.state = TaskState::Cancelled;
        t.message = why;
        t.finishedAt = nowMs();
        tx.updateTask(t);
    }
}

void EngineImpl::resumeJob(Tx& tx, Effects& fx, Job& job) {
    for (Task& t : tx.tasksInStates(job.id, {TaskState::Waiting})) {
        t.state = TaskState::Queued;
        tx.updateTask(t);
        fx.tasksReady = true;
    }
    advance(tx, fx, job);
}

std::string EngineImpl::updateJob(const std::string& client, std::int64_t id, const JobUpdate& u) {
    std::vector<std::string> done;
    std::string performed;  // `done` joined, for the log and the answer
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        _store.transact([&](Tx& tx) {
            done.clear();
            fx = Effects{};
            Job job = requireJob(tx, client, id);
            const bool finished = isTerminal(job.state);
            const bool waiting = job.state == JobState::Queued ||
                                 job.state == JobState::Scheduled || job.state == JobState::Pending;
            if (u.priority) {
                job.priority = *u.priority;
                done.push_back("priority");
            }
            if (u.semaphoreUrl) {
                job.semaphoreUrl = *u.semaphoreUrl;
                done.push_back("semaphore_url");
            }
            if (u.persist) {
                job.persist = *u.persist;
                done.push_back("persist");
            }
            if (u.runAt) {
                job.runAt = *u.runAt;
                done.push_back("run_at");
            }
            if (waiting && (u.runAt || u.semaphoreUrl)) {
                // Re-place a waiting job: the new run_at or semaphore decides where it waits.
                if (job.runAt > nowMs())
                    job.state = JobState::Scheduled;
                else if (!job.semaphoreUrl.empty())
                    job.state = JobState::Pending;
                else
                    job.state = JobState::Queued;
            }
            if (u.queueState) {
                JobState target = *u.queueState;
                if (finished && target != JobState::Broken) {
                    throw ValidationError("job " + std::to_string(id) + " is " +
                                          toString(job.state) + " and cannot become " +
                                          toString(target));
                }
                if (target == JobState::Paused) {
                    if (job.state == JobState::Started) {
                        fx.slotFreed = true;
                        for (Task& t :
                             tx.tasksInStates(job.id, {TaskState::Queued, TaskState::Assigned})) {
                            if (t.state == TaskState::Assigned) {
                                // Sent, it runs on; claimed ahead and not sent (a worker's
                                // reserve), it comes back and waits with the others.
                                fx.recall.push_back(t.id);
                                continue;
                            }
                            // Recalled too: a claim may have taken it since it was read
                            // (see stopTasks).
                            fx.recall.push_back(t.id);
                            t.state = TaskState::Waiting;
                            tx.updateTask(t);
                        }
                    }
                    job.state = JobState::Paused;
                } else if (target == JobState::Broken) {
                    if (job.state == JobState::Started) fx.slotFreed = true;
                    stopTasks(tx, fx, job, "job broken");
                    job.state = JobState::Broken;
                    fx.ended.push_back(job.id);
                    job.finishedAt = nowMs();
                } else if (target == JobState::Queued) {
                    if (job.state == JobState::Paused) {
                        if (job.runAt > nowMs())
                            job.state = JobState::Scheduled;
                        else if (!job.semaphoreUrl.empty() && job.stage < 0)
                            job.state = JobState::Pending;
                        else
                            job.state = JobState::Queued;
                    }
                } else {
                    throw ValidationError("queue_state must be paused, broken or queued");
                }
                done.push_back(std::string("queue_state ") + toString(job.state));
            }
            tx.updateJob(job);
            performed.clear();
            for (const auto& d : done) performed += (performed.empty() ? "" : ", ") + d;
            log(tx, job, 0, Severity::Info, "api", "job updated: " + performed);
        });
        admitLocked(fx);
    }
    announce(fx);
    return "Performed updates: " + performed;
}

std::int64_t EngineImpl::rerun(const std::string& client, std::int64_t id) {
    std::int64_t newId = 0;
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        _store.transact([&](Tx& tx) {
            fx = Effects{};
            Job orig = requireJob(tx, client, id);
            if (orig.state == JobState::Started) fx.slotFreed = true;
            stopTasks(tx, fx, orig, "job rerun");
            // The reference: the original's content is no longer valid, so it is broken.
            orig.state = JobState::Broken;
            fx.ended.push_back(orig.id);
            if (orig.finishedAt == 0) orig.finishedAt = nowMs();
            tx.updateJob(orig);
            Job copy;
            copy.client = orig.client;
            copy.workflow = orig.workflow;
            copy.priority = orig.priority;
            copy.parameters = orig.parameters;
            copy.headers = orig.headers;
            copy.context = "{}";
            copy.contentId = orig.contentId;
            copy.semaphoreUrl = orig.semaphoreUrl;
            copy.persist = orig.persist;
            copy.runAt = copy.createdAt = nowMs();
            copy.state = copy.semaphoreUrl.empty() ? JobState::Queued : JobState::Pending;
            newId = insertSubmission(tx, copy, "");
            log(tx, orig, 0, Severity::Info, "api",
                "job broken by rerun; the new job is " + std::to_string(newId));
            log(tx, copy, 0, Severity::Info, "api", "rerun of job " + std::to_string(id));
        });
        admitLocked(fx);
    }
    announce(fx);
    return newId;
}

}  // namespace te
