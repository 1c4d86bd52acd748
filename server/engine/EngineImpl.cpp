#include "server/engine/EngineImpl.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "server/engine/EngineEffects.h"
#include "shared/Errors.h"
#include "shared/Version.h"
#include "shared/util/Json.h"

namespace te {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// The schedules of the engine, as GET /schedules lists them.
std::vector<Schedule> builtinSchedules(int interval) {
    return {
        {"queue_scheduled_jobs", "QueueJobs", interval, 5, "scheduler",
         "Enqueues scheduled jobs that have a run_at time in the past.", true},
        {"check_semaphores", "CheckSemaphores", interval, 5, "scheduler",
         "Queues pending jobs whose semaphore_url answers 2xx.", true},
        {"expire_leases", "ExpireLeases", 1, 1, "scheduler",
         "Hands tasks of workers that stopped heartbeating to other workers.", true},
        {"expire_endpoint_waits", "ExpireEndpointWaits", 1, 1, "scheduler",
         "Marks targeted task copies that no named worker received in time as incomplete.", true},
        {"admit_jobs", "AdmitJobs", 1, 1, "scheduler",
         "Starts queued jobs while max_jobs and priority_slots allow.", true},
    };
}

}  // namespace

EngineImpl::EngineImpl(Store& store, std::shared_ptr<const WorkflowSet> workflows,
                       const ServerConfig& config)
    : _store(store),
      _workflows(std::move(workflows)),
      _config(config),
      _callbacks(config.clients, config.callbacks) {}

void EngineImpl::setHooks(Hooks hooks) { _hooks = std::move(hooks); }

void EngineImpl::initialize() {
    std::lock_guard<std::recursive_mutex> lock(_mutex);
    _store.transact([&](Tx& tx) {
        std::map<std::string, std::string> values = _config.settings;
        for (const auto& kv : tx.settings()) values[kv.first] = kv.second;
        _settings = Settings::fromMap(values);
        for (const auto& s : builtinSchedules(_settings.scheduleInterval)) tx.ensureSchedule(s);
    });
}

void EngineImpl::announce(const Effects& fx) {
    if (fx.slotFreed) {
        Effects more;
        {
            std::lock_guard<std::recursive_mutex> lock(_mutex);
            admitLocked(more);
        }
        announce(more);
    }
    // Before any cancel or recall of the same tasks, which would find them nowhere.
    if (!fx.offered.empty() && _hooks.tasksOffered) _hooks.tasksOffered(fx.offered);
    for (std::int64_t id : fx.cancel) {
        if (_hooks.cancelTask) _hooks.cancelTask(id);
    }
    for (std::int64_t id : fx.recall) {
        if (_hooks.recallTask) _hooks.recallTask(id);
    }
    if (fx.anyReady() && _hooks.tasksReady) _hooks.tasksReady();
    if (fx.callbacksReady && _hooks.callbacksReady) _hooks.callbacksReady();
    if (!fx.ended.empty() && _hooks.jobsEnded) _hooks.jobsEnded(fx.ended);
}

void EngineImpl::log(Tx& tx, const Job& job, std::int64_t taskId, Severity s,
                     const std::string& prog, const std::string& message) {
    LogEntry e;
    e.jobId = job.id;
    e.taskId = taskId;
    e.severity = s;
    e.progname = prog;
    e.message = message;
    tx.appendLog(e);
}

void EngineImpl::callback(Tx& tx, Effects& fx, const Job& job, const Task* task,
                          const std::string& event, const std::string& message) {
    std::vector<std::string> rejected;
    for (auto& ev : _callbacks.build(job, task, _workflows->findJob(job.workflow), event, message,
                                     nowMs(), &rejected)) {
        tx.enqueueCallback(ev);
        fx.callbacksReady = true;
    }
    for (const auto& url : rejected) {
        log(tx, job, task ? task->id : 0, Severity::Warn, "callback",
            "callback host not allowed: " + url);
    }
}

Job EngineImpl::requireJob(Tx& tx, const std::string& client, std::int64_t id) {
    auto job = tx.findJob(id);
    // Another client's job answers exactly like a missing one: ids are not secrets, but
    // whether a number is in use by someone else is none of the caller's business.
    if (!job || (!client.empty() && job->client != client)) {
        throw NotFoundError("job " + std::to_string(id) + " not found");
    }
    return *job;
}

