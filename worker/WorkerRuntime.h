#pragma once

#include <memory>

#include "shared/config/WorkerConfig.h"

namespace te {

// The worker: connects to the server over ZeroMQ (DEALER), announces READY, heartbeats, runs
// assigned tasks (processes or builtins) in its slots and reports them. Shared by the Linux
// daemon (worker/main.cpp) and the Windows service (winservice/).
class WorkerRuntime {
public:
    explicit WorkerRuntime(WorkerConfig config);
    ~WorkerRuntime();

    // Runs until stop() is called; then stops taking tasks, lets running ones finish for up to
    // graceSec, cancels and hands back the rest (reports FAILED with requeue: true so the
    // server queues them again), sends BYE and returns. Throws ConfigError for a bad config.
    void run();
    // Thread-safe and async-signal-safe to call from a signal-handling thread.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace te
