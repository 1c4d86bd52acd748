#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace te {

// GET /jobs/<id>?wait=S: the requests that wait for a job to end, and their wake-up. The
// engine reports the jobs that ended (completed or broken) after each commit (ended); a
// waiting request then reads the job again. A waiting request holds one of the HTTP threads,
// so at most `maxWaiting` wait at once; the others are answered at once, as without wait.
class JobWaits {
public:
    using Clock = std::chrono::steady_clock;

    explicit JobWaits(int maxWaiting) : _maxWaiting(maxWaiting) {}

    // After the commit that ended these jobs. Costs an atomic read when nobody waits.
    void ended(const std::vector<std::int64_t>& jobIds);
    // Ends every wait at once and lets no new one start: the server stops.
    void stop();

    // One request's wait for one job, registered for its whole life: an end reported between
    // the registration and the caller's next read of the job is not missed.
    class Waiter {
    public:
        Waiter(JobWaits& waits, std::int64_t jobId);
        ~Waiter();
        Waiter(const Waiter&) = delete;
        Waiter& operator=(const Waiter&) = delete;
        // False: too many wait already, or the server stops; answer at once.
        bool registered() const { return _registered; }
        // Until the job ends (true), the deadline passes or the server stops (false).
        bool waitUntil(Clock::time_point deadline);

    private:
        JobWaits& _waits;
        const std::int64_t _jobId;
        bool _registered = false;
        std::uint64_t _endsSeen = 0;
    };

private:
    struct Entry {
        int waiters = 0;
        std::uint64_t ends = 0;  // reports of this job's end since its first waiter came
    };
    const int _maxWaiting;
    std::mutex _mutex;
    std::condition_variable _changed;
    std::unordered_map<std::int64_t, Entry> _jobs;  // guarded by _mutex
    bool _stopping = false;                         // guarded by _mutex
    // Requests waiting: changed under _mutex, read without it by ended().
    std::atomic<int> _waiting{0};
};

}  // namespace te
