// Slots, CANCEL, rejoining a restarted server and the graceful stop of a WorkerRuntime.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <memory>

#include "tests/worker/WorkerHarness.h"

namespace te::test {

using Clock = std::chrono::steady_clock;

class WorkerLifecycleTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerLifecycleTest);
    CPPUNIT_TEST(testNeverMoreThanSlots);
    CPPUNIT_TEST(testCancelProcess);
    CPPUNIT_TEST(testCancelQueuedAndBuiltin);
    CPPUNIT_TEST(testRejoinsRestartedServer);
    CPPUNIT_TEST(testResetAnnouncesAgain);
    CPPUNIT_TEST(testStopLetsTasksFinish);
    CPPUNIT_TEST(testStopHandsBackAfterGrace);
    CPPUNIT_TEST_SUITE_END();

public:
    // Extra ASSIGNs (beyond credit) wait in the worker's local queue: decided so that a
    // server's off-by-one never loses a task, while the slots bound stays a hard bound.
    void testNeverMoreThanSlots() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));  // 2 slots
        auto ready = server.expect("READY");
        for (int id = 100; id < 105; ++id) {
            server.send(ready.identity, "ASSIGN",
                        AssignBuilder(id).command("/bin/sleep", {"0.3"}).json());
        }
        for (int id = 100; id < 105; ++id) server.expect("DONE", id, 8000);
        int running = 0, most = 0;
        for (const auto& m : server.received()) {
            if (m.type == "STARTED") most = std::max(most, ++running);
            if (m.type == "DONE" || m.type == "FAILED") --running;
        }
        CPPUNIT_ASSERT_EQUAL(2, most);
    }

    void testCancelProcess() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(30).command("/bin/sleep", {"30"}).json());
        server.expect("STARTED", 30);
        auto start = Clock::now();
        server.send(ready.identity, "CANCEL", "{\"task_id\": 30}");
        auto failed = server.expect("FAILED", 30, 5000);
        CPPUNIT_ASSERT_EQUAL(std::string("cancelled"), failed.body->getValue<std::string>("error"));
        CPPUNIT_ASSERT_EQUAL(false, failed.body->getValue<bool>("requeue"));
        CPPUNIT_ASSERT(Clock::now() - start < std::chrono::seconds(4));
    }

    void testCancelQueuedAndBuiltin() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.slots = 1;
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN", AssignBuilder(31).builtin("sleep", {"30"}).json());
        server.send(ready.identity, "ASSIGN", AssignBuilder(32).builtin("sleep", {"30"}).json());
        server.expect("STARTED", 31);
        server.send(ready.identity, "CANCEL", "{\"task_id\": 32}");  // still queued
        auto failed = server.expect("FAILED", 32, 2000);
        CPPUNIT_ASSERT_EQUAL(std::string("cancelled"), failed.body->getValue<std::string>("error"));
        server.send(ready.identity, "CANCEL", "{\"task_id\": 31}");
        failed = server.expect("FAILED", 31, 2000);
        CPPUNIT_ASSERT_EQUAL(std::string("cancelled"), failed.body->getValue<std::string>("error"));
        CPPUNIT_ASSERT(server.received("STARTED", 32).empty());
    }

    void testRejoinsRestartedServer() {
        auto server = std::make_unique<FakeServer>();
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(*server, dir));
        auto ready = server->expect("READY");
        server->send(ready.identity, "ASSIGN",
                     AssignBuilder(40).command("/bin/sleep", {"30"}).json());
        server->expect("STARTED", 40);
        int port = server->port();
        server.reset();  // the server dies...
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        server = std::make_unique<FakeServer>(port);  // ...and comes back on the same port
        auto again = server->expect("READY", -1, 5000);
        CPPUNIT_ASSERT_EQUAL(ready.identity, again.identity);
        auto running = again.body->getArray("running");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), running->size());
        CPPUNIT_ASSERT_EQUAL(40LL, running->get(0).convert<long long>());
        server->send(again.identity, "CANCEL", "{\"task_id\": 40}");
        server->expect("FAILED", 40, 5000);
    }

    void testResetAnnouncesAgain() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.liveness = 100;  // only RESET can cause the second READY in this test
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(ready.identity, "RESET", "{}");
        server.expect("READY", -1, 2000);
    }

    void testStopLetsTasksFinish() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.graceSec = 10;
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(50).command("/bin/sleep", {"0.5"}).json());
        server.expect("STARTED", 50);
        worker.stop();  // returns only when the worker is done
        CPPUNIT_ASSERT(worker.returned());
        server.expect("BYE", -1, 1000);
        server.expect("DONE", 50, 1000);
    }

    void testStopHandsBackAfterGrace() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.graceSec = 1;
        config.slots = 1;
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(51).command("/bin/sleep", {"30"}).json());
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(52).command("/bin/sleep", {"30"}).json());
        server.expect("STARTED", 51);
        auto start = Clock::now();
        worker.stop();
        CPPUNIT_ASSERT(Clock::now() - start < std::chrono::seconds(6));
        server.expect("BYE", -1, 1000);
        for (long long id : {51LL, 52LL}) {
            auto failed = server.expect("FAILED", id, 1000);
            CPPUNIT_ASSERT_EQUAL(true, failed.body->getValue<bool>("requeue"));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkerLifecycleTest);

}  // namespace te::test
