#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace te {

// The one way into a running task from outside: the socket thread asks it to stop (CANCEL, or
// the worker's grace period ran out) and the task's thread notices. Thread-safe.
class TaskControl {
public:
    enum class Stop { None, Cancel, HandBack };

    void requestStop(Stop why) {
        {
            std::lock_guard<std::mutex> lock(_mutex);
            if (_why == Stop::None) _why = why;
        }
        _cond.notify_all();
    }
    Stop stopRequested() const {
        std::lock_guard<std::mutex> lock(_mutex);
        return _why;
    }
    // Sleeps up to `duration`; returns early, true, once a stop is requested.
    bool waitForStop(std::chrono::milliseconds duration) {
        std::unique_lock<std::mutex> lock(_mutex);
        return _cond.wait_for(lock, duration, [this] { return _why != Stop::None; });
    }

private:
    mutable std::mutex _mutex;
    std::condition_variable _cond;
    Stop _why = Stop::None;
};

}  // namespace te
