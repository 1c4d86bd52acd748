#include "bench/loadgen/Modes.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "bench/loadgen/Stats.h"

namespace te::bench {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Burst {
    double seconds = 0;
    long ok = 0;
    long errors = 0;
    std::string firstError;
    Stats latency;
};

// Runs `call` n times over `concurrency` threads, each with its own connection.
template <typename Call>
Burst burst(const Options& o, long n, Call call) {
    Burst b;
    std::atomic<long> next{0};
    std::mutex mutex;
    auto deadline = Clock::now() + std::chrono::seconds(o.timeoutSec);
    auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < std::max(1, o.concurrency); ++t) {
        threads.emplace_back([&] {
            ApiClient api(o.target);
            Stats local;
            long ok = 0, errors = 0;
            std::string firstError;
            while (next.fetch_add(1) < n && Clock::now() < deadline) {
                auto s = Clock::now();
                try {
                    call(api);
                    ++ok;
                    local.add(msSince(s));
                } catch (const std::exception& e) {
                    if (firstError.empty()) firstError = e.what();
                    ++errors;
                }
            }
            std::lock_guard<std::mutex> lock(mutex);
            b.ok += ok;
            b.errors += errors;
            b.latency.merge(local);
            if (b.firstError.empty()) b.firstError = firstError;
        });
    }
    for (auto& t : threads) t.join();
    b.seconds = msSince(t0) / 1000.0;
    return b;
}

std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"";
}

void report(const std::string& fields) { std::cout << "{" << fields << "}" << std::endl; }

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

}  // namespace

int runSubmit(const Options& o) {
    Burst b = burst(o, o.n, [&](ApiClient& api) { api.submit(o.workflow, o.params); });
    report("\"mode\":\"submit\",\"workflow\":" + quote(o.workflow) +
           ",\"n\":" + std::to_string(o.n) + ",\"concurrency\":" + std::to_string(o.concurrency) +
           ",\"ok\":" + std::to_string(b.ok) + ",\"errors\":" + std::to_string(b.errors) +
           ",\"seconds\":" + num(b.seconds) + ",\"jobs_per_s\":" + num(b.ok / b.seconds) + "," +
           b.latency.json() + (b.firstError.empty() ? "" : ",\"error\":" + quote(b.firstError)));
    return b.errors == 0 && b.ok == o.n ? 0 : 1;
}

