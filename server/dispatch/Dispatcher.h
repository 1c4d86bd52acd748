#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/engine/EngineImpl.h"
#include "shared/config/ServerConfig.h"

namespace te {

class Store;

// Hands queued tasks to workers over ZeroMQ (protocol: shared/protocol/Protocol.h).
// One thread owns the ROUTER socket and the worker registry; other threads reach it only
// through wake()/cancel(), which queue a command and ping the thread over an inproc socket.
// Credit-based flow: a worker never has more unfinished ASSIGNs than its slots.
class Dispatcher {
public:
    Dispatcher(const DispatchConfig& config, Store& store, EngineImpl& engine);
    ~Dispatcher();

    // Binds config.bind (throws ConfigError "dispatch.bind: ..." when it cannot) and starts
    // the thread.
    void start();
    void stop();
    // "tcp://127.0.0.1:N": where a worker on this host connects (a wildcard bind is shown as
    // 127.0.0.1, and "*" ports resolved).
    std::string endpoint() const;

    void wake();                       // queued tasks may be waiting: dispatch now
    void cancel(std::int64_t taskId);  // tell the task's worker to stop it
    // The task's job was paused: if it is claimed for a worker but not sent (in reserve), it
    // goes back to the store (where it waits for the resume); sent, it runs on.
    void recall(std::int64_t taskId);
    std::vector<WorkerSnapshot> workers() const;

    // Offers (EngineImpl::Hooks::takeOffer), called from the engine's threads. A worker whose
    // last claim found nothing offers its free slots; an offer taken holds its slot until the
    // task comes back through sendOffered or returnOffer. A wake (new tasks for claims),
    // the worker leaving and a claim that finds it tasks withdraw what is not taken.
    std::optional<WorkerOffer> takeOffer(const std::string& queue, const std::string& targetWorker);
    void returnOffer(const WorkerOffer& offer);  // the transaction that took it did not commit
    void sendOffered(std::vector<OfferedTask> tasks);  // committed, assigned: send them

private:
    struct State;
    void run();
    std::unique_ptr<State> _state;
};

}  // namespace te
