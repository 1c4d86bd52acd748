// Dispatch over ZeroMQ end to end: a real server, real taskengine-worker processes.
#include <Poco/File.h>
#include <cppunit/extensions/HelperMacros.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "server/dispatch/Dispatcher.h"
#include "server/store/Store.h"
#include "tests/integration/Cluster.h"

using namespace te;
using namespace te::test;
using namespace std::chrono_literals;

namespace {

void waitWorkers(Cluster& c, const std::vector<std::string>& names) {
    for (const auto& n : names) {
        CPPUNIT_ASSERT_MESSAGE("worker " + n + " did not connect",
                               waitUntil([&] { return c.workerConnected(n); }, 20s));
    }
}

// "state/worker" of the task of a one-task job ("none" before it has one).
std::string taskStateOf(Cluster& c, std::int64_t jobId) {
    auto t = c.tasks(jobId);
    return t->size() == 1 ? str(t->getObject(0), "state") + "/" + str(t->getObject(0), "worker")
                          : std::string("none");
}

// Submits a job whose one task runs until `gate` exists, and waits until it runs: it keeps a
// slot busy.
std::int64_t runningHold(Cluster& c, const std::string& gate) {
    const std::int64_t id = c.submit("hold", "{\"gate\": \"" + gate + "\"}");
    CPPUNIT_ASSERT(waitUntil([&] { return taskStateOf(c, id).rfind("running/", 0) == 0; }, 20s));
    return id;
}

// Starts the server and worker "quick" of one slot, which then finishes a few no-op jobs: its
// tasks count as quick, so it gets tasks claimed ahead (the reserve).
void startQuickWorker(Cluster& c) {
    c.startServer();
    c.startWorker("quick", "work", 1);
    waitWorkers(c, {"quick"});
    for (int i = 0; i < 5; ++i) {
        auto done = c.waitFinished(c.submit("noop"));
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(done, "queue_state"));
    }
}

// The places a worker offers to new tasks, taken or not (-1: no such worker).
int offeredBy(Cluster& c, const std::string& worker) {
    for (const auto& w : c.server().dispatcher().workers()) {
        if (w.name == worker) return w.offered;
    }
    return -1;
}

}  // namespace

class DispatchTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DispatchTest);
    CPPUNIT_TEST(testTasksReachOnlyWorkersOfTheirQueue);
    CPPUNIT_TEST(testNoWorkerRunsMoreThanItsSlots);
    CPPUNIT_TEST(testThousandTasksAcrossFourWorkersCompleteOnce);
    CPPUNIT_TEST(testKilledWorkersTaskCompletesElsewhereAfterLease);
    CPPUNIT_TEST(testFailuresAreClearInTheLog);
    CPPUNIT_TEST(testHostileParameterArrivesLiterally);
    CPPUNIT_TEST(testBroadcastToNamedWorkers);
    CPPUNIT_TEST(testBroadcastToMissingWorkerIsIncomplete);
    CPPUNIT_TEST(testNextStageIsDispatchedAtOnce);
    CPPUNIT_TEST(testReservedTaskGoesToAnIdleWorkerWhenSlotsStayBusy);
    CPPUNIT_TEST(testTaskAssignedUnbeknownToTheServerRunsOutItsLease);
    CPPUNIT_TEST(testPausedJobsReservedTaskWaitsForTheResume);
    CPPUNIT_TEST(testNewTaskGoesStraightToAnIdleWorker);
    CPPUNIT_TEST_SUITE_END();