int runE2e(const Options& o) {
    ApiClient poller(o.target);
    const std::int64_t before = poller.completedCount();
    auto t0 = Clock::now();
    std::atomic<std::int64_t> lastId{0};
    Burst b = burst(o, o.n, [&](ApiClient& api) {
        std::int64_t id = api.submit(o.workflow, o.params);
        std::int64_t seen = lastId.load();
        while (id > seen && !lastId.compare_exchange_weak(seen, id)) {
        }
    });
    auto deadline = t0 + std::chrono::seconds(o.timeoutSec);
    // The end is timed with cheap reads: the newest job (GET /jobs/<id>), then no job left
    // queued or started. /health, which counts every job by state (30-90 ms on a table of
    // 1M jobs), only checks the count once the clock has stopped.
    while (lastId > 0 && Clock::now() < deadline && !poller.completed(lastId)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    while (Clock::now() < deadline && poller.anyUnfinished()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double seconds = msSince(t0) / 1000.0;
    std::int64_t done = poller.completedCount() - before;
    while (done < b.ok && Clock::now() < deadline) {
        // Not all counted yet (a job in another state?): the clock runs on until they are.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        done = poller.completedCount() - before;
        seconds = msSince(t0) / 1000.0;
    }
    bool complete = done >= b.ok && b.ok == o.n;
    report("\"mode\":\"e2e\",\"workflow\":" + quote(o.workflow) + ",\"n\":" + std::to_string(o.n) +
           ",\"concurrency\":" + std::to_string(o.concurrency) +
           ",\"submitted\":" + std::to_string(b.ok) + ",\"completed\":" + std::to_string(done) +
           ",\"errors\":" + std::to_string(b.errors) + ",\"submit_seconds\":" + num(b.seconds) +
           ",\"seconds\":" + num(seconds) + ",\"jobs_per_s\":" + num(done / seconds) +
           ",\"all_completed\":" + (complete ? "true" : "false") +
           (b.firstError.empty() ? "" : ",\"error\":" + quote(b.firstError)));
    return complete && b.errors == 0 ? 0 : 1;
}

int runLatency(const Options& o) {
    ApiClient api(o.target);
    Stats rt;
    long failed = 0, polls = 0;
    const long warmup = std::min<long>(20, o.n / 10);
    auto deadline = Clock::now() + std::chrono::seconds(o.timeoutSec);
    for (long i = 0; i < o.n + warmup && Clock::now() < deadline; ++i) {
        auto t0 = Clock::now();
        std::int64_t id = api.submit(o.workflow, o.params);
        bool jobFailed = false;
        while (!api.completed(id, &jobFailed, o.waitSec)) {
            ++polls;
            if (Clock::now() > deadline) break;
            if (o.waitSec == 0 && o.pollUs > 0) {
                std::this_thread::sleep_for(std::chrono::microseconds(o.pollUs));
            }
        }
        if (i >= warmup) rt.add(msSince(t0));
        if (jobFailed) ++failed;
    }
    report("\"mode\":\"latency\",\"workflow\":" + quote(o.workflow) +
           ",\"n\":" + std::to_string(rt.count()) + ",\"poll_us\":" + std::to_string(o.pollUs) +
           ",\"wait_s\":" + std::to_string(o.waitSec) +
           ",\"polls_per_job\":" + num(rt.count() ? double(polls) / double(o.n + warmup) : 0) +
           ",\"failed\":" + std::to_string(failed) + "," + rt.json());
    return failed == 0 && static_cast<long>(rt.count()) == o.n ? 0 : 1;
}

int runChord(const Options& o) {
    ApiClient api(o.target);
    Stats wall;
    long failed = 0;
    long tasksOk = 0;
    auto deadline = Clock::now() + std::chrono::seconds(o.timeoutSec);
    const std::string params = "{\"count\":\"" + std::to_string(o.n) + "\"}";
    for (int r = 0; r < o.repeat && Clock::now() < deadline; ++r) {
        auto t0 = Clock::now();
        std::int64_t id = api.submit(o.workflow, params);
        bool jobFailed = false;
        bool done = false;
        while (!(done = api.completed(id, &jobFailed)) && Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::microseconds(std::max(o.pollUs, 1000)));
        }
        if (!done) break;
        wall.add(msSince(t0));
        if (jobFailed) ++failed;
        // Check the fan-out really ran: N noop tasks + the spawn task + the fan-in task.
        std::string tasks = api.get("/jobs/" + std::to_string(id) + "/tasks");
        long completedTasks = 0;
        for (auto p = tasks.find("\"state\":\"completed\""); p != std::string::npos;
             p = tasks.find("\"state\":\"completed\"", p + 1)) {
            ++completedTasks;
        }
        tasksOk = completedTasks;
    }
    bool ok = failed == 0 && static_cast<int>(wall.count()) == o.repeat && tasksOk == o.n + 2;
    report("\"mode\":\"chord\",\"workflow\":" + quote(o.workflow) +
           ",\"n\":" + std::to_string(o.n) + ",\"runs\":" + std::to_string(wall.count()) +
           ",\"tasks_completed\":" + std::to_string(tasksOk) +
           ",\"failed\":" + std::to_string(failed) +
           ",\"seconds\":" + num(wall.percentile(50) / 1000.0) + ",\"tasks_per_s\":" +
           num(wall.count() ? (o.n + 2) / (wall.percentile(50) / 1000.0) : 0) + "," + wall.json() +
           ",\"ok\":" + (ok ? "true" : "false"));
    return ok ? 0 : 1;
}

int runGet(const Options& o) {
    Burst b = burst(o, o.n, [&](ApiClient& api) { api.get(o.params); });
    report("\"mode\":\"get\",\"path\":" + quote(o.params) + ",\"n\":" + std::to_string(o.n) +
           ",\"concurrency\":" + std::to_string(o.concurrency) + ",\"ok\":" + std::to_string(b.ok) +
           ",\"errors\":" + std::to_string(b.errors) + ",\"seconds\":" + num(b.seconds) +
           ",\"requests_per_s\":" + num(b.ok / b.seconds) + "," + b.latency.json() +
           (b.firstError.empty() ? "" : ",\"error\":" + quote(b.firstError)));
    return b.errors == 0 ? 0 : 1;
}

int runDrain(const Options& o) {
    ApiClient api(o.target);
    auto t0 = Clock::now();
    auto deadline = t0 + std::chrono::seconds(o.timeoutSec);
    Poco::Int64 busy = -1;
    while (Clock::now() < deadline) {
        Poco::JSON::Parser parser;
        auto jobs =
            parser.parse(api.get("/health")).extract<Poco::JSON::Object::Ptr>()->getObject("jobs");
        busy = jobs->getValue<Poco::Int64>("queued") + jobs->getValue<Poco::Int64>("started");
        if (busy == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    report("\"mode\":\"drain\",\"busy\":" + std::to_string(busy) +
           ",\"seconds\":" + num(msSince(t0) / 1000.0));
    return busy == 0 ? 0 : 1;
}

}  // namespace te::bench
