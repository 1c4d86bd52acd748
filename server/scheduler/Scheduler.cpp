#include "server/scheduler/Scheduler.h"

#include <Poco/Logger.h>

#include <chrono>

#include "server/store/Store.h"

namespace te {

using Clock = std::chrono::steady_clock;

Scheduler::Scheduler(Store& store) : _store(store) {}

Scheduler::~Scheduler() { stop(); }

void Scheduler::add(const std::string& name, Job job) { _jobs[name] = std::move(job); }

void Scheduler::start() {
    _running = true;
    for (const auto& kv : _jobs) _runners[kv.first];
    for (auto& [name, runner] : _runners) {
        const std::string* key = &name;
        runner.thread = std::thread([this, key] { runJob(*key); });
    }
    _thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        if (!_running.exchange(false)) return;
    }
    _cv.notify_all();
    if (_thread.joinable()) _thread.join();
    // A job under way finishes its round (each is bounded: store calls, 5 s semaphore GETs).
    for (auto& [name, runner] : _runners) {
        if (runner.thread.joinable()) runner.thread.join();
    }
    _runners.clear();
}

QueueStats Scheduler::stats() const {
    QueueStats s;
    s.workers = static_cast<std::int64_t>(_jobs.size());
    s.working = _working;
    return s;
}

void Scheduler::runJob(const std::string& name) {
    Poco::Logger& logger = Poco::Logger::get("scheduler");
    Runner& runner = _runners.at(name);
    const Job& job = _jobs.at(name);
    std::unique_lock<std::mutex> lock(_mutex);
    while (true) {
        _cv.wait(lock, [&] { return runner.go || !_running; });
        if (!_running) return;
        runner.go = false;
        runner.busy = true;
        lock.unlock();
        ++_working;
        try {
            int n = job();
            if (n > 0) logger.debug("%s: %d", name, n);
        } catch (const std::exception& e) {
            // A database outage must not kill the scheduler: the next round tries again.
            logger.error("%s failed: %s", name, std::string(e.what()));
        }
        --_working;
        lock.lock();
        runner.busy = false;
    }
}

void Scheduler::run() {
    Poco::Logger& logger = Poco::Logger::get("scheduler");
    const auto started = Clock::now();
    std::map<std::string, Clock::time_point> lastRun;
    std::vector<Schedule> schedules;
    auto nextReload = Clock::now();
    while (_running) {
        auto now = Clock::now();
        if (now >= nextReload) {
            try {
                _store.transact([&](Tx& tx) { schedules = tx.schedules(); });
            } catch (const std::exception& e) {
                logger.error("cannot read schedules: %s", std::string(e.what()));
            }
            nextReload = now + std::chrono::seconds(1);
        }
        std::unique_lock<std::mutex> lock(_mutex);
        bool startedAny = false;
        for (const auto& s : schedules) {
            auto runner = _runners.find(s.name);
            if (!s.active || runner == _runners.end()) continue;
            // Still running its last round: the next one starts when it is due after that.
            if (runner->second.busy || runner->second.go) continue;
            auto last = lastRun.find(s.name);
            auto due = last == lastRun.end() ? started + std::chrono::seconds(s.firstInSec)
                                             : last->second + std::chrono::seconds(s.everySec);
            if (now < due) continue;
            lastRun[s.name] = now;
            runner->second.go = true;
            startedAny = true;
        }
        if (startedAny) _cv.notify_all();
        _cv.wait_for(lock, std::chrono::milliseconds(200), [this] { return !_running; });
    }
}

}  // namespace te
