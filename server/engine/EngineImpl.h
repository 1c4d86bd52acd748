#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/callbacks/CallbackBuilder.h"
#include "server/engine/Engine.h"
#include "shared/config/ServerConfig.h"
#include "shared/workflow/Workflow.h"

namespace te {

// A live worker as the dispatcher sees it, for /health and broadcast stages.
struct WorkerSnapshot {
    std::string name;
    std::vector<std::string> queues;
    int slots = 0;
    int running = 0;
    int offered = 0;  // places (slots, reserve) offered to new tasks (Dispatcher::takeOffer)
};

// One message of the worker protocol, as the dispatcher hands it to the engine.
struct WorkerEvent {
    enum class Kind { Started, Log, Done, Failed, Running };
    Kind kind = Kind::Log;
    std::int64_t taskId = 0;
    std::string worker;
    Severity severity = Severity::Info;  // Log
    std::string message;                 // Log; Failed: the error
    Poco::JSON::Object::Ptr output;      // Done
    Poco::JSON::Array::Ptr spawn;        // Done
    std::optional<int> exitCode;         // Done, Failed
    bool requeue = false;                // Failed
    std::vector<std::int64_t> running;   // Running: the tasks a (re)joining worker runs
    TimeMs leaseUntil = 0;               // Running
};

// A free slot of an idle worker, which the dispatcher offers to the engine's transactions
// (Hooks::takeOffer).
struct WorkerOffer {
    std::string routingId;
    std::string worker;
};

// A task a transaction inserted already assigned to an offered slot: sent after the commit.
struct OfferedTask {
    WorkerOffer offer;
    Task task;
};

// The engine. Every state change runs under _mutex and inside one store transaction; what
// the transaction decided (tasks to cancel, callbacks to send, tasks to dispatch) is announced
// through the hooks only after it committed.
class EngineImpl : public Engine {
public:
    struct Hooks {
        std::function<void()> tasksReady;                     // new queued tasks
        std::function<void(std::int64_t taskId)> cancelTask;  // stop a running task
        std::function<void(std::int64_t taskId)> recallTask;  // give back if claimed, not sent
        std::function<void()> callbacksReady;                 // outbox rows committed
        std::function<void(const std::vector<std::int64_t>&)> jobsEnded;  // completed, broken
        std::function<std::vector<WorkerSnapshot>()> liveWorkers;         // dispatcher registry
        std::function<std::map<std::string, QueueStats>()> extraQueues;   // scheduler, callback
        // Offers: a group commit that makes a task for a queue with nothing else waiting
        // takes an idle worker's slot, if one is offered for that queue (and for the task's
        // target worker, if it names one), and inserts the task already assigned to it, with
        // its lease. After the commit it goes to the dispatcher, which sends it: a job alone
        // then waits for no claim between its commit and its worker.
        std::function<std::optional<WorkerOffer>(const std::string& queue,
                                                 const std::string& targetWorker)>
            takeOffer;
        std::function<void(const WorkerOffer&)> returnOffer;  // its transaction did not commit
        std::function<void(std::vector<OfferedTask>)> tasksOffered;  // committed: send them
    };

    EngineImpl(Store& store, std::shared_ptr<const WorkflowSet> workflows,
               const ServerConfig& config);
    void setHooks(Hooks hooks);
    // Loads settings (config values are defaults; stored ones win) and the schedules table.
    void initialize();

    // --- Engine (client-facing) ---
    std::int64_t submit(const Submission& submission) override;
    JobView getJob(const std::string& client, std::int64_t id) override;
    std::vector<JobView> listJobs(const JobFilter& filter) override;
    std::string updateJob(const std::string& client, std::int64_t id,
                          const JobUpdate& update) override;
    std::int64_t rerun(const std::string& client, std::int64_t id) override;
    std::vector<LogEntry> logs(const std::string& client, std::int64_t id) override;
    std::vector<Task> tasks(const std::string& client, std::int64_t id) override;
    Settings settings() override;
    void putSetting(const std::string& name, const std::string& value) override;
    std::vector<Schedule> schedules() override;
    std::vector<std::string> setScheduleActive(const std::string& name, bool active) override;
    HealthReport health() override;
    Dashboard dashboard() override;
    bool hasWorkflow(const std::string& name) const override;

    // --- worker events (called by the dispatcher thread) ---
    // Applies events in order in ONE transaction, shared with the submissions waiting at the
    // same time (and admits jobs whose slots they freed): under load the dispatcher drains
    // many messages at once, and one commit for all of them is what lets throughput grow past
    // one commit per message. `thenInTx`, when given, runs last in that transaction (the
    // dispatcher claims the next tasks there, saving a commit), told whether the batch made
    // tasks ready; it sees them, so they are not announced through tasksReady. It may run on
    // another caller's thread (the batch's leader) while this one waits.
    void applyWorkerEvents(const std::vector<WorkerEvent>& events,
                           const std::function<void(Tx&, bool tasksReady)>& thenInTx = {});