JobView EngineImpl::view(Tx& tx, const Job& job, bool withPosition) {
    JobView v;
    v.job = job;
    if (withPosition && job.state == JobState::Queued) {
        v.position = tx.queuePosition(job);
        v.topOfQueue = v.position == 1;
    }
    return v;
}

bool EngineImpl::hasWorkflow(const std::string& name) const {
    return _workflows->findJob(name) != nullptr;
}

std::int64_t EngineImpl::submit(const Submission& s) {
    const JobDef* def = _workflows->findJob(s.workflow);
    if (!def) throw ValidationError("unknown workflow '" + s.workflow + "'");
    Poco::JSON::Object::Ptr params = s.parameters ? s.parameters : new Poco::JSON::Object;

    // Header inputs are captured now, by input name: the request is gone when tasks run.
    std::map<std::string, std::string> headerValues;
    auto captureHeaders = [&](const std::map<std::string, InputDef>& inputs) {
        for (const auto& [name, in] : inputs) {
            if (in.source != InputSource::HttpHeader) continue;
            auto it = s.headers.find(lower(in.key));
            if (it != s.headers.end())
                headerValues[name] = it->second;
            else if (in.defaultValue)
                headerValues[name] = *in.defaultValue;
        }
    };
    captureHeaders(def->input);
    for (const auto& stage : def->stages) {
        for (const std::string& cls : {stage.taskClass, stage.spawnTask}) {
            if (const TaskClass* tc = _workflows->findTask(cls)) captureHeaders(tc->input);
        }
    }
    for (const auto& [name, in] : def->input) {
        if (!in.required || in.defaultValue) continue;
        if (in.source == InputSource::Parameter &&
            (!params->has(name) || params->get(name).isEmpty())) {
            throw ValidationError("missing required input '" + name + "' (parameter)");
        }
        if (in.source == InputSource::HttpHeader && !headerValues.count(name)) {
            throw ValidationError("missing required input '" + name + "' (header " + in.key + ")");
        }
    }

    Job job;
    job.client = s.client;
    job.workflow = s.workflow;
    job.priority = s.priority.value_or(5);
    job.parameters = json::stringify(params);
    job.headers = json::stringify(json::fromStringMap(headerValues));
    job.context = "{}";
    if (params->has("content_id")) job.contentId = json::toArgString(params->get("content_id"));
    job.semaphoreUrl = s.semaphoreUrl;
    job.persist = s.persist;
    TimeMs now = nowMs();
    job.createdAt = now;  // so a job without run_at shows run_at == created_at, as the reference
    job.runAt = s.runAt.value_or(now);
    if (job.runAt > now)
        job.state = JobState::Scheduled;
    else if (!job.semaphoreUrl.empty())
        job.state = JobState::Pending;
    else
        job.state = JobState::Queued;

    std::int64_t id = 0;
    PendingWrite mine;
    mine.apply = [&](Tx& tx, Effects& fx) {
        id = insertSubmission(tx, job, s.requestLog);
        fx.jobQueued |= job.state == JobState::Queued;
    };
    // An HTTP thread that leads may store the next batches too: under load they are waiting
    // already, and storing them at once spares a hand-over each.
    mine.rounds = 4;
    commitGrouped(mine);
    return id;
}

void EngineImpl::commitGrouped(PendingWrite& mine) {
    std::unique_lock<std::mutex> queue(_writesMutex);
    _writes.push_back(&mine);
    // Followers sleep until the leader has stored their write, or has handed over to them.
    mine.wake.wait(queue, [&] { return mine.done || (!_leading && _writes.front() == &mine); });
    if (!mine.done) {
        _leading = true;
        for (int round = 0; round < mine.rounds && !_writes.empty(); ++round) {
            std::vector<PendingWrite*> batch(_writes.begin(), _writes.end());
            _writes.clear();
            queue.unlock();
            Effects fx;
            storeBatch(batch, fx);
            queue.lock();
            // Under the lock: a follower cannot see `done`, return and take its condition
            // variable with it before it is notified.
            for (PendingWrite* p : batch) {
                p->done = true;
                if (p != &mine) p->wake.notify_one();
            }
            queue.unlock();
            announce(fx);
            queue.lock();
        }
        _leading = false;
        if (!_writes.empty()) _writes.front()->wake.notify_one();
    }
    queue.unlock();
    if (mine.error) std::rethrow_exception(mine.error);
}

