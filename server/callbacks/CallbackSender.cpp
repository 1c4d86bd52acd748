#include "server/callbacks/CallbackSender.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "server/callbacks/CallbackPoster.h"
#include "server/callbacks/CallbackRetry.h"
#include "server/engine/Engine.h"
#include "server/store/Store.h"

namespace te {
namespace {

using Key = std::pair<std::int64_t, std::string>;  // (jobId, url): one ordered chain
using Clock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr TimeMs kCountsRefreshMs = 500;
constexpr int kStoreBackoffMinMs = 200;
constexpr int kStoreBackoffMaxMs = 5000;

Key keyOf(const CallbackEvent& e) { return {e.jobId, e.url}; }

double random01() {
    thread_local std::mt19937 gen{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

// One dispatcher thread reads due events and hands them to `threads` delivery threads through
// a shared queue. Order per (job, url) holds because the store returns only the head of each
// chain and a key stays in `claimed` from the moment it is queued until its outcome is
// committed, so no two threads ever hold events of the same chain. A slow receiver occupies
// one delivery thread; the others keep serving other chains.
struct CallbackSender::Impl {
    Impl(Store& s, const ServerConfig& c)
        : store(s), config(c.callbacks), poster(c), log(Poco::Logger::get("callback")) {
        threads = std::max(1, config.threads);
    }

    Store& store;
    CallbackConfig config;
    CallbackPoster poster;
    Poco::Logger& log;
    int threads = 1;

    std::mutex mu;  // guards everything below; never held during HTTP or database calls
    std::condition_variable dispatchCv;  // dispatcher: wake() or a delivery finished
    std::condition_variable workCv;      // delivery threads: `ready` has events, or stop
    bool running = false;
    bool stopping = false;
    bool woken = false;
    bool fetching = false;
    std::deque<CallbackEvent> ready;
    std::set<Key> claimed;   // queued in `ready` or being delivered
    std::set<Key> released;  // released while a fetch ran: its rows may be stale, skip once

    std::atomic<std::int64_t> inFlight{0};
    std::atomic<std::int64_t> pending{0};

    std::thread dispatcher;
    std::vector<std::thread> workers;

    void dispatchLoop();
    void deliveryLoop();
    void deliver(CallbackEvent& event);
    void record(const CallbackEvent& event, bool logFailure);
    bool sleepUnlessStopping(int ms);
};

bool CallbackSender::Impl::sleepUnlessStopping(int ms) {
    std::unique_lock<std::mutex> lock(mu);
    dispatchCv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
    return !stopping;
}

void CallbackSender::Impl::dispatchLoop() {
    TimeMs lastCounts = 0;
    int storeBackoffMs = 0;
    const std::size_t capacity = static_cast<std::size_t>(threads) * 2;
    while (true) {
        std::size_t limit = 0;
        {
            std::unique_lock<std::mutex> lock(mu);
            dispatchCv.wait_for(lock, kPollInterval, [&] { return stopping || woken; });
            if (stopping) return;
            woken = false;
            if (ready.size() >= capacity) continue;  // a finished delivery wakes us
            // Enough rows to see past every chain we already hold.
            limit = claimed.size() + capacity;
            fetching = true;
            released.clear();
        }
        std::vector<CallbackEvent> due;
        bool failed = false;
        try {
            TimeMs now = nowMs();
            bool refresh = now - lastCounts >= kCountsRefreshMs;
            CallbackCounts counts;
            store.transact([&](Tx& tx) {
                due = tx.dueCallbacks(now, static_cast<int>(limit));
                if (refresh) counts = tx.callbackCounts();
            });
            if (refresh) {
                pending = counts.pending;
                lastCounts = now;
            }
            storeBackoffMs = 0;
        } catch (const std::exception& e) {
            failed = true;
            // Log the first failure of an outage and then at the backoff's ceiling only.
            if (storeBackoffMs == 0 || storeBackoffMs == kStoreBackoffMaxMs) {
                log.error("callback outbox unreadable, retrying: %s", std::string(e.what()));
            }
            storeBackoffMs =
                std::min(kStoreBackoffMaxMs, std::max(kStoreBackoffMinMs, storeBackoffMs * 2));
        }
        {
            std::lock_guard<std::mutex> lock(mu);
            fetching = false;
            for (auto& e : due) {
                if (ready.size() >= capacity) break;
                Key key = keyOf(e);
                if (claimed.count(key) || released.count(key)) continue;
                claimed.insert(key);
                ready.push_back(std::move(e));
            }
        }
        workCv.notify_all();
        if (failed && !sleepUnlessStopping(storeBackoffMs)) return;
    }
}

void CallbackSender::Impl::deliveryLoop() {
    while (true) {
        CallbackEvent event;
        {
            std::unique_lock<std::mutex> lock(mu);
            workCv.wait(lock, [&] { return stopping || !ready.empty(); });
            // Queued but unstarted events stay pending in the store for the next start.
            if (stopping) return;
            event = std::move(ready.front());
            ready.pop_front();
            ++inFlight;
        }
        try {
            deliver(event);
        } catch (const std::exception& e) {
            log.error("callback %s to %s: %s", std::to_string(event.id), event.url,
                      std::string(e.what()));
        }
        {
            std::lock_guard<std::mutex> lock(mu);
            Key key = keyOf(event);
            claimed.erase(key);
            if (fetching) released.insert(key);
            --inFlight;
            woken = true;  // the chain's next event may be due right now
        }
        dispatchCv.notify_one();
    }
}

void CallbackSender::Impl::deliver(CallbackEvent& event) {
    PostResult result = poster.post(event);
    TimeMs now = nowMs();
    ++event.attempts;
    bool logFailure = false;
    if (result.delivered) {
        event.state = CallbackEvent::State::Delivered;
        event.deliveredAt = now;
        event.lastError.clear();
    } else {
        event.lastError = result.error;
        if (now - event.createdAt > static_cast<TimeMs>(config.maxAgeSec) * 1000) {
            event.state = CallbackEvent::State::Dead;
            logFailure = true;
        } else {
            event.nextAttemptAt = now + CallbackRetry::delayMs(config, event.attempts, random01());
            logFailure = CallbackRetry::logFailure(event.attempts);
        }
        log.warning("callback %s to %s failed (attempt %d): %s", std::to_string(event.id),
                    event.url, event.attempts, event.lastError);
    }
    record(event, logFailure);
}

// Commits the attempt's outcome, retrying while the database is down: the key stays claimed
// meanwhile, so the chain does not move on. If we stop first the row stays pending and the
// event is sent again later (at least once, never lost).
void CallbackSender::Impl::record(const CallbackEvent& event, bool logFailure) {
    int backoffMs = kStoreBackoffMinMs;
    while (true) {
        try {
            store.transact([&](Tx& tx) {
                tx.updateCallback(event);
                if (!logFailure) return;
                LogEntry entry;
                entry.jobId = event.jobId;
                entry.taskId = event.taskId;
                entry.progname = "callback";
                if (event.state == CallbackEvent::State::Dead) {
                    entry.severity = Severity::Error;
                    entry.message = "callback to " + event.url + " abandoned after " +
                                    std::to_string(event.attempts) +
                                    " attempts: " + event.lastError;
                } else {
                    entry.severity = Severity::Warn;
                    entry.message = "callback to " + event.url + " failed (attempt " +
                                    std::to_string(event.attempts) + "): " + event.lastError +
                                    "; retrying";
                }
                tx.appendLog(entry);
            });
            return;
        } catch (const std::exception& e) {
            log.error("cannot record callback %s: %s", std::to_string(event.id),
                      std::string(e.what()));
        }
        std::unique_lock<std::mutex> lock(mu);
        if (workCv.wait_for(lock, std::chrono::milliseconds(backoffMs), [&] { return stopping; })) {
            return;
        }
        backoffMs = std::min(kStoreBackoffMaxMs, backoffMs * 2);
    }
}

CallbackSender::CallbackSender(Store& store, const ServerConfig& config)
    : _impl(std::make_unique<Impl>(store, config)) {}

CallbackSender::~CallbackSender() { stop(); }

void CallbackSender::start() {
    std::lock_guard<std::mutex> lock(_impl->mu);
    if (_impl->running) return;
    _impl->running = true;
    _impl->stopping = false;
    _impl->woken = true;  // look at once: events may have waited for us across a restart
    _impl->dispatcher = std::thread([this] { _impl->dispatchLoop(); });
    for (int i = 0; i < _impl->threads; ++i) {
        _impl->workers.emplace_back([this] { _impl->deliveryLoop(); });
    }
}

void CallbackSender::stop() {
    {
        std::lock_guard<std::mutex> lock(_impl->mu);
        if (!_impl->running) return;
        _impl->stopping = true;
    }
    _impl->dispatchCv.notify_all();
    _impl->workCv.notify_all();
    // Each delivery thread finishes its request (bounded by the timeout) and records it.
    if (_impl->dispatcher.joinable()) _impl->dispatcher.join();
    for (auto& t : _impl->workers) t.join();
    std::lock_guard<std::mutex> lock(_impl->mu);
    _impl->workers.clear();
    _impl->ready.clear();
    _impl->claimed.clear();
    _impl->running = false;
}

void CallbackSender::wake() {
    {
        std::lock_guard<std::mutex> lock(_impl->mu);
        _impl->woken = true;
    }
    _impl->dispatchCv.notify_one();
}

QueueStats CallbackSender::stats() const {
    QueueStats s;
    s.workers = _impl->threads;
    s.working = _impl->inFlight;
    s.pending = _impl->pending;
    return s;
}

}  // namespace te
