// What the engine does with the worker protocol's events. Called by the dispatcher thread.
// A result is recorded once: an event for a task that is already terminal (a late DONE from a
// worker whose lease expired, a FAILED for a cancelled task) is logged and ignored.
#include <Poco/JSON/Array.h>
#include <Poco/Logger.h>

#include <unordered_set>

#include "server/engine/EngineEffects.h"
#include "server/engine/EngineImpl.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te {
namespace {

// What a callback's message carries: what the task reported (e.g. the resulting file name).
std::string reportedMessage(const Poco::JSON::Object::Ptr& output) {
    for (const char* key : {"message", "file", "filename", "result"}) {
        if (output && output->has(key)) return json::toArgString(output->get(key));
    }
    return "";
}

std::string label(const Task& t) {
    std::string s = "'" + t.name + "'";
    if (t.attempt > 1) s += " (attempt " + std::to_string(t.attempt) + ")";
    return s;
}

// Where a task that is to run again goes: a paused job starts nothing new, so its tasks wait
// for the resume.
TaskState queuedUnlessPaused(const Job* job) {
    return job && job->state == JobState::Paused ? TaskState::Waiting : TaskState::Queued;
}

// A result for a task whose STARTED was never recorded: it came in the same batch (and was
// folded into the result), or the worker sent none.
bool startNotRecorded(const Task& t) {
    return t.state == TaskState::Queued || t.state == TaskState::Assigned;
}

}  // namespace

void EngineImpl::applyWorkerEvents(const std::vector<WorkerEvent>& events,
                                   const std::function<void(Tx&, bool)>& thenInTx) {
    if (events.empty()) return;
    // A quick task's STARTED and DONE usually arrive in the same drain. Its start is then
    // recorded by the result itself (recordStart), which saves the task's separate UPDATE
    // and two reads.
    std::unordered_set<std::int64_t> finishing;
    for (const WorkerEvent& e : events) {
        if (e.kind == WorkerEvent::Kind::Done ||
            (e.kind == WorkerEvent::Kind::Failed && !e.requeue)) {
            finishing.insert(e.taskId);
        }
    }
    PendingWrite mine;
    mine.apply = [&](Tx& tx, Effects& fx) {
        std::vector<std::int64_t> taskIds;
        for (const WorkerEvent& e : events) {
            if (e.kind != WorkerEvent::Kind::Running) taskIds.push_back(e.taskId);
        }
        tx.prefetchTasks(taskIds);
        for (const WorkerEvent& e : events) {
            if (e.kind == WorkerEvent::Kind::Started && finishing.count(e.taskId)) continue;
            try {
                applyEvent(tx, fx, e);
            } catch (const StoreError&) {
                throw;  // the transaction is lost: transact rolls back and retries all
            } catch (const std::exception& ex) {
                // One bad message (a task of a workflow that was removed, ...) must not lose
                // the others of the batch.
                Poco::Logger::get("engine").error("event for task %Ld from %s: %s",
                                                  static_cast<long long>(e.taskId), e.worker,
                                                  std::string(ex.what()));
            }
        }
    };
    mine.thenInTx = thenInTx;
    // The dispatcher stores one batch at most: the claims it made wait for it to send them.
    mine.rounds = 1;
    commitGrouped(mine);
}

void EngineImpl::applyEvent(Tx& tx, Effects& fx, const WorkerEvent& e) {
    switch (e.kind) {
        case WorkerEvent::Kind::Started:
            onStarted(tx, fx, e.taskId, e.worker);
            break;
        case WorkerEvent::Kind::Log:
            onLog(tx, e.taskId, e.severity, e.message);
            break;
        case WorkerEvent::Kind::Done:
            onDone(tx, fx, e);
            break;
        case WorkerEvent::Kind::Failed:
            onFailed(tx, fx, e);
            break;
        case WorkerEvent::Kind::Running:
            onRunning(tx, fx, e);
            break;
    }
}

