#include "server/dispatch/Dispatcher.h"

#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "server/dispatch/Credit.h"
#include "server/store/Store.h"
#include "shared/Errors.h"
#include "shared/protocol/Protocol.h"
#include "shared/util/Json.h"

namespace te {
namespace {

using Clock = std::chrono::steady_clock;

// A worker whose tasks finish this fast (ASSIGN to result, on average) gets tasks claimed
// ahead, in reserve: each is sent the moment a slot frees, with no transaction in between
// (see WorkerInfo::reserve). Per slot, one on SQLite and six on PostgreSQL, where the
// transaction between a result and the next claim is a dozen round trips (2-3 ms under
// load) and a slot's one reserved no-op was long done before it: 10,000 no-op jobs end to
// end 2,000-2,200 -> 2,700-3,050 jobs/s, a chord of 1,000 0.32-0.43 -> 0.23-0.26 s with
// three. Since claims have a lane of their own, six: 44% of a chord's results found the
// reserve of three empty; chord 143-159 -> 127-133 ms, end to end the same or better (ten
// did no better than six). On SQLite three made no difference beyond the noise.
constexpr double kReserveBelowMs = 20.0;
// A reserved task not sent within this long goes back to the queue, for any worker.
constexpr auto kReserveHold = std::chrono::seconds(1);
// Results that wait for a claim alone to end before their batch, at most (resultsDue).
constexpr size_t kResultsAside = 16;
// Why a reserved task went back (Recall), for the job's log.
constexpr const char* kRecalled = "not sent: its job was paused";

struct WorkerInfo {
    std::string routingId;
    std::string name;
    std::string host;
    std::string platform;
    std::string version;
    std::vector<std::string> queues;
    int slots = 1;
    // Tasks sent and not finished, with when each was sent (unknown, the epoch, for those a
    // READY reports running): the sending times feed meanTaskMs.
    std::map<std::int64_t, Clock::time_point> inflight;
    // Claimed for this worker (assigned to it in the store, its lease renewed with the
    // others) but not sent: a slot's next task, ready the moment the slot frees. The
    // credit rule holds, ASSIGNs never outnumber free slots; what the reserve saves is
    // the wait for a transaction between a result and the next ASSIGN, which was most of
    // a quick task's cycle. Only for workers whose tasks are quick (meanTaskMs), so a
    // long task never keeps a queued one from an idle worker for more than kReserveHold.
    struct Reserved {
        Task task;
        Clock::time_point since;
    };
    std::deque<Reserved> reserve;
    double meanTaskMs = -1;  // moving average of ASSIGN to result; -1: none finished yet
    Clock::time_point lastSeen;
    bool stopping = false;
    // Its last claim got fewer tasks than it asked for, and no new tasks were announced since:
    // claiming again would find nothing. Saves an empty claim transaction after every DONE,
    // which otherwise holds the store (SQLite: its only session) while the client's next
    // request waits. Cleared by every wake, READY and the once-a-second tick.
    bool nothingReady = false;
    // Credit asked for in batches still with the store: counted as taken until delivered.
    int asked = 0;
};

struct Command {
    // Stored: a lane has finished the batch it was given (Lane::stored); `id` is the lane.
    // Early: a claim of the batch is ready before the rest (Lane::early); `id` is the lane.
    // Offered: tasks committed assigned to offered slots wait in State::offered.
    enum Kind { Wake, Cancel, Recall, Stored, Early, Offered } kind;
    std::int64_t id = 0;  // the task of a Cancel or a Recall
};

}  // namespace

struct Dispatcher::State {
    State(const DispatchConfig& c, Store& s, EngineImpl& e) : config(c), store(s), engine(e) {}

    DispatchConfig config;
    Store& store;
    EngineImpl& engine;
    Poco::Logger& logger = Poco::Logger::get("dispatch");

    zmq::context_t context{1};
    std::unique_ptr<zmq::socket_t> router;
    std::string endpoint;
    std::string inprocName;
    std::thread thread;
    std::atomic<bool> running{false};

    // Commands from other threads; the PUSH socket is shared under `commandsMutex`.
    std::mutex commandsMutex;
    std::deque<Command> commands;
    std::vector<OfferedTask> offered;  // for Command::Offered; guarded by commandsMutex
    std::unique_ptr<zmq::socket_t> push;
    std::unique_ptr<zmq::socket_t> pull;  // the dispatcher thread's end

    // Owned by the dispatcher thread.
    std::map<std::string, WorkerInfo> workers;  // by routing id
    size_t roundRobin = 0;
    bool needDispatch = true;
    std::vector<WorkerEvent> events;  // what the socket brought since the last batch
    // Counts forgetNothingReady(): a claim handed over before the last one may have missed
    // tasks made ready since, so what it found says nothing about now.
    std::uint64_t wakes = 0;

    mutable std::mutex snapshotMutex;
    std::vector<WorkerSnapshot> snapshot;

    // The places each worker offers to the engine's transactions (Dispatcher::takeOffer), by
    // routing id: its free slots, and a quick worker's free reserve. The dispatcher thread
    // offers and withdraws; the engine's threads take and give back. A place offered or taken
    // counts as held for claims. A task committed to one joins the worker's reserve, behind
    // what was claimed before it.
    struct Offer {
        std::string name;
        std::vector<std::string> queues;
        int open = 0;   // slots a transaction may take
        int taken = 0;  // taken, until the task is sent (Offered) or given back
    };
    mutable std::mutex offersMutex;
    std::map<std::string, Offer> offers;  // guarded by offersMutex
    size_t offerRound = 0;                // guarded by offersMutex
    // Places of this worker offered or taken.
    int offerHeld(const std::string& routingId) const;
    // Offers the worker's free places (dispatch::freePlaces, with no half-reserve rule as for
    // claims), when its last claim found nothing and no claim is out.
    void offerSlots(WorkerInfo& w);
    // Open offers (of one worker, or of all) are withdrawn; taken ones stay taken.
    void withdrawOffers(const std::string* routingId = nullptr);
    // A taken slot is no longer held for its task (sent, or its transaction rolled back).
    void untake(const WorkerOffer& taken);
    // Sends the tasks committed to offered slots (Command::Offered).
    void sendOfferedTasks();

