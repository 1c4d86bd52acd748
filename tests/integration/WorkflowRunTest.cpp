// The workflow engine end to end: stages, fan-out/fan-in, failure modes, retries, pause,
// break, rerun — on a real server with real worker processes.
#include <Poco/File.h>
#include <cppunit/extensions/HelperMacros.h>

#include <future>
#include <thread>

#include "server/store/Store.h"
#include "shared/util/Json.h"
#include "tests/integration/Cluster.h"

using namespace te;
using namespace te::test;
using namespace std::chrono_literals;

namespace {

int countTasks(Cluster& c, std::int64_t id, const std::string& name,
               const std::string& state = "") {
    auto tasks = c.tasks(id);
    int n = 0;
    for (size_t i = 0; i < tasks->size(); ++i) {
        auto t = tasks->getObject(i);
        if (str(t, "name") == name && (state.empty() || str(t, "state") == state)) ++n;
    }
    return n;
}

// GET /health's counts, kept by the server since its start, must end as the tables say
// (they may differ for a moment while a commit lands, never for good).
void expectCountsAsStored(Cluster& c) {
    Store& store = c.server().store();
    std::string kept, stored;
    const bool same = waitUntil(
        [&] {
            kept = describe(store.stateCounts());
            store.read([&](Tx& tx) { stored = describe(tx.countStates()); });
            return kept == stored;
        },
        5s);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("counts kept, then as stored", stored, kept);
    CPPUNIT_ASSERT(same);
}

// A job whose one task runs until `gate` exists: submitted, and running when this returns.
std::int64_t runningHold(Cluster& c, const std::string& gate) {
    const std::int64_t id = c.submit("hold", "{\"gate\": \"" + gate + "\"}");
    CPPUNIT_ASSERT(waitUntil([&] { return countTasks(c, id, "hold", "running") == 1; }, 20s));
    return id;
}

void startOneWorker(Cluster& c, int slots = 4) {
    c.startServer();
    c.startWorker("w", "work", slots);
    CPPUNIT_ASSERT(waitUntil([&] { return c.workerConnected("w"); }, 20s));
}

}  // namespace

class WorkflowRunTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkflowRunTest);
    CPPUNIT_TEST(testSpawnOfFiveMakesFiveTasksAndFanInSeesAll);
    CPPUNIT_TEST(testFailedStageStopsTheJob);
    CPPUNIT_TEST(testFailedStageCanLetTheJobGoOn);
    CPPUNIT_TEST(testFailureInALargeFanOut);
    CPPUNIT_TEST(testRetriesWithDelay);
    CPPUNIT_TEST(testPauseAndResume);
    CPPUNIT_TEST(testBreak);
    CPPUNIT_TEST(testRerun);
    CPPUNIT_TEST(testWaitAnswersWhenTheJobEnds);
    CPPUNIT_TEST(testWaitEndsWithTheDeadlineABreakOrTheServer);
    CPPUNIT_TEST(testWaitRefusesBadValues);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSpawnOfFiveMakesFiveTasksAndFanInSeesAll() {
        Cluster c;
        startOneWorker(c);
        std::string out = c.dir().file("fanin.json");
        std::int64_t id = c.submit("fanout", "{\"count\": 5, \"out\": \"" + out + "\"}");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "spawn-n"));
        CPPUNIT_ASSERT_EQUAL(5, countTasks(c, id, "output", "completed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "fan-in", "completed"));
        // The fan-in task got every fanned-out output, as one JSON array, through the context.
        auto outputs = json::arrayOrEmpty(readFile(out));
        CPPUNIT_ASSERT_EQUAL(size_t(5), outputs->size());
        std::set<std::string> seen;
        for (size_t i = 0; i < outputs->size(); ++i) {
            auto o = outputs->getObject(i);
            for (const auto& kv : *o)
                seen.insert(kv.first + "=" + kv.second.convert<std::string>());
        }
        for (int i = 0; i < 5; ++i) {
            std::string kv = "out_" + std::to_string(i) + "=v" + std::to_string(i);
            CPPUNIT_ASSERT_MESSAGE(kv, seen.count(kv));
        }
        // Stage order: every fan-out task finished before the fan-in started.
        auto tasks = c.engine().tasks("", id);
        TimeMs fanInStart = 0, lastFanOutEnd = 0;
        for (const auto& t : tasks) {
            if (t.name == "fan-in") fanInStart = t.startedAt;
            if (t.name == "output") lastFanOutEnd = std::max(lastFanOutEnd, t.finishedAt);
        }
        CPPUNIT_ASSERT(fanInStart >= lastFanOutEnd);
        expectCountsAsStored(c);
    }

    void testFailedStageStopsTheJob() {
        Cluster c;
        startOneWorker(c);
        std::int64_t id = c.submit("fail-stop");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        CPPUNIT_ASSERT(job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(0, countTasks(c, id, "noop"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "fail", "failed"));
        expectCountsAsStored(c);
    }

    void testFailedStageCanLetTheJobGoOn() {
        Cluster c;
        startOneWorker(c);
        std::int64_t id = c.submit("fail-continue");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "fail", "failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "echo", "completed"));
        CPPUNIT_ASSERT(c.logText(id).find("1 failed task(s)") != std::string::npos);
        expectCountsAsStored(c);
    }

    // Past 32 tasks the store no longer reads a job's tasks whole; on PostgreSQL the stage's
    // probes are then answered from the rows it keeps (RowCache).
    void testFailureInALargeFanOut() {
        Cluster c;
        startOneWorker(c);
        const std::string params = R"({"count": 40, "fail_item": "37"})";
        std::int64_t stopped = c.submit("fanout-fail-stop", params);
        std::int64_t goesOn = c.submit("fanout-fail-continue", params);
        auto job = c.waitFinished(stopped);
        CPPUNIT_ASSERT_MESSAGE(c.logText(stopped), job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, stopped, "fail-item", "failed"));
        CPPUNIT_ASSERT_EQUAL(0, countTasks(c, stopped, "noop"));
        job = c.waitFinished(goesOn);
        CPPUNIT_ASSERT_MESSAGE(c.logText(goesOn), !job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(39, countTasks(c, goesOn, "fail-item", "completed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, goesOn, "fail-item", "failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, goesOn, "noop", "completed"));
        CPPUNIT_ASSERT(c.logText(goesOn).find("1 failed task(s)") != std::string::npos);
        expectCountsAsStored(c);
    }

    void testRetriesWithDelay() {
        Cluster c;
        startOneWorker(c);
        std::string counter = c.dir().file("counter");
        std::int64_t id = c.submit("flaky", "{\"counter\": \"" + counter + "\"}");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(std::string("3\n"), readFile(counter));
        auto tasks = c.engine().tasks("", id);
        CPPUNIT_ASSERT_EQUAL(size_t(3), tasks.size());
        for (int i = 0; i < 3; ++i) {
            CPPUNIT_ASSERT_EQUAL(i + 1, tasks[i].attempt);
            CPPUNIT_ASSERT_EQUAL(std::string(i < 2 ? "retried" : "completed"),
                                 std::string(toString(tasks[i].state)));
        }
        // retry_delay: 1 s in the task class: no attempt started sooner after the last one.
        for (int i = 1; i < 3; ++i) {
            CPPUNIT_ASSERT_MESSAGE("attempt " + std::to_string(i + 1) + " came too soon",
                                   tasks[i].startedAt - tasks[i - 1].finishedAt >= 900);
        }
        std::string log = c.logText(id);
        CPPUNIT_ASSERT(log.find("retry 1 of 3") != std::string::npos);
        CPPUNIT_ASSERT(log.find("retry 2 of 3") != std::string::npos);
        expectCountsAsStored(c);
    }

    void testPauseAndResume() {
        Cluster c;
        startOneWorker(c);
        std::string gate = c.dir().file("gate");
        std::int64_t id = c.submit("hold-then-noop", "{\"gate\": \"" + gate + "\"}");
        CPPUNIT_ASSERT(waitUntil([&] { return countTasks(c, id, "hold", "running") == 1; }, 20s));
        auto r = c.request("PUT", "/jobs/" + std::to_string(id), "{\"queue_state\": \"paused\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        writeFile(gate, "open");
        // The running task finishes, but a paused job starts nothing new.
        CPPUNIT_ASSERT(waitUntil([&] { return countTasks(c, id, "hold", "completed") == 1; }, 20s));
        std::this_thread::sleep_for(1500ms);
        CPPUNIT_ASSERT_EQUAL(std::string("paused"), str(c.job(id), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(0, countTasks(c, id, "noop"));
        r = c.request("PUT", "/jobs/" + std::to_string(id), "{\"queue_state\": \"queued\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "hold"));  // resumed where it stopped
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "noop", "completed"));
        expectCountsAsStored(c);
    }

    void testBreak() {
        Cluster c;
        startOneWorker(c);
        std::string gate = c.dir().file("gate");
        std::int64_t id = c.submit("hold-then-noop", "{\"gate\": \"" + gate + "\"}");
        CPPUNIT_ASSERT(waitUntil([&] { return countTasks(c, id, "hold", "running") == 1; }, 20s));
        auto r = c.request("PUT", "/jobs/" + std::to_string(id), "{\"queue_state\": \"broken\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("broken"), str(c.job(id), "queue_state"));
        CPPUNIT_ASSERT_EQUAL(1, countTasks(c, id, "hold", "cancelled"));
        // The worker was told to stop the task: its slot frees up for new work long before
        // the held task's own 30 s would have run out.
        std::int64_t next = c.submit("echo");
        auto job = c.waitFinished(next, 15s);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        std::this_thread::sleep_for(500ms);
        CPPUNIT_ASSERT_EQUAL(0, countTasks(c, id, "noop"));
        CPPUNIT_ASSERT_EQUAL(std::string("broken"), str(c.job(id), "queue_state"));
        // A broken job cannot be paused or resumed.
        r = c.request("PUT", "/jobs/" + std::to_string(id), "{\"queue_state\": \"queued\"}");
        CPPUNIT_ASSERT_EQUAL(400, r.status);
        expectCountsAsStored(c);
    }

    // GET /jobs/<id>?wait=S answers when the job ends, not before, and without polling.
    void testWaitAnswersWhenTheJobEnds() {
        Cluster c;
        startOneWorker(c);
        const std::string gate = c.dir().file("gate");
        const std::int64_t id = runningHold(c, gate);
        const std::string path = "/jobs/" + std::to_string(id) + "?wait=20";
        const auto asked = std::chrono::steady_clock::now();
        auto waiting = std::async(std::launch::async, [&] { return c.request("GET", path); });
        CPPUNIT_ASSERT_MESSAGE("still waiting while the job runs",
                               waiting.wait_for(700ms) == std::future_status::timeout);
        Poco::File(gate).createFile();
        CPPUNIT_ASSERT(waiting.wait_for(15s) == std::future_status::ready);
        const HttpResult r = waiting.get();
        const auto took = std::chrono::steady_clock::now() - asked;
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, std::string("completed"),
                                     str(r.object(), "queue_state"));
        CPPUNIT_ASSERT_MESSAGE("answered at the end, long before its 20 s", took < 10s);
        // A job that has ended already is answered at once, and many waits answer together.
        std::vector<std::future<HttpResult>> many;
        for (int i = 0; i < 4; ++i) {
            many.push_back(std::async(std::launch::async, [&] { return c.request("GET", path); }));
        }
        for (auto& f : many) {
            CPPUNIT_ASSERT(f.wait_for(5s) == std::future_status::ready);
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(f.get().object(), "queue_state"));
        }
        // wait=0 is a plain read.
        CPPUNIT_ASSERT_EQUAL(
            std::string("completed"),
            str(c.request("GET", "/jobs/" + std::to_string(id) + "?wait=0").object(),
                "queue_state"));
    }

    void testWaitEndsWithTheDeadlineABreakOrTheServer() {
        Cluster c;
        startOneWorker(c);
        const std::string gate = c.dir().file("gate");
        const std::int64_t id = runningHold(c, gate);
        const std::string job = "/jobs/" + std::to_string(id);
        // The deadline: the job as it is then.
        auto asked = std::chrono::steady_clock::now();
        HttpResult r = c.request("GET", job + "?wait=0.5");
        auto took = std::chrono::steady_clock::now() - asked;
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("started"), str(r.object(), "queue_state"));
        CPPUNIT_ASSERT_MESSAGE("waited its half second", took >= 450ms && took < 5s);
        // A break ends the job: the wait answers.
        auto waiting =
            std::async(std::launch::async, [&] { return c.request("GET", job + "?wait=20"); });
        CPPUNIT_ASSERT(waiting.wait_for(500ms) == std::future_status::timeout);
        r = c.request("PUT", job, "{\"queue_state\": \"broken\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT(waiting.wait_for(5s) == std::future_status::ready);
        CPPUNIT_ASSERT_EQUAL(std::string("broken"), str(waiting.get().object(), "queue_state"));
        // A server that stops answers its waits at once instead of holding its stop.
        const std::int64_t other = runningHold(c, gate + "-2");
        waiting = std::async(std::launch::async, [&] {
            return c.request("GET", "/jobs/" + std::to_string(other) + "?wait=25");
        });
        CPPUNIT_ASSERT(waiting.wait_for(500ms) == std::future_status::timeout);
        asked = std::chrono::steady_clock::now();
        c.stopServer();
        took = std::chrono::steady_clock::now() - asked;
        CPPUNIT_ASSERT(waiting.wait_for(1s) == std::future_status::ready);
        r = waiting.get();
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("started"), str(r.object(), "queue_state"));
        CPPUNIT_ASSERT_MESSAGE("stopped without waiting for the wait", took < 10s);
    }

    void testWaitRefusesBadValues() {
        Cluster c;
        c.startServer();
        const std::int64_t id = c.submit("noop");
        for (const std::string bad : {"-1", "31", "abc", "nan", "inf", ""}) {
            HttpResult r = c.request("GET", "/jobs/" + std::to_string(id) + "?wait=" + bad);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(bad + ": " + r.body, 400, r.status);
            CPPUNIT_ASSERT_MESSAGE(
                r.body,
                r.body.find("wait must be a number of seconds from 0 to 30") != std::string::npos);
        }
        // An unknown job is a 404 at once, waiting or not.
        HttpResult r = c.request("GET", "/jobs/999999?wait=5");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 404, r.status);
    }

    void testRerun() {
        Cluster c;
        startOneWorker(c);
        std::int64_t id = c.submit("echo", "{\"message\": \"once more\", \"content_id\": \"c-1\"}");
        c.waitFinished(id);
        auto r = c.request("POST", "/jobs/" + std::to_string(id) + "/rerun");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        std::int64_t again = r.object()->getValue<std::int64_t>("id");
        CPPUNIT_ASSERT(again != id);
        CPPUNIT_ASSERT_EQUAL(std::string("broken"), str(c.job(id), "queue_state"));
        auto job = c.waitFinished(again);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        auto params = job->getObject("parameters");
        CPPUNIT_ASSERT_EQUAL(std::string("once more"), params->getValue<std::string>("message"));
        CPPUNIT_ASSERT(c.logText(again).find("once more") != std::string::npos);
        expectCountsAsStored(c);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkflowRunTest);