void EngineImpl::onStarted(Tx& tx, Effects& fx, std::int64_t taskId, const std::string& worker) {
    auto task = tx.findTask(taskId);
    if (!task || isTerminal(task->state) || task->state == TaskState::Running) return;
    auto job = tx.findJob(task->jobId);
    recordStart(tx, fx, job ? &*job : nullptr, *task, worker);
    tx.updateTask(*task);
}

void EngineImpl::recordStart(Tx& tx, Effects& fx, const Job* job, Task& task,
                             const std::string& worker) {
    task.state = TaskState::Running;
    task.worker = worker;
    task.startedAt = nowMs();
    if (!job) return;
    log(tx, *job, task.id, Severity::Info, "worker", label(task) + " started on " + worker);
    callback(tx, fx, *job, &task, "start", "");
}

void EngineImpl::onLog(Tx& tx, std::int64_t taskId, Severity severity, const std::string& message) {
    auto task = tx.findTask(taskId);
    if (!task) return;
    LogEntry e;
    e.jobId = task->jobId;
    e.taskId = taskId;
    e.severity = severity;
    e.progname = "worker";
    e.message = message;
    tx.appendLog(e);
}

void EngineImpl::onDone(Tx& tx, Effects& fx, const WorkerEvent& e) {
    const std::int64_t taskId = e.taskId;
    const std::string& worker = e.worker;
    Poco::JSON::Object::Ptr output = e.output ? e.output : new Poco::JSON::Object;
    const Poco::JSON::Array::Ptr& spawn = e.spawn;
    const std::optional<int>& exitCode = e.exitCode;
    auto found = tx.findTask(taskId);
    if (!found) return;
    Task task = *found;
    auto job = tx.findJob(task.jobId);
    if (!job) return;
    if (isTerminal(task.state)) {
        log(tx, *job, taskId, Severity::Debug, "worker",
            "result of " + label(task) + " from " + worker + " ignored: already " +
                toString(task.state));
        return;
    }
    if (startNotRecorded(task)) recordStart(tx, fx, &*job, task, worker);
    std::string badSpawn;
    if (task.kind == TaskKind::Spawn && spawn) {
        for (size_t i = 0; i < spawn->size(); ++i) {
            if (!spawn->isObject(i)) {
                badSpawn = "spawn.json element " + std::to_string(i) + " is not an object";
                break;
            }
        }
    }
    task.worker = worker;
    task.exitCode = exitCode;
    task.finishedAt = nowMs();
    task.output = json::stringify(output);
    if (!badSpawn.empty()) {
        task.state = TaskState::Failed;
        task.message = badSpawn;
        tx.updateTask(task);
        log(tx, *job, taskId, Severity::Error, "worker", label(task) + " failed: " + badSpawn);
        callback(tx, fx, *job, &task, "fail", badSpawn);
        advance(tx, fx, *job);
        return;
    }
    task.state = TaskState::Completed;
    task.message = reportedMessage(output);
    tx.updateTask(task);

    // Context: the task's outputs join what later stages' placeholders read.
    if (output->size() > 0) {
        auto context = json::objectOrEmpty(job->context);
        for (const auto& kv : *output) context->set(kv.first, kv.second);
        job->context = json::stringify(context);
        tx.updateJob(*job);
    }
    log(tx, *job, taskId, Severity::Info, "worker", label(task) + " completed successfully");
    callback(tx, fx, *job, &task, "complete", task.message);

    if (task.kind == TaskKind::Spawn) {
        const JobDef* def = _workflows->findJob(job->workflow);
        const StageDef& stage = def->stages.at(task.stage);
        const TaskClass& cls = *_workflows->findTask(stage.taskClass);
        const bool paused = job->state != JobState::Started;
        size_t n = spawn ? spawn->size() : 0;
        for (size_t i = 0; i < n; ++i) {
            Task t = makeTask(*job, task.stage, cls, TaskKind::Normal, spawn->getObject(i));
            if (paused && t.state == TaskState::Queued) t.state = TaskState::Waiting;
            plan(tx, fx, *job, t);
        }
        log(tx, *job, taskId, n ? Severity::Info : Severity::Warn, "controller",
            "spawned " + std::to_string(n) + " '" + cls.key + "' task(s)" +
                (spawn ? "" : " (the spawn task wrote no spawn.json)"));
    }

    advance(tx, fx, *job);
}