public:
    // An idle worker offers its free slot (Dispatcher::takeOffer): a new job's task is
    // committed assigned to it, by the transaction that made it, and sent without a claim.
    // Its row is read the moment the submission returns, before a claim could have run; a
    // busy slot is not offered.
    void testNewTaskGoesStraightToAnIdleWorker() {
        Cluster c;
        c.startServer();
        c.startWorker("idle", "work", 1);
        waitWorkers(c, {"idle"});
        auto offered = [&] { return offeredBy(c, "idle"); };
        for (int run = 0; run < 3; ++run) {
            CPPUNIT_ASSERT(waitUntil([&] { return offered() == 1; }, 10s));
            Submission s;
            s.client = "test";
            s.workflow = "sleep";
            s.parameters = new Poco::JSON::Object;
            s.parameters->set("seconds", "0.3");
            const std::int64_t id = c.engine().submit(s);
            std::vector<Task> tasks;
            c.server().store().read([&](Tx& tx) { tasks = tx.listTasks(id); });
            CPPUNIT_ASSERT_EQUAL(size_t(1), tasks.size());
            CPPUNIT_ASSERT_EQUAL(std::string("idle"), tasks[0].worker);
            CPPUNIT_ASSERT(tasks[0].state == TaskState::Assigned ||
                           tasks[0].state == TaskState::Running);
            CPPUNIT_ASSERT(waitUntil([&] { return taskStateOf(c, id) == "running/idle"; }, 10s));
            CPPUNIT_ASSERT_EQUAL(0, offered());
            CPPUNIT_ASSERT_EQUAL(std::string("completed"),
                                 str(c.waitFinished(id, 20s), "queue_state"));
        }
    }

    void testTasksReachOnlyWorkersOfTheirQueue() {
        Cluster c;
        c.startServer();
        c.startWorker("linux-1", "work");
        c.startWorker("capture-1", "windows_capture");
        waitWorkers(c, {"linux-1", "capture-1"});
        std::string log = c.dir().file("stages.log");
        std::int64_t id = c.submit("stages", "{\"log\": \"" + log + "\"}");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
        // Stage order and routing in one: each stage appends "<stage> <worker>".
        CPPUNIT_ASSERT_EQUAL(std::string("first linux-1\nsecond capture-1\nthird linux-1\n"),
                             readFile(log));
        auto tasks = c.tasks(id);
        CPPUNIT_ASSERT_EQUAL(size_t(3), tasks->size());
        CPPUNIT_ASSERT_EQUAL(std::string("windows_capture"), str(tasks->getObject(1), "queue"));
        CPPUNIT_ASSERT_EQUAL(std::string("capture-1"), str(tasks->getObject(1), "worker"));
    }

    void testNoWorkerRunsMoreThanItsSlots() {
        Cluster c;
        c.startServer();
        c.startWorker("slots-2", "work", 2);
        waitWorkers(c, {"slots-2"});
        std::vector<std::int64_t> ids;
        for (int i = 0; i < 8; ++i) ids.push_back(c.submit("sleep", "{\"seconds\": \"0.3\"}"));
        int maxRunning = 0;
        bool allDone = waitUntil(
            [&] {
                // The dispatcher's count: tasks sent and not finished. Not the store's
                // assigned and running tasks: on PostgreSQL the dispatcher stores batches on
                // a thread of its own, and a result that came while one was being stored
                // waits for the next, while the slot it freed is claimed for at once; the
                // store then shows the finished task running beside the next one.
                for (const auto& w : c.server().dispatcher().workers()) {
                    maxRunning = std::max(maxRunning, w.running);
                }
                for (auto id : ids) {
                    if (c.job(id)->getValue<std::string>("queue_state") != "completed")
                        return false;
                }
                return true;
            },
            30s);
        CPPUNIT_ASSERT(allDone);
        CPPUNIT_ASSERT_MESSAGE("saw " + std::to_string(maxRunning) + " tasks at once",
                               maxRunning <= 2);
        CPPUNIT_ASSERT_EQUAL(2, maxRunning);  // and it did use both slots
    }

    // A paused job starts nothing new: neither a queued task nor one claimed ahead for a busy
    // worker (its reserve, shown as assigned), which goes back and waits for the resume.
    void testPausedJobsReservedTaskWaitsForTheResume() {
        Cluster c;
        startQuickWorker(c);
        const std::string gate = c.dir().file("gate");
        const std::int64_t hold = runningHold(c, gate);
        const std::int64_t id = c.submit("noop");
        auto stateOf = [&] { return taskStateOf(c, id); };
        CPPUNIT_ASSERT(waitUntil([&] { return stateOf() == "assigned/quick"; }, 10s));
        const std::string path = "/jobs/" + std::to_string(id);
        auto r = c.request("PUT", path, "{\"queue_state\": \"paused\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        // The slot frees at once, well within the second a reserved task may wait to be sent:
        // nothing of the paused job may take it.
        writeFile(gate, "open");
        CPPUNIT_ASSERT_EQUAL(std::string("completed"),
                             str(c.waitFinished(hold, 20s), "queue_state"));
        std::this_thread::sleep_for(1500ms);
        CPPUNIT_ASSERT_EQUAL(std::string("waiting/"), stateOf());
        CPPUNIT_ASSERT_EQUAL(std::string("paused"), str(c.job(id), "queue_state"));
        r = c.request("PUT", path, "{\"queue_state\": \"queued\"}");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(c.waitFinished(id, 20s), "queue_state"));
        CPPUNIT_ASSERT(c.logText(id).find("its job was paused") != std::string::npos);
    }

    // The store holds a task as assigned to a worker that the dispatcher never sent it to (a
    // claim whose COMMIT got no answer, a reserve from before the server's restart): made
    // here by claiming it through a second store. The worker stays busy meanwhile, so its
    // leases are renewed at every heartbeat; that task's must not be, or it would stay
    // assigned, and its job unfinished, for as long as the worker has work.
    void testTaskAssignedUnbeknownToTheServerRunsOutItsLease() {
        Cluster::Options o;
        o.leaseMs = 1500;
        Cluster c(o);
        c.startServer();
        c.startWorker("busy", "work", 2);
        waitWorkers(c, {"busy"});
        const std::string gate = c.dir().file("gate");
        const std::int64_t hold = runningHold(c, gate);
        // Its second stage goes to the windows_capture queue, which no worker serves.
        const std::int64_t id =
            c.submit("stages", "{\"log\": \"" + c.dir().file("stages.log") + "\"}");
        auto secondStage = [&] {
            auto t = c.tasks(id);
            return t->size() == 2 ? str(t->getObject(1), "state") : std::string("none");
        };
        CPPUNIT_ASSERT(waitUntil([&] { return secondStage() == "queued"; }, 20s));
        auto other = Store::open(c.database());
        std::vector<Task> claimed;
        other->transact([&](Tx& tx) {
            claimed = tx.claimTasks({"windows_capture"}, "busy", 1, nowMs(), nowMs() + 1500);
        });
        CPPUNIT_ASSERT_EQUAL(size_t(1), claimed.size());
        CPPUNIT_ASSERT_EQUAL(std::string("assigned"), secondStage());
        CPPUNIT_ASSERT_MESSAGE("the lease of a task the server never sent was renewed",
                               waitUntil([&] { return secondStage() == "queued"; }, 10s));
        CPPUNIT_ASSERT_EQUAL(std::string("running"), str(c.tasks(hold)->getObject(0), "state"));
        CPPUNIT_ASSERT(c.logText(id).find("worker busy stopped responding") != std::string::npos);
        writeFile(gate, "open");
        CPPUNIT_ASSERT_EQUAL(std::string("completed"),
                             str(c.waitFinished(hold, 20s), "queue_state"));
    }

    // A worker of quick tasks holds its next tasks ahead (the reserve), but a task held for a
    // worker whose slot then stays busy goes back to the queue after a second. Its reserve is
    // offered to new tasks (Dispatcher::takeOffer) while the queue is empty: each takes a
    // place, and once none is left the next task waits in the queue.
    void testReservedTaskGoesToAnIdleWorkerWhenSlotsStayBusy() {
        Cluster c;
        startQuickWorker(c);
        // Its one slot is now busy for 6 s; the next jobs' tasks are held for it in reserve.
        std::int64_t slow = c.submit("sleep", "{\"seconds\": \"6\"}");
        CPPUNIT_ASSERT(c.waitState(slow, "started", 10s));
        CPPUNIT_ASSERT(
            waitUntil([&] { return str(c.tasks(slow)->getObject(0), "state") == "running"; }, 10s));
        // The reserve holds one task per slot on SQLite, six on PostgreSQL, all offered: a
        // claim would have refilled it only while half of it was free (four on PostgreSQL).
        const char* backend = std::getenv("TE_TEST_BACKEND");
        const size_t filled = backend && std::string(backend) == "postgresql" ? 6 : 1;
        CPPUNIT_ASSERT(waitUntil([&] { return offeredBy(c, "quick") == int(filled); }, 5s));
        auto stateOf = [&](std::int64_t id) { return taskStateOf(c, id); };
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::int64_t> next;
        for (size_t i = 0; i < filled; ++i) {
            next.push_back(c.submit("noop"));
            CPPUNIT_ASSERT_MESSAGE(
                "noop " + std::to_string(i) + " not reserved for the busy worker",
                waitUntil([&] { return stateOf(next.back()) == "assigned/quick"; }, 5s));
        }
        next.push_back(c.submit("noop"));
        std::this_thread::sleep_for(300ms);
        CPPUNIT_ASSERT_EQUAL(std::string("queued/"), stateOf(next.back()));
        c.startWorker("idle", "work", 1);
        waitWorkers(c, {"idle"});
        for (std::int64_t id : next) {
            auto job = c.waitFinished(id, 20s);
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
            CPPUNIT_ASSERT_EQUAL(std::string("idle"), str(c.tasks(id)->getObject(0), "worker"));
        }
        const auto took = std::chrono::steady_clock::now() - t0;
        CPPUNIT_ASSERT_MESSAGE("waited for the busy slot", took < 5s);
        for (size_t i = 0; i < filled; ++i) {
            CPPUNIT_ASSERT_MESSAGE(
                c.logText(next[i]),
                c.logText(next[i]).find("handed back by quick") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(std::string("started"), str(c.job(slow), "queue_state"));
    }

    void testThousandTasksAcrossFourWorkersCompleteOnce() {
        Cluster c;
        c.startServer();
        for (int i = 1; i <= 4; ++i) c.startWorker("w" + std::to_string(i), "work", 2);
        waitWorkers(c, {"w1", "w2", "w3", "w4"});
        std::int64_t id = c.submit("fanout-noop", "{\"count\": 1000}");
        auto job = c.waitFinished(id, 120s);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        std::vector<Task> tasks = c.engine().tasks("", id);
        std::set<std::string> workers;
        int noops = 0;
        for (const auto& t : tasks) {
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), std::string(toString(t.state)));
            CPPUNIT_ASSERT_EQUAL(1, t.attempt);
            if (t.name == "noop") ++noops;
            workers.insert(t.worker);
        }
        CPPUNIT_ASSERT_EQUAL(1000, noops);
        CPPUNIT_ASSERT_EQUAL(size_t(1001), tasks.size());
        CPPUNIT_ASSERT_MESSAGE("work was spread over several workers", workers.size() >= 2);
        // Exactly once: one "completed" log line per task.
        std::map<std::int64_t, int> completions;
        for (const auto& e : c.engine().logs("", id)) {
            if (e.message.find("completed successfully") != std::string::npos && e.taskId) {
                ++completions[e.taskId];
            }
        }
        CPPUNIT_ASSERT_EQUAL(size_t(1001), completions.size());
        for (const auto& [taskId, n] : completions) CPPUNIT_ASSERT_EQUAL(1, n);
    }

    void testKilledWorkersTaskCompletesElsewhereAfterLease() {
        Cluster::Options o;
        o.leaseMs = 2000;
        Cluster c(o);
        c.startServer();
        c.startWorker("victim", "work", 1);
        waitWorkers(c, {"victim"});
        std::string gate = c.dir().file("gate");
        std::int64_t id = runningHold(c, gate);
        c.killWorker("victim");
        c.startWorker("rescuer", "work", 1);
        writeFile(gate, "open");
        auto job = c.waitFinished(id, 30s);
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        auto tasks = c.tasks(id);
        CPPUNIT_ASSERT_EQUAL(size_t(1), tasks->size());
        CPPUNIT_ASSERT_EQUAL(std::string("rescuer"), str(tasks->getObject(0), "worker"));
        CPPUNIT_ASSERT(c.logText(id).find("victim stopped responding") != std::string::npos);
    }

    void testFailuresAreClearInTheLog() {
        Cluster c;
        c.startServer();
        c.startWorker("w", "work", 3);
        waitWorkers(c, {"w"});
        std::int64_t missing = c.submit("missing-command");
        std::int64_t exitCode = c.submit("fail-stop");
        std::int64_t timeout = c.submit("timeout");
        for (auto [id, text] : std::vector<std::pair<std::int64_t, std::string>>{
                 {missing, "not found"}, {exitCode, "code 3"}, {timeout, "timed out"}}) {
            auto job = c.waitFinished(id, 30s);
            CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
            CPPUNIT_ASSERT(job->getValue<bool>("failed"));
            std::string log = c.logText(id);
            CPPUNIT_ASSERT_MESSAGE(
                "job " + std::to_string(id) + " log lacks '" + text + "':\n" + log,
                log.find(text) != std::string::npos);
            CPPUNIT_ASSERT(log.find("job has failed") != std::string::npos);
        }
        // The failing stage stopped the job: the stage after it never ran.
        CPPUNIT_ASSERT_EQUAL(size_t(1), c.tasks(exitCode)->size());
        CPPUNIT_ASSERT(c.logText(exitCode).find("about to fail") != std::string::npos);
    }

    void testHostileParameterArrivesLiterally() {
        Cluster c;
        c.startServer();
        c.startWorker("w");
        waitWorkers(c, {"w"});
        std::string marker = "/tmp/taskengine-injected-" + std::to_string(::getpid());
        std::string text = "; touch " + marker + " && echo $(id) `id` | cat \"'";
        std::string out = c.dir().file("argv.txt");
        Poco::JSON::Object::Ptr params = new Poco::JSON::Object;
        params->set("text", text);
        params->set("out", out);
        std::ostringstream body;
        params->stringify(body);
        std::int64_t id = c.submit("argv", body.str());
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        CPPUNIT_ASSERT_EQUAL(text, readFile(out));
        CPPUNIT_ASSERT(!Poco::File(marker).exists());
    }

    // The dispatcher skips the claim for a worker whose last claim came back short until a
    // wake says new tasks are ready. Each stage here is made ready by the previous DONE, when
    // both workers have just come back short: were that wake lost, every stage would wait
    // for the once-a-second tick (10 stages: ~5 s). Dispatched at once, a job takes ~0.1 s.
    void testNextStageIsDispatchedAtOnce() {
        Cluster c;
        c.startServer();
        c.startWorker("chain-1");
        c.startWorker("chain-2");
        waitWorkers(c, {"chain-1", "chain-2"});
        for (int run = 0; run < 3; ++run) {
            auto start = std::chrono::steady_clock::now();
            std::int64_t id = c.submit("noop-chain");
            auto job = c.waitFinished(id);
            auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start);
            CPPUNIT_ASSERT_MESSAGE(c.logText(id), !job->getValue<bool>("failed"));
            CPPUNIT_ASSERT_EQUAL(size_t(10), c.tasks(id)->size());
            CPPUNIT_ASSERT_MESSAGE("10 noop stages took " + std::to_string(took.count()) + " ms",
                                   took < 2500ms);
        }
    }

    void testBroadcastToNamedWorkers() {
        Cluster c;
        c.startServer();
        for (const char* n : {"a", "b", "c"}) c.startWorker(n);
        waitWorkers(c, {"a", "b", "c"});
        std::string log = c.dir().file("broadcast.log");
        std::int64_t id = c.submit(
            "broadcast", "{\"log\": \"" + log + "\", \"endpoints\": [\"a\", \"b\", \"c\"]}");
        auto job = c.waitFinished(id);
        CPPUNIT_ASSERT(!job->getValue<bool>("failed"));
        std::string text = readFile(log);
        for (const char* n : {"b a\n", "b b\n", "b c\n"}) {
            CPPUNIT_ASSERT_MESSAGE(text, text.find(n) != std::string::npos);
        }
        auto tasks = c.tasks(id);
        CPPUNIT_ASSERT_EQUAL(size_t(3), tasks->size());
        std::set<std::string> ran;
        for (size_t i = 0; i < tasks->size(); ++i) ran.insert(str(tasks->getObject(i), "worker"));
        CPPUNIT_ASSERT_EQUAL(size_t(3), ran.size());
        // Without endpoints, a broadcast stage runs on every worker of the queue.
        std::string log2 = c.dir().file("broadcast2.log");
        std::int64_t all = c.submit("broadcast", "{\"log\": \"" + log2 + "\", \"tag\": \"all\"}");
        c.waitFinished(all);
        CPPUNIT_ASSERT_EQUAL(size_t(3), c.tasks(all)->size());
    }

    void testBroadcastToMissingWorkerIsIncomplete() {
        Cluster c;
        c.startServer();
        c.startWorker("present");
        waitWorkers(c, {"present"});
        std::string log = c.dir().file("b.log");
        std::int64_t id = c.submit(
            "broadcast", "{\"log\": \"" + log + "\", \"endpoints\": [\"present\", \"ghost\"]}");
        auto job = c.waitFinished(id, 30s);
        CPPUNIT_ASSERT(job->getValue<bool>("failed"));
        auto tasks = c.tasks(id);
        CPPUNIT_ASSERT_EQUAL(size_t(2), tasks->size());
        std::map<std::string, std::string> states;
        for (size_t i = 0; i < tasks->size(); ++i) {
            auto t = tasks->getObject(i);
            states[str(t, "state")] = str(t, "message");
        }
        CPPUNIT_ASSERT(states.count("incomplete"));
        CPPUNIT_ASSERT(states["incomplete"].find("'ghost' did not receive") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("b present\n"), readFile(log));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DispatchTest);
