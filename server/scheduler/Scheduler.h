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
// without a restart. Each schedule runs on its own thread, so a slow one (check_semaphores
// waiting on a semaphore URL) never holds back the others (expire_leases, queue_scheduled_jobs);
// a schedule whose previous run has not finished is not started again.
class Scheduler {
public:
    using Job = std::function<int()>;  // returns how much it did, for the log

    explicit Scheduler(Store& store);
    ~Scheduler();
    // Registers the work behind a schedule name (before start()).
    void add(const std::string& name, Job job);
    void start();
    void stop();
    QueueStats stats() const;  // workers: schedules, working: those running now, pending 0

private:
    struct Runner {
        std::thread thread;
        bool go = false;    // guarded by _mutex: run the job once
        bool busy = false;  // guarded by _mutex: the job is running
    };
    void run();
    void runJob(const std::string& name);
    Store& _store;
    std::map<std::string, Job> _jobs;
    std::map<std::string, Runner> _runners;  // one per job; the map is fixed while running
    std::thread _thread;
    std::atomic<bool> _running{false};
    std::atomic<int> _working{0};
    std::mutex _mutex;
    std::condition_variable _cv;
};

}  // namespace te