void EngineImpl::onFailed(Tx& tx, Effects& fx, const WorkerEvent& e) {
    const std::int64_t taskId = e.taskId;
    const std::string& worker = e.worker;
    const std::string& error = e.message;
    auto found = tx.findTask(taskId);
    if (!found || isTerminal(found->state)) return;
    Task task = *found;
    auto job = tx.findJob(task.jobId);
    if (!job) return;
    if (e.requeue) {
        // Only from the worker that holds it: a task whose lease ran out may be another's now.
        if (task.worker != worker) return;
        requeue(tx, fx, &*job, task);
        log(tx, *job, taskId, Severity::Warn, "worker",
            label(task) + " handed back by " + worker + ": " + error);
        return;
    }
    if (startNotRecorded(task)) recordStart(tx, fx, &*job, task, worker);
    task.worker = worker;
    task.exitCode = e.exitCode;
    task.message = error;
    task.finishedAt = nowMs();
    const bool alive = job->state == JobState::Started || job->state == JobState::Paused;
    if (task.attempt < task.maxAttempts && alive) {
        task.state = TaskState::Retried;
        tx.updateTask(task);
        const TaskClass* cls = _workflows->findTask(task.name);
        int delay = cls && cls->retryDelaySec ? *cls->retryDelaySec : _settings.retryDelay;
        Task next = task;
        next.id = 0;
        next.attempt = task.attempt + 1;
        next.state = queuedUnlessPaused(&*job);
        next.worker.clear();
        next.output.clear();
        next.message.clear();
        next.exitCode.reset();
        next.createdAt = 0;
        next.startedAt = next.finishedAt = next.leaseUntil = 0;
        next.notBefore = nowMs() + static_cast<TimeMs>(delay) * 1000;
        tx.insertTask(next);
        log(tx, *job, taskId, Severity::Warn, "worker",
            label(task) + " failed on " + worker + ": " + error + "; retry " +
                std::to_string(task.attempt) + " of " + std::to_string(task.maxAttempts - 1) +
                " in " + std::to_string(delay) + " s");
        fx.tasksReady = true;
        return;
    }
    task.state = TaskState::Failed;
    tx.updateTask(task);
    log(tx, *job, taskId, Severity::Error, "worker", label(task) + " failed: " + error);
    callback(tx, fx, *job, &task, "fail", error);
    advance(tx, fx, *job);
}

bool EngineImpl::requeue(Tx& tx, Effects& fx, const Job* job, Task& task) {
    task.state = queuedUnlessPaused(job);
    task.worker.clear();
    task.leaseUntil = 0;
    tx.updateTask(task);
    const bool waits = task.state == TaskState::Waiting;
    fx.tasksReady = fx.tasksReady || !waits;
    return waits;
}

void EngineImpl::onRunning(Tx& tx, Effects& fx, const WorkerEvent& e) {
    for (std::int64_t id : e.running) {
        auto task = tx.findTask(id);
        if (!task) continue;
        if (isTerminal(task->state)) {
            // Cancelled or finished elsewhere while the worker was away: stop it.
            fx.cancel.push_back(id);
            continue;
        }
        task->state = TaskState::Running;
        task->worker = e.worker;
        task->leaseUntil = e.leaseUntil;
        if (task->startedAt == 0) task->startedAt = nowMs();
        tx.updateTask(*task);
    }
}

}  // namespace te
