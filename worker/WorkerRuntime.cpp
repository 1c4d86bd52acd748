#include "worker/WorkerRuntime.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "shared/Errors.h"
#include "shared/protocol/Protocol.h"
#include "shared/util/Json.h"
#include "shared/util/SystemdNotify.h"
#include "worker/Assignment.h"
#include "worker/Builtins.h"
#include "worker/ExecutorPool.h"
#include "worker/Messages.h"
#include "worker/Platform.h"
#include "worker/RandomHex.h"
#include "worker/TaskRunner.h"

// The socket thread. run()'s thread owns the DEALER to the server and the inproc PULL that the
// executor threads report through; nothing else touches either. It heartbeats, re-announces
// itself to a silent or restarted server, hands ASSIGNs to the ExecutorPool (noop runs right
// here: it has nothing to wait for, and a benchmark pushes thousands of them per second), and
// forwards the executors' reports.

namespace te {

using Clock = std::chrono::steady_clock;

namespace {
// After the grace period, how long handed-back tasks get to die and report (process groups
// get SIGTERM, then SIGKILL two seconds later).
constexpr int kHandBackBudgetMs = 10000;
// The free-disk check before each task is cached this long: noop floods must stay cheap.
constexpr int kDiskCheckCacheMs = 1000;
}  // namespace

struct WorkerRuntime::Impl {
    explicit Impl(WorkerConfig c) : config(std::move(c)), log(Poco::Logger::get("worker")) {}

    void run();
    void sendToServer(const char* type, const std::string& body);
    void sendReady();
    void onServerMessage(const std::vector<zmq::message_t>& frames);
    void onAssign(const std::string& body);
    void onCancel(const std::string& body);
    void onReport(const std::vector<zmq::message_t>& frames);
    void sendResult(long long taskId, const TaskOutcome& outcome);
    bool enoughDisk(std::string& why);
    void beginStop();