    // --- periodic work (called by the scheduler) ---
    void admit();               // start queued jobs while slots allow
    int queueScheduledJobs();   // scheduled jobs whose run_at passed -> queued/pending
    int checkSemaphores();      // pending jobs whose semaphore answers 2xx -> queued
    int expireLeases();         // tasks of silent workers -> queued again
    int expireEndpointWaits();  // targeted copies never received -> incomplete
    const WorkflowSet& workflows() const { return *_workflows; }

private:
    struct Effects;  // what a transaction decided, announced after commit
    void announce(const Effects& fx);
    Job requireJob(Tx& tx, const std::string& client, std::int64_t id);
    JobView view(Tx& tx, const Job& job, bool withPosition);
    void log(Tx& tx, const Job& job, std::int64_t taskId, Severity s, const std::string& prog,
             const std::string& message);
    void callback(Tx& tx, Effects& fx, const Job& job, const Task* task, const std::string& event,
                  const std::string& message);

    // job life cycle (inside a transaction, _mutex held)
    void startJob(Tx& tx, Effects& fx, Job& job);
    void startStage(Tx& tx, Effects& fx, Job& job, int stage);
    void advance(Tx& tx, Effects& fx, Job& job);
    void finishJob(Tx& tx, Effects& fx, Job& job, bool failed, const std::string& message);
    void stopTasks(Tx& tx, Effects& fx, Job& job, const std::string& why);
    void resumeJob(Tx& tx, Effects& fx, Job& job);
    Task makeTask(const Job& job, int stage, const TaskClass& cls, TaskKind kind,
                  const Poco::JSON::Object::Ptr& element);
    // Inserts a task made by makeTask; one that failed at birth is logged and called back.
    // A queued one is announced after the commit (Effects::planned), unless an offer takes it.
    void plan(Tx& tx, Effects& fx, const Job& job, Task& task);
    // Near the end of a transaction: assigns planned tasks to offered slots (Hooks::
    // takeOffer), most urgent first, in the queues where nothing older waits.
    void takeOffers(Tx& tx, Effects& fx);
    // The transaction that took fx's offers did not commit: they go back to the dispatcher.
    void returnOffers(Effects& fx);
    std::int64_t insertSubmission(Tx& tx, Job& job, const std::string& requestLog);
    void admitLocked(Effects& fx);
    void admitTx(Tx& tx, Effects& fx);  // admission inside the caller's transaction
    void applyEvent(Tx& tx, Effects& fx, const WorkerEvent& e);
    void onStarted(Tx& tx, Effects& fx, std::int64_t taskId, const std::string& worker);
    // Marks task running on worker (not stored: the caller updates it), with its log row and
    // `start` callback when the job is known.
    void recordStart(Tx& tx, Effects& fx, const Job* job, Task& task, const std::string& worker);
    void onLog(Tx& tx, std::int64_t taskId, Severity severity, const std::string& message);
    void onDone(Tx& tx, Effects& fx, const WorkerEvent& e);
    void onFailed(Tx& tx, Effects& fx, const WorkerEvent& e);
    // A task that left its worker unfinished (handed back, or its lease ran out) is queued
    // again, or waits for the resume when its job (if known) is paused. Returns whether it
    // waits.
    bool requeue(Tx& tx, Effects& fx, const Job* job, Task& task);
    void onRunning(Tx& tx, Effects& fx, const WorkerEvent& e);

    // One caller's write waiting for the group commit (see commitGrouped). Lives on the
    // caller's stack; `done` and `error` are written by the batch's leader under _writesMutex.
    struct PendingWrite {
        std::function<void(Tx&, Effects&)> apply;            // its share of the transaction
        std::function<void(Tx&, bool tasksReady)> thenInTx;  // after every share and admission
        int rounds = 1;  // batches this caller stores, when it leads, before handing over
        bool done = false;
        std::exception_ptr error;
        std::condition_variable wake;
    };
    // Stores `mine` together with every write waiting beside it, in one transaction that
    // then runs admission once; returns when it is committed (rethrows its error).
    void commitGrouped(PendingWrite& mine);
    void storeBatch(const std::vector<PendingWrite*>& batch, Effects& fx);

    Store& _store;
    std::shared_ptr<const WorkflowSet> _workflows;
    ServerConfig _config;
    CallbackBuilder _callbacks;
    Hooks _hooks;
    std::recursive_mutex _mutex;
    Settings _settings;  // guarded by _mutex
    std::mutex _writesMutex;
    std::deque<PendingWrite*> _writes;  // guarded by _writesMutex
    bool _leading = false;              // a caller is storing a batch; guarded by _writesMutex
};

}  // namespace te