void EngineImpl::storeBatch(const std::vector<PendingWrite*>& batch, Effects& fx) {
    std::lock_guard<std::recursive_mutex> lock(_mutex);
    auto store = [&](const std::vector<PendingWrite*>& writes, Effects& out) {
        bool claimed = false;
        try {
            _store.transact([&](Tx& tx) {
                returnOffers(out);  // taken by an attempt that was rolled back
                out = Effects{};
                for (PendingWrite* p : writes) p->apply(tx, out);
                if (out.slotFreed || out.jobQueued) admitTx(tx, out);
                takeOffers(tx, out);
                // The dispatcher claims last: it then sees the tasks of every job admitted
                // above.
                const bool ready = out.anyReady();
                for (PendingWrite* p : writes) {
                    if (!p->thenInTx) continue;
                    p->thenInTx(tx, ready);
                    claimed = true;
                }
            });
        } catch (...) {
            returnOffers(out);
            throw;
        }
        if (claimed) {
            out.tasksReady = false;  // the claim has seen them
            out.planned.clear();
        }
    };
    try {
        store(batch, fx);
        return;
    } catch (const StoreError&) {
        // The database is away for longer than the store retries: so it is for everyone.
        for (PendingWrite* p : batch) p->error = std::current_exception();
        return;
    } catch (...) {
        if (batch.size() == 1) {
            batch.front()->error = std::current_exception();
            return;
        }
    }
    // One write broke the shared transaction: store each alone, so only that one fails.
    for (PendingWrite* p : batch) {
        try {
            Effects one;
            store({p}, one);
            fx.merge(one);
        } catch (...) {
            p->error = std::current_exception();
        }
    }
}

void EngineImpl::takeOffers(Tx& tx, Effects& fx) {
    if (fx.planned.empty() || !_hooks.takeOffer) return;
    // The rows as this transaction left them: a later write of the batch may have stopped
    // one, which is then not ready at all.
    std::vector<Task> planned;
    for (std::int64_t id : fx.planned) {
        auto task = tx.findTask(id);
        if (task && task->state == TaskState::Queued) planned.push_back(std::move(*task));
    }
    // Most urgent first, as a claim would pick them.
    std::stable_sort(planned.begin(), planned.end(), claimsBefore);
    std::map<std::string, std::int64_t> plannedByQueue;
    for (const Task& t : planned) ++plannedByQueue[t.queue];
    // Per queue, decided at its first task: offers are taken only where every queued task
    // is one of this transaction's own, so a new task never passes older ones (ready, or
    // waiting out a retry delay) to a free slot. Closed, too, once its offers run out.
    std::map<std::string, bool> open;
    const TimeMs now = nowMs();
    std::vector<std::int64_t> left;
    for (Task& task : planned) {
        const std::string& queue = task.queue;
        auto decided = open.find(queue);
        if (decided == open.end()) {
            const auto queued = tx.queuedTasks(queue);
            decided = open.emplace(queue, queued && *queued == plannedByQueue[queue]).first;
        }
        std::optional<WorkerOffer> offer;
        if (decided->second && task.notBefore <= now) {
            offer = _hooks.takeOffer(queue, task.targetWorker);
            if (!offer && task.targetWorker.empty()) decided->second = false;
        }
        if (!offer) {
            left.push_back(task.id);
            continue;
        }
        task.state = TaskState::Assigned;
        task.worker = offer->worker;
        task.leaseUntil = now + static_cast<TimeMs>(_config.dispatch.leaseMs);
        tx.updateTask(task);
        fx.offered.push_back({std::move(*offer), std::move(task)});
    }
    fx.planned.swap(left);
}

void EngineImpl::returnOffers(Effects& fx) {
    if (_hooks.returnOffer) {
        for (const OfferedTask& o : fx.offered) _hooks.returnOffer(o.offer);
    }
    fx.offered.clear();
}