    void send(const std::string& routingId, const char* type, const std::string& body);
    void handle(const std::string& routingId, const std::string& type, const std::string& body);
    // What a claim asks for one worker, taken on the dispatcher thread when the batch is
    // handed over (the store thread never reads `workers`).
    struct Ask {
        std::string routingId;
        std::string name;
        std::vector<std::string> queues;
        int credit = 0;
        // Its last claim found nothing: claim only if the batch itself makes tasks ready (a
        // next stage, a spawn's fan-out, an admitted job), as a wake would allow.
        bool onlyIfReady = false;
    };
    // What one claim transaction gave one worker.
    struct Claim {
        Ask ask;
        std::vector<Task> tasks;
    };

    // The store's half of the loop runs on its own thread: while a batch of results and
    // claims is stored, the dispatcher goes on reading results and sending reserved tasks.
    // Waiting for each transaction kept every worker idle behind it once its reserve was
    // sent (on PostgreSQL a third of the writer's time went by between transactions).
    // One batch at a time: claims are asked with the credit known when it was handed over.
    struct Batch {
        std::vector<WorkerEvent> events;  // empty: claims only
        std::vector<Ask> asks;
    };
    struct Outcome {
        std::vector<Claim> claims;
        bool tasksReady = false;
        size_t lostEvents = 0;
        std::string error;
    };
    // Only where a transaction is mostly waiting: PostgreSQL's round trips. SQLite's is
    // CPU on a machine whose cores are already busy; there the hand-offs to and from the
    // other thread cost more than the overlap gave (round trip 0.80 -> 0.87 ms, chord of
    // 1,000 90-100 -> 110-140 ms), so the dispatcher stores its batches itself.
    const bool storeAside = store.backend() == "postgresql";
    const int reservePerSlot = storeAside ? 6 : 1;
    // Two lanes, each a thread with one batch at a time: results (with the claims their
    // commit allows) and claims alone. A claim alone is one quick statement that does not
    // wait for the disk; a batch of results holds the engine's lock and waits for its
    // COMMIT. In one lane, a fan-out's workers ran dry behind every batch of results (a
    // chord of 1,000: three to five batches of 150-1,000 results, 5-50 ms each).
    enum LaneId { kResults = 0, kClaims = 1 };
    struct Lane {
        std::thread thread;
        std::optional<Batch> toStore;   // guarded by storeMutex
        std::optional<Outcome> stored;  // guarded by storeMutex
        std::vector<Claim> early;       // guarded by storeMutex
        std::condition_variable wake;   // for toStore, and storeStopping
        bool out = false;               // dispatcher thread: a batch is with the lane
        // Dispatcher thread, for the batch out: cancels and recalls that came meanwhile,
        // whose claims may hold these tasks; its asks, whose credit comes back with it; `wakes`
        // when it was handed over.
        std::set<std::int64_t> cancelled;
        std::set<std::int64_t> recalled;
        std::vector<Ask> asked;
        std::uint64_t wakes = 0;
    };
    std::array<Lane, 2> lanes;
    std::mutex storeMutex;
    bool storeStopping = false;  // guarded by storeMutex
    void storeLoop(LaneId id);
    Outcome storeBatch(LaneId id, const Batch& batch);
    // Hands `events` (may be empty) and claims for every worker with credit to the lane.
    void handOver(LaneId id, std::vector<WorkerEvent> events);
    // Results go to their lane when it is free, and while claims are out only once
    // kResultsAside of them wait: each batch holds the engine's lock through a COMMIT that
    // waits for the disk, which the API's submissions wait for too.
    bool resultsDue() const {
        return !events.empty() && !lanes[kResults].out &&
               (!lanes[kClaims].out || events.size() >= kResultsAside);
    }
    void takeOutcome(LaneId id);
    // Delivers the claims a lane handed over before the end of its batch.
    void takeEarly(LaneId id);
    // The credit an ask took from its worker comes back (its claim is delivered or failed).
    void returnCredit(const Ask& ask);
    void post(Command command);
    // What a claim may ask for this worker: its free slots and reserve, or 0 when it is
    // stopping, its last claim found nothing ready, or every slot has work ahead and less
    // than half its reserve is free.
    int claimableCredit(const WorkerInfo& w) const;
    // The same, whatever its last claim found.
    int freeCredit(const WorkerInfo& w) const;
    // The tasks a worker may hold beyond its slots: some for a worker of quick tasks, so a
    // slot that frees has its next task at hand, none for one of slow tasks.
    int reservedFor(const WorkerInfo& w) const;
    // The tasks a worker has or will have without an offer: sent, reserved, and asked for by a
    // claim that is out. freeCredit adds the places it offered; offerSlots takes them under
    // offersMutex.
    int heldByWorker(const WorkerInfo& w) const;
    // Sends reserved tasks while the worker has free slots.
    void sendReserved(WorkerInfo& w);
    void sendAssign(WorkerInfo& w, const Task& task);
    // A result for taskId: frees its slot and refills it from the reserve at once.
    void finished(WorkerInfo& w, std::int64_t taskId);
    // Queues, for the next batch, a claimed task that was never sent to `worker`: FAILED with
    // requeue, the engine's hand-back to the queue.
    void handBack(std::int64_t taskId, const std::string& worker, const std::string& why);
    // Gives reserved tasks back to the queue (those older than `olderThan`, or all), as
    // hand-backs. Returns how many.
    size_t releaseReserved(WorkerInfo& w, const std::string& why,
                           std::optional<Clock::time_point> olderThan = std::nullopt);
    bool anyoneCanTakeWork() const;
    // New tasks may be ready for any worker: every worker may claim again.
    void forgetNothingReady();
    std::vector<Ask> asks();
    // Claims for `asks`, inside tx. Nothing is sent or remembered until deliver(), after
    // the commit: a transaction that is rolled back and run again leaves no trace.
    // Into `claims` (emptied first); their tasks may arrive only with the COMMIT
    // (Tx::claimTasksAtCommit), so `claims` must outlive the transaction.
    void claimAll(Tx& tx, const std::vector<Ask>& asks, bool tasksReady,
                  std::vector<Claim>& claims);
    // `cancelled`: stopped while the claims were out; `recalled`: to go back (Recall).
    // `current`: no tasks were announced since their hand-over, so a claim that found too
    // few says nothing is ready.
    void deliver(std::vector<Claim>& claims, const std::set<std::int64_t>& cancelled,
                 const std::set<std::int64_t>& recalled, bool current);
    // A Recall: hands the task back if a worker's reserve holds it.
    void recall(std::int64_t taskId);
    // Takes the task out of the reserve that holds it; returns that worker, or null.
    WorkerInfo* unreserve(std::int64_t taskId);
    void heartbeat(Clock::time_point now);
    void publishSnapshot();
    Poco::JSON::Object::Ptr assignMessage(const Task& task);
};

Dispatcher::Dispatcher(const DispatchConfig& config, Store& store, EngineImpl& engine)
    : _state(std::make_unique<State>(config, store, engine)) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
    State& s = *_state;
    s.router = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::router);
    s.router->set(zmq::sockopt::linger, 0);
    // A send to a worker that went away fails at once instead of being dropped silently.
    s.router->set(zmq::sockopt::router_mandatory, 1);
    // Credit already bounds what we send a worker; a high-water mark would only turn a burst
    // of heartbeats and cancels into silent drops.
    s.router->set(zmq::sockopt::sndhwm, 0);
    s.router->set(zmq::sockopt::rcvhwm, 0);
    try {
        s.router->bind(s.config.bind);
    } catch (const zmq::error_t& e) {
        throw ConfigError("dispatch.bind: cannot bind '" + s.config.bind + "': " + e.what());
    }
    std::string bound = s.router->get(zmq::sockopt::last_endpoint);
    auto pos = bound.find("0.0.0.0");
    if (pos != std::string::npos) bound.replace(pos, 7, "127.0.0.1");
    s.endpoint = bound;
    s.inprocName = "inproc://dispatch-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    // Both inproc ends are made here; the PULL end then belongs to the dispatcher thread
    // (thread creation is the memory barrier ZeroMQ asks for when a socket changes threads).
    s.pull = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::pull);
    s.pull->bind(s.inprocName);
    s.push = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::push);
    s.push->set(zmq::sockopt::linger, 0);
    s.push->connect(s.inprocName);
    s.running = true;
    if (s.storeAside) {
        for (State::LaneId id : {State::kResults, State::kClaims}) {
            s.lanes[id].thread = std::thread([&s, id] { s.storeLoop(id); });
        }
    }
    s.thread = std::thread([this] { run(); });
    s.logger.information("dispatching on %s", s.endpoint);
}

