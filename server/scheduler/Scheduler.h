#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "server/engine/Engine.h"

namespace te {

class Store;

// Runs the engine's periodic work as the schedules of GET /schedules: each active schedule's
// job runs every `every` seconds, the first time `first_in` seconds after start. The schedule
// rows are re-read every second, so PUT /scheduler and a new schedule_interval take effect
// without a restart.
class Scheduler {
public:
    using Job = std::function<int()>;  // returns how much it did, for the log

    explicit Scheduler(Store& store);
    ~Scheduler();
    // Registers the work behind a schedule name (before start()).
    void add(const std::string& name, Job job);
    void start();
    void stop();
    QueueStats stats() const;  // workers 1, working 0/1, pending 0

private:
    void run();
    Store& _store;
    std::map<std::string, Job> _jobs;
    std::thread _thread;
    std::atomic<bool> _running{false};
    std::atomic<bool> _working{false};
    std::mutex _mutex;
    std::condition_variable _cv;
};

}  // namespace te
