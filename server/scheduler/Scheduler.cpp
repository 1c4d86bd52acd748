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
    _thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
    if (!_running.exchange(false)) return;
    _cv.notify_all();
    if (_thread.joinable()) _thread.join();
}

QueueStats Scheduler::stats() const {
    QueueStats s;
    s.workers = 1;
    s.working = _working ? 1 : 0;
    return s;
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
        for (const auto& s : schedules) {
            auto job = _jobs.find(s.name);
            if (!s.active || job == _jobs.end()) continue;
            auto last = lastRun.find(s.name);
            auto due = last == lastRun.end() ? started + std::chrono::seconds(s.firstInSec)
                                             : last->second + std::chrono::seconds(s.everySec);
            if (now < due) continue;
            lastRun[s.name] = now;
            _working = true;
            try {
                int n = job->second();
                if (n > 0) logger.debug("%s: %d", s.name, n);
            } catch (const std::exception& e) {
                // A database outage must not kill the scheduler: the next round tries again.
                logger.error("%s failed: %s", s.name, std::string(e.what()));
            }
            _working = false;
        }
        std::unique_lock<std::mutex> lock(_mutex);
        _cv.wait_for(lock, std::chrono::milliseconds(200), [this] { return !_running; });
    }
}

}  // namespace te