void Dispatcher::stop() {
    State& s = *_state;
    if (!s.running.exchange(false)) return;
    wake();
    if (s.thread.joinable()) s.thread.join();
    {
        // A batch still out is stored; its claims come back when their leases end.
        std::lock_guard<std::mutex> lock(s.storeMutex);
        s.storeStopping = true;
    }
    for (auto& lane : s.lanes) {
        lane.wake.notify_one();
        if (lane.thread.joinable()) lane.thread.join();
    }
    std::lock_guard<std::mutex> lock(s.commandsMutex);
    s.push.reset();
    s.pull.reset();
    s.router.reset();
}

std::string Dispatcher::endpoint() const { return _state->endpoint; }

void Dispatcher::wake() { _state->post({Command::Wake, 0}); }

void Dispatcher::cancel(std::int64_t taskId) { _state->post({Command::Cancel, taskId}); }

void Dispatcher::recall(std::int64_t taskId) { _state->post({Command::Recall, taskId}); }

void Dispatcher::State::post(Command command) {
    std::lock_guard<std::mutex> lock(commandsMutex);
    if (!push) return;
    bool first = commands.empty();
    commands.push_back(command);
    if (first) push->send(zmq::str_buffer("!"), zmq::send_flags::dontwait);
}

std::vector<WorkerSnapshot> Dispatcher::workers() const {
    std::lock_guard<std::mutex> lock(_state->snapshotMutex);
    return _state->snapshot;
}

