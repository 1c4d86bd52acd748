#include "server/Server.h"

#include <Poco/Logger.h>

#include "server/callbacks/CallbackSender.h"
#include "server/dispatch/Dispatcher.h"
#include "server/engine/EngineImpl.h"
#include "server/http/HttpApi.h"
#include "server/http/JobWaits.h"
#include "server/scheduler/Scheduler.h"
#include "server/store/Store.h"
#include "shared/workflow/Workflow.h"

namespace te {

namespace {
constexpr std::chrono::milliseconds kOwnerWait{5000};
}  // namespace

struct Server::Impl {
    ServerConfig config;
    std::unique_ptr<Store> store;
    std::unique_ptr<EngineImpl> engine;
    std::unique_ptr<Dispatcher> dispatcher;
    std::unique_ptr<CallbackSender> callbacks;
    std::unique_ptr<Scheduler> scheduler;
    std::unique_ptr<HttpApi> http;
    bool running = false;
};

Server::Server(ServerConfig config) : _impl(std::make_unique<Impl>()) {
    _impl->config = std::move(config);
}

Server::~Server() { stop(); }

void Server::start() {
    Impl& s = *_impl;
    Poco::Logger& logger = Poco::Logger::get("server");
    // Workflows first: a bad file must stop the start before anything listens.
    auto workflows = loadWorkflows(s.config.workflows);
    // The server keeps rows and counts between transactions: no other server may write this
    // database meanwhile. A few seconds' wait covers a predecessor that was just killed.
    s.store = Store::open(s.config.database, kOwnerWait);
    s.engine = std::make_unique<EngineImpl>(*s.store, workflows, s.config);
    s.engine->initialize();
    // GET /health's counts are kept from here on. Nothing else writes yet, so this first
    // count can vouch for the database (at a million jobs it reads for 30-40 ms).
    s.store->stateCounts();
    s.dispatcher = std::make_unique<Dispatcher>(s.config.dispatch, *s.store, *s.engine);
    s.callbacks = std::make_unique<CallbackSender>(*s.store, s.config);
    s.scheduler = std::make_unique<Scheduler>(*s.store);

    Dispatcher* dispatcher = s.dispatcher.get();
    CallbackSender* callbacks = s.callbacks.get();
    Scheduler* scheduler = s.scheduler.get();
    EngineImpl::Hooks hooks;
    hooks.tasksReady = [dispatcher] { dispatcher->wake(); };
    hooks.cancelTask = [dispatcher](std::int64_t id) { dispatcher->cancel(id); };
    hooks.recallTask = [dispatcher](std::int64_t id) { dispatcher->recall(id); };
    hooks.takeOffer = [dispatcher](const std::string& queue, const std::string& target) {
        return dispatcher->takeOffer(queue, target);
    };
    hooks.returnOffer = [dispatcher](const WorkerOffer& offer) { dispatcher->returnOffer(offer); };
    hooks.tasksOffered = [dispatcher](std::vector<OfferedTask> tasks) {
        dispatcher->sendOffered(std::move(tasks));
    };
    hooks.callbacksReady = [callbacks] { callbacks->wake(); };
    // A waiting request holds an HTTP thread: half of them at most wait.
    auto waits = std::make_shared<JobWaits>(std::max(1, s.config.http.threads / 2));
    hooks.jobsEnded = [waits](const std::vector<std::int64_t>& ids) { waits->ended(ids); };
    hooks.liveWorkers = [dispatcher] { return dispatcher->workers(); };
    hooks.extraQueues = [scheduler, callbacks] {
        return std::map<std::string, QueueStats>{{"scheduler", scheduler->stats()},
                                                 {"callback", callbacks->stats()}};
    };
    s.engine->setHooks(hooks);

    EngineImpl* engine = s.engine.get();
    s.scheduler->add("queue_scheduled_jobs", [engine] { return engine->queueScheduledJobs(); });
    s.scheduler->add("check_semaphores", [engine] { return engine->checkSemaphores(); });
    s.scheduler->add("expire_leases", [engine] { return engine->expireLeases(); });
    s.scheduler->add("expire_endpoint_waits", [engine] { return engine->expireEndpointWaits(); });
    s.scheduler->add("admit_jobs", [engine] {
        engine->admit();
        return 0;
    });

    s.http = std::make_unique<HttpApi>(s.config, *s.engine, waits);
    s.dispatcher->start();
    s.callbacks->start();
    s.scheduler->start();
    s.http->start();
    s.running = true;
    // Jobs queued before a restart start now, not at the first admission tick.
    s.engine->admit();
    logger.information("task engine listening on http port %d, dispatch %s, database %s",
                       s.http->port(), s.dispatcher->endpoint(), s.store->backend());
}

void Server::stop() {
    Impl& s = *_impl;
    if (!s.running) return;
    s.running = false;
    // Reverse order of start: no new requests, no new periodic work, then the workers'
    // connection, then callbacks (whose undelivered rows stay in the outbox).
    s.http->stop();
    s.scheduler->stop();
    s.dispatcher->stop();
    s.callbacks->stop();
    s.http.reset();
    s.scheduler.reset();
    s.dispatcher.reset();
    s.callbacks.reset();
    s.engine.reset();
    s.store.reset();
}

int Server::httpPort() const { return _impl->http->port(); }
std::string Server::dispatchEndpoint() const { return _impl->dispatcher->endpoint(); }
Engine& Server::engine() { return *_impl->engine; }
Store& Server::store() { return *_impl->store; }
Dispatcher& Server::dispatcher() { return *_impl->dispatcher; }
const ServerConfig& Server::config() const { return _impl->config; }

}  // namespace te