    WorkerConfig config;
    Poco::Logger& log;
    std::atomic<bool> stopRequested{false};
    std::unique_ptr<zmq::socket_t> dealer;
    std::unique_ptr<ExecutorPool> pool;
    // Accepted and not yet reported DONE/FAILED (queued or running), for READY and CANCEL.
    std::map<long long, std::shared_ptr<TaskControl>> active;
    bool stopping = false;
    Clock::time_point lastDiskCheck{};
    long long lastFreeMb = 0;
};

WorkerRuntime::WorkerRuntime(WorkerConfig config)
    : _impl(std::make_unique<Impl>(std::move(config))) {}

WorkerRuntime::~WorkerRuntime() = default;

void WorkerRuntime::run() { _impl->run(); }

void WorkerRuntime::stop() { _impl->stopRequested.store(true); }

void WorkerRuntime::Impl::run() {
    if (config.slots < 1) throw ConfigError(config.file + ": slots: must be at least 1");
    if (config.name.empty())
        config.name = platform::hostName() + "-" + std::to_string(Poco::Process::id());
    try {
        Poco::File(config.workDir).createDirectories();
    } catch (const Poco::Exception& e) {
        throw ConfigError(config.file + ": work_dir: cannot create " + config.workDir + ": " +
                          e.displayText());
    }
    zmq::context_t context;
    // The context's destructor waits for every socket to close: close ours first, on every
    // way out of here (a bad endpoint throws).
    struct CloseSockets {
        Impl& impl;
        ~CloseSockets() {
            impl.pool.reset();
            impl.dealer.reset();
        }
    } closeSockets{*this};
    dealer = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    dealer->set(zmq::sockopt::routing_id, config.name + ":" + randomHex(8));
    dealer->set(zmq::sockopt::linger, 3000);
    // No high-water mark: a burst of results (thousands of noops) must queue, not be dropped;
    // what can pile up while the server is away is bounded by heartbeats and rate-limited logs.
    dealer->set(zmq::sockopt::sndhwm, 0);
    // Nor on what comes in, which the server bounds (a worker's slots and reserve). With one,
    // a full queue stops ZeroMQ reading the connection, the server's heartbeats with it, and
    // a loop slow to drain it for one heartbeat timeout loses the connection and what was in
    // flight (seen under ThreadSanitizer: 2,000 ASSIGNs at once, 300 ms heartbeats).
    dealer->set(zmq::sockopt::rcvhwm, 0);
    dealer->set(zmq::sockopt::reconnect_ivl, 100);
    dealer->set(zmq::sockopt::reconnect_ivl_max, 2000);
    // ZMTP heartbeats notice a dead TCP peer (a server host that vanished) and reconnect.
    dealer->set(zmq::sockopt::heartbeat_ivl, config.heartbeatMs);
    dealer->set(zmq::sockopt::heartbeat_timeout, config.heartbeatMs * config.liveness);
    try {
        dealer->connect(config.server);
    } catch (const zmq::error_t& e) {
        throw ConfigError(config.file + ": server: bad endpoint '" + config.server +
                          "': " + e.what());
    }
    zmq::socket_t reports(context, zmq::socket_type::pull);
    reports.set(zmq::sockopt::rcvhwm, 0);
    const std::string endpoint = "inproc://te-worker-reports-" + randomHex(8);
    reports.bind(endpoint);
    pool = std::make_unique<ExecutorPool>(context, endpoint, config);
    pool->start(config.slots);
    log.information("worker %s connecting to %s, queues served: %d, slots: %d", config.name,
                    config.server, static_cast<int>(config.queues.size()), config.slots);
    // What `systemctl status` shows: this worker and how it stands with its server.
    auto status = [&](const std::string& relation) {
        return "STATUS=worker " + config.name + ", " + relation + " " + config.server;
    };
    // Ready once set up, not once the server answers: a worker waits for its server as long
    // as it takes, and `systemctl start` must not wait with it.
    systemd::notify("READY=1\n" + status("server"));

    sendReady();
    const auto heartbeat = std::chrono::milliseconds(config.heartbeatMs);
    const auto silence = heartbeat * config.liveness;
    auto lastHeard = Clock::now();
    // Whether the server has spoken since the last silence: what `systemctl status` shows.
    bool answered = false;
    auto nextHeartbeat = Clock::now() + heartbeat;
    Clock::time_point graceEnd, handBackEnd;
    bool handedBack = false;
    for (;;) {
        zmq::pollitem_t items[] = {{dealer->handle(), 0, ZMQ_POLLIN, 0},
                                   {reports.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(50));
        // Bounded batches keep heartbeats going under a flood of messages.
        for (int i = 0; i < 1000 && (items[0].revents & ZMQ_POLLIN); ++i) {
            std::vector<zmq::message_t> frames;
            if (!zmq::recv_multipart(*dealer, std::back_inserter(frames),
                                     zmq::recv_flags::dontwait))
                break;
            lastHeard = Clock::now();
            if (!answered) {
                answered = true;
                systemd::notify(status("connected to"));
            }
            onServerMessage(frames);
        }
        for (int i = 0; i < 10000 && (items[1].revents & ZMQ_POLLIN); ++i) {
            std::vector<zmq::message_t> frames;
            if (!zmq::recv_multipart(reports, std::back_inserter(frames),
                                     zmq::recv_flags::dontwait))
                break;
            onReport(frames);
        }
        auto now = Clock::now();
        if (now >= nextHeartbeat) {
            sendToServer(protocol::kHeartbeat, "{}");
            nextHeartbeat = now + heartbeat;
        }
        if (now - lastHeard > silence) {
            log.warning(
                "nothing heard from the server for %d ms: announcing again",
                static_cast<int>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(silence).count()));
            sendReady();
            lastHeard = now;
            if (answered) {
                answered = false;
                systemd::notify(status("no answer from"));
            }
        }
        if (stopRequested && !stopping) {
            beginStop();
            graceEnd = now + std::chrono::seconds(config.graceSec);
        }
        if (!stopping) continue;
        if (active.empty()) break;
        if (!handedBack && now >= graceEnd) {
            log.warning("grace period over: handing back %d running task(s)",
                        static_cast<int>(active.size()));
            for (auto& [id, control] : active) control->requestStop(TaskControl::Stop::HandBack);
            handedBack = true;
            handBackEnd = now + std::chrono::milliseconds(kHandBackBudgetMs);
        }
        if (handedBack && now >= handBackEnd) {
            log.error("%d task(s) did not end after being killed; handing them back anyway",
                      static_cast<int>(active.size()));
            auto left = active;
            for (auto& [id, control] : left) {
                sendResult(id, TaskOutcome::failed("worker stopped before the task ended",
                                                   std::nullopt, true));
            }
            break;
        }
    }
    pool->stop();
    // Reports sent between the last poll and the threads' exit.
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(reports, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        onReport(frames);
        frames.clear();
    }
    pool.reset();
    dealer.reset();  // lingers up to 3 s so the last reports reach the server
    log.information("worker %s stopped", config.name);
}

void WorkerRuntime::Impl::sendToServer(const char* type, const std::string& body) {
    std::array<zmq::const_buffer, 2> frames = {zmq::buffer(std::string_view(type)),
                                               zmq::buffer(body)};
    // Never block the socket thread. With no high-water mark this fails only when the socket
    // cannot queue at all; the server then re-leases what it did not hear about.
    if (!zmq::send_multipart(*dealer, frames, zmq::send_flags::dontwait)) {
        log.warning("server unreachable, dropped a %s message", std::string(type));
    }
}

void WorkerRuntime::Impl::sendReady() {
    std::vector<long long> running;
    for (const auto& entry : active) running.push_back(entry.first);
    sendToServer(protocol::kReady, messages::ready(config, config.name, running));
}

void WorkerRuntime::Impl::sendResult(long long taskId, const TaskOutcome& outcome) {
    sendToServer(messages::resultType(outcome), messages::result(taskId, outcome));
    active.erase(taskId);
}

void WorkerRuntime::Impl::onServerMessage(const std::vector<zmq::message_t>& frames) {
    // Tolerate an empty delimiter frame in front (a REQ-style peer).
    std::size_t first = !frames.empty() && frames[0].size() == 0 ? 1 : 0;
    if (frames.size() < first + 1) return;
    std::string type = frames[first].to_string();
    std::string body = frames.size() > first + 1 ? frames[first + 1].to_string() : "{}";
    if (type == protocol::kHeartbeat) return;
    if (type == protocol::kAssign) return onAssign(body);
    if (type == protocol::kCancel) return onCancel(body);
    if (type == protocol::kReset) {
        log.information("server asked for a reset: announcing again");
        return sendReady();
    }
    log.warning("unknown message from the server: %s", type.substr(0, 40));
}

void WorkerRuntime::Impl::onAssign(const std::string& body) {
    Assignment a;
    try {
        a = Assignment::parse(body);
    } catch (const Error& e) {
        log.error("bad ASSIGN from the server: %s", std::string(e.what()));
        return;
    }
    if (active.count(a.taskId)) {
        log.warning("task %s assigned again while it runs here: ignored", std::to_string(a.taskId));
        return;
    }
    if (stopping) {
        sendResult(a.taskId, TaskOutcome::failed("worker is stopping", std::nullopt, true));
        return;
    }
    std::string why;
    if (!enoughDisk(why)) {
        log.warning("refusing task %s: %s", std::to_string(a.taskId), why);
        sendResult(a.taskId, TaskOutcome::failed(why, std::nullopt, true));
        return;
    }
    if (a.builtin == "noop") {
        // Inline: nothing to wait for, and no slot needed for an instant. DONE alone, no
        // STARTED: the server records the start with the result (same log row and start
        // callback). Sent separately, a STARTED reached the server's socket drain on its own
        // for a quarter to a third of single noop jobs, and its transaction then ran before
        // the DONE's, on the job's round trip.
        TaskControl control;
        struct NoLog : TaskReporter {
            void log(int, const std::string&) override {}
        } noLog;
        sendResult(a.taskId, TaskRunner(config).run(a, control, noLog));
        return;
    }
    if (static_cast<int>(active.size()) >= config.slots) {
        log.warning("task %s assigned beyond the %d slots: queued until a slot frees",
                    std::to_string(a.taskId), config.slots);
    }
    auto control = std::make_shared<TaskControl>();
    active[a.taskId] = control;
    pool->submit(a, control);
}

void WorkerRuntime::Impl::onCancel(const std::string& body) {
    long long id = 0;
    try {
        auto obj = json::parseObject(body);
        id = obj->get("task_id").convert<long long>();
    } catch (const Poco::Exception& e) {
        log.error("bad CANCEL from the server: %s", e.displayText());
        return;
    } catch (const std::exception& e) {
        log.error("bad CANCEL from the server: %s", std::string(e.what()));
        return;
    }
    auto it = active.find(id);
    if (it == active.end()) {
        log.information("CANCEL for task %s, which is not here", std::to_string(id));
        return;
    }
    log.information("cancelling task %s", std::to_string(id));
    if (pool->removeQueued(id)) {
        sendResult(id, TaskOutcome::failed("cancelled"));
    } else {
        it->second->requestStop(TaskControl::Stop::Cancel);
    }
}

void WorkerRuntime::Impl::onReport(const std::vector<zmq::message_t>& frames) {
    if (frames.size() != 3) return;
    std::string type = frames[1].to_string();
    std::array<zmq::const_buffer, 2> out = {zmq::buffer(frames[1].data(), frames[1].size()),
                                            zmq::buffer(frames[2].data(), frames[2].size())};
    if (!zmq::send_multipart(*dealer, out, zmq::send_flags::dontwait)) {
        log.warning("server unreachable, dropped a %s message", type);
    }
    if (type == protocol::kDone || type == protocol::kFailed) {
        active.erase(std::stoll(frames[0].to_string()));
    }
}

bool WorkerRuntime::Impl::enoughDisk(std::string& why) {
    if (config.minFreeDiskMb <= 0) return true;
    auto now = Clock::now();
    if (now - lastDiskCheck > std::chrono::milliseconds(kDiskCheckCacheMs)) {
        try {
            lastFreeMb = platform::freeDiskMb(config.workDir);
        } catch (const Error& e) {
            log.warning("%s", std::string(e.what()));
            lastFreeMb = config.minFreeDiskMb;  // unknown: do not refuse work over it
        }
        lastDiskCheck = now;
    }
    if (lastFreeMb >= config.minFreeDiskMb) return true;
    why = "not enough disk space in " + config.workDir + ": " + std::to_string(lastFreeMb) +
          " MB free, min_free_disk_mb is " + std::to_string(config.minFreeDiskMb);
    return false;
}

void WorkerRuntime::Impl::beginStop() {
    stopping = true;
    log.information("stopping: no more tasks; %d running get up to %d s to finish",
                    static_cast<int>(active.size()), config.graceSec);
    sendToServer(protocol::kBye, "{}");
    for (const auto& a : pool->takeQueued()) {
        sendResult(a.taskId, TaskOutcome::failed("worker stopped before the task started",
                                                 std::nullopt, true));
    }
}

}  // namespace te