std::int64_t EngineImpl::insertSubmission(Tx& tx, Job& job, const std::string& requestLog) {
    std::int64_t id = tx.insertJob(job);
    if (!requestLog.empty()) log(tx, job, 0, Severity::Info, "api", requestLog);
    std::string where = job.state == JobState::Scheduled ? "scheduled for " + formatIso(job.runAt)
                                                         : std::string(toString(job.state));
    log(tx, job, 0, Severity::Info, "controller", "job created: " + where);
    return id;
}

JobView EngineImpl::getJob(const std::string& client, std::int64_t id) {
    JobView v;
    _store.read([&](Tx& tx) { v = view(tx, requireJob(tx, client, id), true); });
    return v;
}

std::vector<JobView> EngineImpl::listJobs(const JobFilter& filter) {
    std::vector<JobView> out;
    _store.read([&](Tx& tx) {
        for (const Job& j : tx.listJobs(filter)) out.push_back(view(tx, j, true));
    });
    return out;
}

std::vector<LogEntry> EngineImpl::logs(const std::string& client, std::int64_t id) {
    std::vector<LogEntry> out;
    _store.read([&](Tx& tx) {
        requireJob(tx, client, id);
        out = tx.listLogs(id, 0);
    });
    return out;
}

std::vector<Task> EngineImpl::tasks(const std::string& client, std::int64_t id) {
    std::vector<Task> out;
    _store.read([&](Tx& tx) {
        requireJob(tx, client, id);
        out = tx.listTasks(id);
    });
    return out;
}

Settings EngineImpl::settings() {
    std::lock_guard<std::recursive_mutex> lock(_mutex);
    return _settings;
}

void EngineImpl::putSetting(const std::string& name, const std::string& value) {
    Effects fx;
    {
        std::lock_guard<std::recursive_mutex> lock(_mutex);
        Settings next = _settings;
        next.apply(name, value);  // throws ValidationError before anything is stored
        _store.transact([&](Tx& tx) {
            tx.putSetting(name, value);
            if (name == "schedule_interval") {
                for (auto s : tx.schedules()) {
                    if (s.name == "queue_scheduled_jobs" || s.name == "check_semaphores") {
                        s.everySec = next.scheduleInterval;
                        tx.ensureSchedule(s);
                    }
                }
            }
        });
        _settings = next;
        admitLocked(fx);  // a larger max_jobs takes effect now, not at the next tick
    }
    announce(fx);
}

std::vector<Schedule> EngineImpl::schedules() {
    std::vector<Schedule> out;
    _store.read([&](Tx& tx) { out = tx.schedules(); });
    return out;
}

std::vector<std::string> EngineImpl::setScheduleActive(const std::string& name, bool active) {
    std::vector<std::string> names;
    _store.transact([&](Tx& tx) {
        tx.setScheduleActive(name, active);
        for (const auto& s : tx.schedules()) {
            if (s.active) names.push_back(s.name);
        }
    });
    return names;
}

HealthReport EngineImpl::health() {
    HealthReport r;
    r.settings = settings();
    r.databaseBackend = _store.backend();
    r.databaseOk = _store.ping();
    if (r.databaseOk) {
        r.counts = _store.stateCounts();
        for (const auto& [queue, open] : r.counts.queues) {
            r.queues[queue].pending = open.pending;
            r.queues[queue].working = open.working;
        }
    }
    if (_hooks.liveWorkers) {
        for (const auto& w : _hooks.liveWorkers()) {
            for (const auto& q : w.queues) r.queues[q].workers += 1;
        }
    }
    if (_hooks.extraQueues) {
        for (const auto& [name, stats] : _hooks.extraQueues()) r.queues[name] = stats;
    }
    if (!r.queues.count("work")) r.queues["work"] = QueueStats{};
    return r;
}

Dashboard EngineImpl::dashboard() {
    Dashboard d;
    d.settings = settings();
    _store.read([&](Tx& tx) {
        auto list = [&](JobState state, std::vector<JobView>& out) {
            JobFilter f;
            f.states = {state};
            f.limit = 1000;
            f.asc = true;
            for (const Job& j : tx.listJobs(f)) out.push_back(view(tx, j, true));
        };
        list(JobState::Started, d.started);
        list(JobState::Scheduled, d.scheduled);
        for (const Job& j : tx.queuedJobs(1000)) d.queued.push_back(view(tx, j, true));
    });
    return d;
}

}  // namespace te