void Dispatcher::run() {
    State& s = *_state;
    zmq::socket_t& pull = *s.pull;
    const auto hb = std::chrono::milliseconds(s.config.heartbeatMs);
    auto nextHeartbeat = Clock::now() + hb;
    auto nextTick = Clock::now() + std::chrono::seconds(1);
    while (s.running) {
        zmq::pollitem_t items[] = {{static_cast<void*>(*s.router), 0, ZMQ_POLLIN, 0},
                                   {static_cast<void*>(pull), 0, ZMQ_POLLIN, 0}};
        auto wait = std::min(nextHeartbeat, nextTick) - Clock::now();
        // Hand-backs queued by the last round are stored without waiting for the socket.
        long ms =
            s.resultsDue() || (s.needDispatch && !s.lanes[State::kClaims].out)
                ? 0
                : std::max<long>(
                      0, static_cast<long>(
                             std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
        try {
            zmq::poll(items, 2, std::chrono::milliseconds(std::min<long>(ms, 200)));
        } catch (const zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            throw;
        }
        // Drain everything that is waiting before dispatching once: under load, many DONEs
        // are answered by one claim per worker instead of one claim each.
        for (int i = 0; i < 10000; ++i) {
            std::vector<zmq::message_t> frames;
            auto got = zmq::recv_multipart(*s.router, std::back_inserter(frames),
                                           zmq::recv_flags::dontwait);
            if (!got) break;
            if (frames.size() < 2) continue;
            std::string body = frames.size() >= 3 ? frames[2].to_string() : "{}";
            try {
                s.handle(frames[0].to_string(), frames[1].to_string(), body);
            } catch (const std::exception& e) {
                s.logger.error("message %s from %s: %s", frames[1].to_string(),
                               frames[0].to_string(), std::string(e.what()));
            }
        }
        if (s.resultsDue()) {
            // The slots these results freed are filled in the same transaction: one commit
            // for the batch and the next claims.
            std::vector<WorkerEvent> batch;
            batch.swap(s.events);
            s.handOver(State::kResults, std::move(batch));
            s.needDispatch = false;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmq::message_t ping;
            while (pull.recv(ping, zmq::recv_flags::dontwait)) {
            }
        }
        std::deque<Command> commands;
        {
            std::lock_guard<std::mutex> lock(s.commandsMutex);
            commands.swap(s.commands);
        }
        for (const auto& c : commands) {
            if (c.kind == Command::Stored) {
                s.takeOutcome(static_cast<State::LaneId>(c.id));
                continue;
            }
            if (c.kind == Command::Early) {
                s.takeEarly(static_cast<State::LaneId>(c.id));
                continue;
            }
            if (c.kind == Command::Offered) {
                s.sendOfferedTasks();
                continue;
            }
            if (c.kind == Command::Wake) {
                // A wake means a commit made tasks ready: any worker may find some now. The
                // flags are cleared here, after the previous dispatch() set them, so a wake
                // that raced with a claim that found nothing is never lost.
                s.forgetNothingReady();
                s.needDispatch = true;
                continue;
            }
            if (c.kind == Command::Recall) {
                s.recall(c.id);
                continue;
            }
            for (auto& lane : s.lanes) {
                if (lane.out) lane.cancelled.insert(c.id);
            }
            s.unreserve(c.id);  // never sent: it only leaves (the engine has stopped it)
            for (auto& [rid, w] : s.workers) {
                if (w.inflight.count(c.id)) {
                    Poco::JSON::Object::Ptr msg = new Poco::JSON::Object;
                    msg->set("task_id", c.id);
                    s.send(rid, protocol::kCancel, json::stringify(msg));
                }
            }
        }
        auto now = Clock::now();
        if (now >= nextHeartbeat) {
            s.heartbeat(now);
            nextHeartbeat = now + hb;
        }
        if (now >= nextTick) {
            // Retry delays and handed-back tasks become ready without anyone waking us (so do
            // rows PostgreSQL's SKIP LOCKED passed over while another transaction held them).
            s.forgetNothingReady();
            s.needDispatch = true;
            nextTick = now + std::chrono::seconds(1);
            for (auto& [rid, w] : s.workers) {
                // Its tasks are not quick any more: no reserve until its next result says.
                if (s.releaseReserved(w, "not sent: the worker's slots stayed busy",
                                      now - kReserveHold) > 0) {
                    w.meanTaskMs = -1;
                }
            }
        }
        if (s.needDispatch && !s.lanes[State::kClaims].out) {
            s.needDispatch = false;
            if (s.anyoneCanTakeWork()) s.handOver(State::kClaims, {});
        }
        s.publishSnapshot();
    }
}

void Dispatcher::State::send(const std::string& routingId, const char* type,
                             const std::string& body) {
    std::array<zmq::const_buffer, 3> frames = {
        zmq::buffer(routingId), zmq::buffer(type, std::strlen(type)), zmq::buffer(body)};
    try {
        zmq::send_multipart(*router, frames, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
        // EHOSTUNREACH: the worker's connection is gone. Its tasks come back by lease expiry.
        logger.warning("send %s to %s failed: %s", std::string(type), routingId,
                       std::string(e.what()));
    }
}

void Dispatcher::State::handle(const std::string& rid, const std::string& type,
                               const std::string& body) {
    auto msg = json::parseObject(body, 64);
    auto it = workers.find(rid);
    if (type == protocol::kReady) {
        WorkerInfo& w = workers[rid];
        withdrawOffers(&rid);  // its slots and queues may have changed
        w.routingId = rid;
        w.name = msg->optValue<std::string>("name", rid);
        w.host = msg->optValue<std::string>("host", "");
        w.platform = msg->optValue<std::string>("platform", "");
        w.version = msg->optValue<std::string>("version", "");
        w.slots = std::max(1, msg->optValue<int>("slots", 1));
        w.queues.clear();
        if (auto q = msg->getArray("queues")) w.queues = json::toStringList(q);
        if (w.queues.empty()) w.queues = {"work"};
        w.lastSeen = Clock::now();
        w.stopping = false;
        w.nothingReady = false;
        std::vector<std::int64_t> running;
        if (auto r = msg->getArray("running")) {
            for (size_t i = 0; i < r->size(); ++i)
                running.push_back(r->getElement<std::int64_t>(i));
        }
        w.inflight.clear();
        for (std::int64_t id : running) w.inflight.emplace(id, Clock::time_point{});
        for (const auto& [otherId, other] : workers) {
            if (otherId != rid && other.name == w.name) {
                logger.warning("two connections call themselves '%s'; worker names must be unique",
                               w.name);
            }
        }
        logger.information("worker %s ready: queues %s, %d slots, %z running", w.name,
                           json::stringify(msg->getArray("queues")), w.slots, running.size());
        if (!running.empty()) {
            WorkerEvent e;
            e.kind = WorkerEvent::Kind::Running;
            e.worker = w.name;
            e.running = running;
            e.leaseUntil = nowMs() + static_cast<TimeMs>(config.leaseMs);
            events.push_back(std::move(e));
        }
        needDispatch = true;
        return;
    }
    if (it == workers.end()) {
        // A worker from before a restart of ours: ask it to introduce itself again, but
        // still record what it reports — a result is a result.
        send(rid, protocol::kReset, "{}");
    } else {
        it->second.lastSeen = Clock::now();
    }
    std::string name = it != workers.end() ? it->second.name : rid.substr(0, rid.rfind(':'));
    if (type == protocol::kHeartbeat) return;
    if (type == protocol::kBye) {
        if (it != workers.end()) {
            it->second.stopping = true;
            releaseReserved(it->second, "not sent: the worker is stopping");
            withdrawOffers(&rid);
        }
        logger.information("worker %s is stopping", name);
        return;
    }
    std::int64_t taskId = msg->optValue<std::int64_t>("task_id", 0);
    std::optional<int> exitCode;
    if (msg->has("exit_code") && !msg->get("exit_code").isEmpty()) {
        exitCode = msg->get("exit_code").convert<int>();
    }
    WorkerEvent e;
    e.taskId = taskId;
    e.worker = name;
    e.exitCode = exitCode;
    if (type == protocol::kStarted) {
        e.kind = WorkerEvent::Kind::Started;
    } else if (type == protocol::kLog) {
        e.kind = WorkerEvent::Kind::Log;
        e.severity = static_cast<Severity>(std::clamp(msg->optValue<int>("severity", 1), 0, 4));
        e.message = msg->optValue<std::string>("message", "");
    } else if (type == protocol::kDone) {
        if (it != workers.end()) finished(it->second, taskId);
        e.kind = WorkerEvent::Kind::Done;
        e.output = msg->getObject("output");
        e.spawn = msg->getArray("spawn");
        needDispatch = true;
    } else if (type == protocol::kFailed) {
        if (it != workers.end()) finished(it->second, taskId);
        e.kind = WorkerEvent::Kind::Failed;
        e.message = msg->optValue<std::string>("error", "failed");
        e.requeue = msg->optValue<bool>("requeue", false);
        needDispatch = true;
    } else {
        logger.warning("unknown message type '%s' from %s", type, name);
        return;
    }
    events.push_back(std::move(e));
}

Poco::JSON::Object::Ptr Dispatcher::State::assignMessage(const Task& task) {
    Poco::JSON::Object::Ptr msg = new Poco::JSON::Object;
    msg->set("task_id", task.id);
    msg->set("job_id", task.jobId);
    msg->set("name", task.name);
    msg->set("queue", task.queue);
    msg->set("builtin", task.builtin);
    msg->set("command", task.command);
    msg->set("args", json::arrayOrEmpty(task.args));
    msg->set("inputs", json::objectOrEmpty(task.inputs));
    Poco::JSON::Array::Ptr envInputs = new Poco::JSON::Array;
    if (const TaskClass* cls = engine.workflows().findTask(task.name)) {
        for (const auto& [name, in] : cls->input) {
            if (in.source == InputSource::Environment) envInputs->add(name);
        }
    }
    msg->set("env_inputs", envInputs);
    msg->set("env", json::objectOrEmpty(task.env));
    msg->set("timeout", task.timeoutSec);
    msg->set("attempt", task.attempt);
    return msg;
}

int Dispatcher::State::claimableCredit(const WorkerInfo& w) const {
    return w.nothingReady ? 0 : freeCredit(w);
}

int Dispatcher::State::reservedFor(const WorkerInfo& w) const {
    const bool quick = w.meanTaskMs >= 0 && w.meanTaskMs < kReserveBelowMs;
    return quick ? reservePerSlot * w.slots : 0;
}

int Dispatcher::State::heldByWorker(const WorkerInfo& w) const {
    return static_cast<int>(w.inflight.size() + w.reserve.size()) + w.asked;
}

int Dispatcher::State::freeCredit(const WorkerInfo& w) const {
    if (w.stopping) return 0;
    return dispatch::claimCredit(w.slots, reservedFor(w), heldByWorker(w) + offerHeld(w.routingId));
}

void Dispatcher::State::sendAssign(WorkerInfo& w, const Task& task) {
    w.inflight[task.id] = Clock::now();
    send(w.routingId, protocol::kAssign, json::stringify(assignMessage(task)));
}

void Dispatcher::State::sendReserved(WorkerInfo& w) {
    // Offered tasks come through the reserve too, so no slot waits for one on its way.
    while (!w.stopping && !w.reserve.empty() && static_cast<int>(w.inflight.size()) < w.slots) {
        Task task = std::move(w.reserve.front().task);
        w.reserve.pop_front();
        sendAssign(w, task);
    }
}

void Dispatcher::State::finished(WorkerInfo& w, std::int64_t taskId) {
    auto sent = w.inflight.find(taskId);
    if (sent != w.inflight.end()) {
        if (sent->second != Clock::time_point{}) {
            const double ms =
                std::chrono::duration<double, std::milli>(Clock::now() - sent->second).count();
            w.meanTaskMs = w.meanTaskMs < 0 ? ms : 0.8 * w.meanTaskMs + 0.2 * ms;
        }
        w.inflight.erase(sent);
    }
    sendReserved(w);
    offerSlots(w);
}

void Dispatcher::State::handBack(std::int64_t taskId, const std::string& worker,
                                 const std::string& why) {
    WorkerEvent e;
    e.kind = WorkerEvent::Kind::Failed;
    e.taskId = taskId;
    e.worker = worker;
    e.message = why;
    e.requeue = true;
    events.push_back(std::move(e));
}

size_t Dispatcher::State::releaseReserved(WorkerInfo& w, const std::string& why,
                                          std::optional<Clock::time_point> olderThan) {
    size_t released = 0;
    while (!w.reserve.empty() && (!olderThan || w.reserve.front().since < *olderThan)) {
        handBack(w.reserve.front().task.id, w.name, why);
        w.reserve.pop_front();
        ++released;
    }
    return released;
}

void Dispatcher::State::recall(std::int64_t taskId) {
    for (auto& lane : lanes) {
        if (lane.out) lane.recalled.insert(taskId);
    }
    if (WorkerInfo* w = unreserve(taskId)) handBack(taskId, w->name, kRecalled);
}

WorkerInfo* Dispatcher::State::unreserve(std::int64_t taskId) {
    for (auto& [rid, w] : workers) {
        auto it = std::find_if(w.reserve.begin(), w.reserve.end(),
                               [&](const WorkerInfo::Reserved& r) { return r.task.id == taskId; });
        if (it == w.reserve.end()) continue;
        w.reserve.erase(it);
        return &w;
    }
    return nullptr;
}

bool Dispatcher::State::anyoneCanTakeWork() const {
    for (const auto& [rid, w] : workers) {
        if (claimableCredit(w) > 0) return true;
    }
    return false;
}

void Dispatcher::State::forgetNothingReady() {
    ++wakes;
    for (auto& [rid, w] : workers) w.nothingReady = false;
    // Claims come next, and take the slots in the order of the queue, oldest first.
    withdrawOffers();
}

std::vector<Dispatcher::State::Ask> Dispatcher::State::asks() {
    std::vector<Ask> out;
    if (workers.empty()) return out;
    std::vector<WorkerInfo*> order;
    for (auto& [rid, w] : workers) order.push_back(&w);
    // Start the round at a different worker each time, so equal workers share the load.
    size_t start = roundRobin++ % order.size();
    for (size_t i = 0; i < order.size(); ++i) {
        WorkerInfo& w = *order[(start + i) % order.size()];
        const int credit = freeCredit(w);
        if (credit > 0) out.push_back({w.routingId, w.name, w.queues, credit, w.nothingReady});
    }
    return out;
}

void Dispatcher::State::claimAll(Tx& tx, const std::vector<Ask>& asks, bool tasksReady,
                                 std::vector<Claim>& claims) {
    claims.clear();
    // Never reallocated below: the claims' task lists are filled in place at COMMIT.
    claims.reserve(asks.size());
    TimeMs now = nowMs();
    for (const Ask& a : asks) {
        if (a.onlyIfReady && !tasksReady) continue;
        claims.push_back({a, {}});
        tx.claimTasksAtCommit(a.queues, a.name, a.credit, now, now + config.leaseMs,
                              claims.back().tasks);
    }
}

void Dispatcher::State::deliver(std::vector<Claim>& claims, const std::set<std::int64_t>& cancelled,
                                const std::set<std::int64_t>& recalled, bool current) {
    for (Claim& c : claims) {
        // The engine stopped or recalled these while the batch was out.
        c.tasks.erase(std::remove_if(c.tasks.begin(), c.tasks.end(),
                                     [&](const Task& t) {
                                         if (recalled.count(t.id)) {
                                             handBack(t.id, c.ask.name, kRecalled);
                                             return true;
                                         }
                                         return cancelled.count(t.id) > 0;
                                     }),
                      c.tasks.end());
        auto it = workers.find(c.ask.routingId);
        if (it == workers.end() || it->second.name != c.ask.name || it->second.stopping) {
            // Gone (or going) while the batch was out: the tasks go back to the queue.
            for (const Task& t : c.tasks) handBack(t.id, c.ask.name, "not sent: the worker left");
            continue;
        }
        WorkerInfo& w = it->second;
        // Per worker, not per queue: a task targeted at one worker is invisible to the others'
        // claims, so another worker's empty claim says nothing about this one.
        w.nothingReady = current && static_cast<int>(c.tasks.size()) < c.ask.credit;
        // Claimed tasks come before new ones: they take the slots it offered.
        if (!c.tasks.empty()) withdrawOffers(&w.routingId);
        const auto now = Clock::now();
        for (Task& t : c.tasks) w.reserve.push_back({std::move(t), now});
        sendReserved(w);
        offerSlots(w);
    }
}

void Dispatcher::State::handOver(LaneId id, std::vector<WorkerEvent> events) {
    Lane& lane = lanes[id];
    Batch batch{std::move(events), asks()};
    for (const Ask& ask : batch.asks) workers.at(ask.routingId).asked += ask.credit;
    lane.out = true;
    lane.asked = batch.asks;
    lane.wakes = wakes;
    if (!storeAside) {
        Outcome out = storeBatch(id, batch);
        {
            std::lock_guard<std::mutex> lock(storeMutex);
            lane.stored = std::move(out);
        }
        takeOutcome(id);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(storeMutex);
        lane.toStore = std::move(batch);
    }
    lane.wake.notify_one();
}

Dispatcher::State::Outcome Dispatcher::State::storeBatch(LaneId id, const Batch& batch) {
    Outcome out;
    if (batch.events.empty() && storeAside) {
        // Each worker's claim is one statement, a transaction by itself: one round trip on
        // PostgreSQL, where a transaction for them all took two more. So a claim that fails
        // takes none of those before it back; they are delivered. (On SQLite, where BEGIN
        // and COMMIT are no round trips, one transaction for all costs less.)
        for (size_t i = 0; i < batch.asks.size(); ++i) {
            try {
                std::vector<Claim> one;
                store.transactOneWrite([&](Tx& tx) { claimAll(tx, {batch.asks[i]}, false, one); });
                const bool found = !one.empty() && !one.front().tasks.empty();
                if (found && i + 1 < batch.asks.size()) {
                    // Committed: its tasks go out now, not after the other workers' claims
                    // (a job alone waited for a second claim that found nothing).
                    {
                        std::lock_guard<std::mutex> lock(storeMutex);
                        for (Claim& claim : one) lanes[id].early.push_back(std::move(claim));
                    }
                    post({Command::Early, id});
                    continue;
                }
                for (Claim& claim : one) out.claims.push_back(std::move(claim));
            } catch (const std::exception& e) {
                out.error = e.what();
                break;
            }
        }
        return out;
    }
    try {
        if (batch.events.empty()) {
            store.transact([&](Tx& tx) { claimAll(tx, batch.asks, false, out.claims); });
        } else {
            engine.applyWorkerEvents(batch.events, [&](Tx& tx, bool tasksReady) {
                out.tasksReady = tasksReady;
                claimAll(tx, batch.asks, tasksReady, out.claims);
            });
        }
    } catch (const std::exception& e) {
        out.claims.clear();
        out.lostEvents = batch.events.size();
        out.error = e.what();
    }
    return out;
}

void Dispatcher::State::storeLoop(LaneId id) {
    Lane& lane = lanes[id];
    std::unique_lock<std::mutex> lock(storeMutex);
    while (true) {
        lane.wake.wait(lock, [&] { return lane.toStore || storeStopping; });
        if (!lane.toStore) return;
        Batch batch = std::move(*lane.toStore);
        lane.toStore.reset();
        lock.unlock();
        Outcome out = storeBatch(id, batch);
        lock.lock();
        lane.stored = std::move(out);
        lock.unlock();
        post({Command::Stored, id});
        lock.lock();
    }
}

void Dispatcher::State::takeOutcome(LaneId id) {
    Lane& lane = lanes[id];
    std::optional<Outcome> out;
    {
        std::lock_guard<std::mutex> lock(storeMutex);
        out.swap(lane.stored);
    }
    if (!out) return;
    lane.out = false;
    for (const Ask& ask : lane.asked) returnCredit(ask);
    if (!out->error.empty()) {
        // The database is away for longer than the store's retries: these results are lost
        // here, but their tasks' leases bring them back to run again.
        logger.error("%z worker event(s) not recorded: %s", out->lostEvents, out->error);
    }
    // What the batch made ready may be for any worker, as after a wake; those with credit
    // then were asked for in the batch, and deliver() records what their claims found.
    const bool current = lane.wakes == wakes;
    if (out->tasksReady) forgetNothingReady();
    deliver(out->claims, lane.cancelled, lane.recalled, current);
    lane.cancelled.clear();
    lane.recalled.clear();
}

void Dispatcher::State::returnCredit(const Ask& ask) {
    auto w = workers.find(ask.routingId);
    if (w != workers.end() && w->second.name == ask.name) {
        w->second.asked = std::max(0, w->second.asked - ask.credit);
    }
}

void Dispatcher::State::takeEarly(LaneId id) {
    Lane& lane = lanes[id];
    std::vector<Claim> claims;
    {
        std::lock_guard<std::mutex> lock(storeMutex);
        claims.swap(lane.early);
    }
    for (const Claim& c : claims) {
        // Its credit comes back now rather than with the rest of the batch.
        auto a = std::find_if(lane.asked.begin(), lane.asked.end(), [&](const Ask& ask) {
            return ask.routingId == c.ask.routingId && ask.name == c.ask.name;
        });
        if (a == lane.asked.end()) continue;
        returnCredit(*a);
        lane.asked.erase(a);
    }
    deliver(claims, lane.cancelled, lane.recalled, lane.wakes == wakes);
}

void Dispatcher::State::heartbeat(Clock::time_point now) {
    const auto deadAfter = std::chrono::milliseconds(config.heartbeatMs * config.liveness);
    for (auto it = workers.begin(); it != workers.end();) {
        WorkerInfo& w = it->second;
        if (now - w.lastSeen > deadAfter) {
            logger.warning(
                "worker %s stopped heartbeating; its %z task(s) return when their lease ends",
                w.name, w.inflight.size());
            releaseReserved(w, "not sent: the worker stopped heartbeating");
            withdrawOffers(&w.routingId);
            it = workers.erase(it);
            continue;
        }
        send(w.routingId, protocol::kHeartbeat, "{}");
        if (!w.inflight.empty() || !w.reserve.empty()) {
            // What this server sent or holds, not everything the store has on the worker: a
            // task assigned without our knowing (a claim whose COMMIT got no answer, a reserve
            // from before our restart) must run out its lease and be queued again.
            std::vector<std::int64_t> held;
            for (const auto& [id, sent] : w.inflight) held.push_back(id);
            for (const auto& r : w.reserve) held.push_back(r.task.id);
            try {
                store.transact([&](Tx& tx) {
                    tx.renewLeases(w.name, held, nowMs() + static_cast<TimeMs>(config.leaseMs));
                });
            } catch (const std::exception& e) {
                logger.error("lease renewal for %s: %s", w.name, std::string(e.what()));
            }
        }
        ++it;
    }
}

int Dispatcher::State::offerHeld(const std::string& routingId) const {
    std::lock_guard<std::mutex> lock(offersMutex);
    auto it = offers.find(routingId);
    return it == offers.end() ? 0 : it->second.open + it->second.taken;
}

void Dispatcher::State::offerSlots(WorkerInfo& w) {
    if (!w.nothingReady || w.stopping || w.asked > 0) return;
    // The reserve too: a task committed to an offer needs no claim. Under load claims were a
    // fifth of PostgreSQL's statement time; with the reserve offered, 7,000 of 10,000 no-op
    // tasks took an offer (claims: 2,100 statements -> 650, 142 -> 49 ms; +13% end to end).
    // The queue was empty at the last claim, and a transaction takes an offer only when no
    // older task waits in the queue (EngineImpl::takeOffers), so none is passed.
    const int reserved = reservedFor(w);
    const int held = heldByWorker(w);
    std::lock_guard<std::mutex> lock(offersMutex);
    Offer& offer = offers[w.routingId];
    offer.name = w.name;
    offer.queues = w.queues;
    offer.open += dispatch::freePlaces(w.slots, reserved, held + offer.open + offer.taken);
}

void Dispatcher::State::withdrawOffers(const std::string* routingId) {
    std::lock_guard<std::mutex> lock(offersMutex);
    for (auto it = offers.begin(); it != offers.end();) {
        if (routingId && it->first != *routingId) {
            ++it;
            continue;
        }
        it->second.open = 0;
        // Forgotten once nothing is taken; a worker's next offer makes it again.
        it = it->second.taken == 0 ? offers.erase(it) : std::next(it);
    }
}

void Dispatcher::State::untake(const WorkerOffer& taken) {
    std::lock_guard<std::mutex> lock(offersMutex);
    auto it = offers.find(taken.routingId);
    if (it != offers.end() && it->second.taken > 0 && --it->second.taken == 0 &&
        it->second.open == 0) {
        offers.erase(it);
    }
}

void Dispatcher::State::sendOfferedTasks() {
    std::vector<OfferedTask> tasks;
    {
        std::lock_guard<std::mutex> lock(commandsMutex);
        tasks.swap(offered);
    }
    for (OfferedTask& o : tasks) {
        untake(o.offer);
        auto it = workers.find(o.offer.routingId);
        if (it == workers.end() || it->second.name != o.offer.worker || it->second.stopping) {
            // Gone (or going) since it offered the slot: the task goes back to the queue.
            handBack(o.task.id, o.offer.worker, "not sent: the worker left");
            continue;
        }
        it->second.reserve.push_back({std::move(o.task), Clock::now()});
        sendReserved(it->second);
    }
}

std::optional<WorkerOffer> Dispatcher::takeOffer(const std::string& queue,
                                                 const std::string& targetWorker) {
    State& s = *_state;
    std::lock_guard<std::mutex> lock(s.offersMutex);
    const size_t n = s.offers.size();
    if (n == 0) return std::nullopt;
    // Start at a different worker each time, so idle workers share new tasks.
    const size_t start = s.offerRound++ % n;
    auto it = std::next(s.offers.begin(), static_cast<std::ptrdiff_t>(start));
    for (size_t i = 0; i < n; ++i, ++it) {
        if (it == s.offers.end()) it = s.offers.begin();
        State::Offer& offer = it->second;
        if (offer.open <= 0 || (!targetWorker.empty() && offer.name != targetWorker)) continue;
        if (std::find(offer.queues.begin(), offer.queues.end(), queue) == offer.queues.end()) {
            continue;
        }
        --offer.open;
        ++offer.taken;
        return WorkerOffer{it->first, offer.name};
    }
    return std::nullopt;
}

void Dispatcher::returnOffer(const WorkerOffer& given) {
    _state->untake(given);
    // The slot is free again: the next claims may fill it (and find what it was for, if the
    // transaction is stored again on its own).
    wake();
}

void Dispatcher::sendOffered(std::vector<OfferedTask> tasks) {
    State& s = *_state;
    {
        std::lock_guard<std::mutex> lock(s.commandsMutex);
        if (!s.push) return;  // stopped: the tasks' leases bring them back
        for (OfferedTask& t : tasks) s.offered.push_back(std::move(t));
    }
    s.post({Command::Offered, 0});
}

void Dispatcher::State::publishSnapshot() {
    std::vector<WorkerSnapshot> next;
    next.reserve(workers.size());
    for (const auto& [rid, w] : workers) {
        next.push_back(
            {w.name, w.queues, w.slots, static_cast<int>(w.inflight.size()), offerHeld(rid)});
    }
    std::lock_guard<std::mutex> lock(snapshotMutex);
    snapshot.swap(next);
}

}  // namespace te
