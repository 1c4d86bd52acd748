#include "server/http/JobWaits.h"

namespace te {

void JobWaits::ended(const std::vector<std::int64_t>& jobIds) {
    // A request that registers after this read re-reads the job, and sees this end: the
    // commit was done before this call.
    if (_waiting.load() == 0) return;
    bool woke = false;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        for (std::int64_t id : jobIds) {
            auto it = _jobs.find(id);
            if (it == _jobs.end()) continue;
            ++it->second.ends;
            woke = true;
        }
    }
    if (woke) _changed.notify_all();
}

void JobWaits::stop() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
    }
    _changed.notify_all();
}

JobWaits::Waiter::Waiter(JobWaits& waits, std::int64_t jobId) : _waits(waits), _jobId(jobId) {
    std::lock_guard<std::mutex> lock(_waits._mutex);
    if (_waits._stopping || _waits._waiting >= _waits._maxWaiting) return;
    _registered = true;
    ++_waits._waiting;
    Entry& entry = _waits._jobs[_jobId];
    ++entry.waiters;
    _endsSeen = entry.ends;
}

JobWaits::Waiter::~Waiter() {
    if (!_registered) return;
    std::lock_guard<std::mutex> lock(_waits._mutex);
    --_waits._waiting;
    auto it = _waits._jobs.find(_jobId);
    if (it != _waits._jobs.end() && --it->second.waiters == 0) _waits._jobs.erase(it);
}

bool JobWaits::Waiter::waitUntil(Clock::time_point deadline) {
    if (!_registered) return false;
    std::unique_lock<std::mutex> lock(_waits._mutex);
    const Entry& entry = _waits._jobs.at(_jobId);
    return _waits._changed.wait_until(lock, deadline, [&] {
        return entry.ends != _endsSeen || _waits._stopping;
    }) && entry.ends != _endsSeen;
}

}  // namespace te
