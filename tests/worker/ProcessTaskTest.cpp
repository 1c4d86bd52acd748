// Process tasks through a real WorkerRuntime, with the test playing the server on a ROUTER.
#include <Poco/File.h>
#include <cppunit/extensions/HelperMacros.h>
#include <signal.h>

#include <cerrno>

#include "shared/Version.h"
#include "tests/worker/WorkerHarness.h"

namespace te::test {

class ProcessTaskTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProcessTaskTest);
    CPPUNIT_TEST(testReadyFields);
    CPPUNIT_TEST(testEchoStreamsAndDone);
    CPPUNIT_TEST(testExitCodeFails);
    CPPUNIT_TEST(testMissingCommand);
    CPPUNIT_TEST(testTimeoutKillsProcessGroup);
    CPPUNIT_TEST(testOutputAndSpawnFiles);
    CPPUNIT_TEST(testBadOutputJson);
    CPPUNIT_TEST(testHostileArgumentIsLiteral);
    CPPUNIT_TEST(testEnvInputsAndEnv);
    CPPUNIT_TEST(testMissingInputNamed);
    CPPUNIT_TEST(testWorkFolderRemoved);
    CPPUNIT_TEST(testDiskSpaceRefusal);
    CPPUNIT_TEST_SUITE_END();

public:
    void testReadyFields() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        CPPUNIT_ASSERT_EQUAL(0u, static_cast<unsigned>(ready.identity.rfind("test-worker:", 0)));
        CPPUNIT_ASSERT(ready.identity.size() > std::string("test-worker:").size());
        CPPUNIT_ASSERT_EQUAL(std::string("test-worker"), ready.body->getValue<std::string>("name"));
        CPPUNIT_ASSERT(!ready.body->getValue<std::string>("host").empty());
        CPPUNIT_ASSERT_EQUAL(std::string("linux"), ready.body->getValue<std::string>("platform"));
        CPPUNIT_ASSERT_EQUAL(std::string("[\"work\"]"),
                             json::stringify(ready.body->getArray("queues")));
        CPPUNIT_ASSERT_EQUAL(2, ready.body->getValue<int>("slots"));
        CPPUNIT_ASSERT_EQUAL(std::string(kVersion), ready.body->getValue<std::string>("version"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), ready.body->getArray("running")->size());
        server.expect("HEARTBEAT", -1, 1000);
    }

    void testEchoStreamsAndDone() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(7).command("/bin/echo", {"hello"}).json());
        server.expect("STARTED", 7);
        auto log = server.expect("LOG", 7);
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), log.body->getValue<std::string>("message"));
        CPPUNIT_ASSERT_EQUAL(1, log.body->getValue<int>("severity"));
        auto done = server.expect("DONE", 7);
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), json::stringify(done.body->getObject("output")));
        CPPUNIT_ASSERT(done.body->isNull("spawn"));
        CPPUNIT_ASSERT_EQUAL(0, done.body->getValue<int>("exit_code"));
    }

    void testExitCodeFails() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(8).command("/bin/sh", {"-c", "echo oops >&2; exit 3"}).json());
        auto log = server.expect("LOG", 8);
        CPPUNIT_ASSERT_EQUAL(2, log.body->getValue<int>("severity"));
        auto failed = server.expect("FAILED", 8);
        CPPUNIT_ASSERT_EQUAL(3, failed.body->getValue<int>("exit_code"));
        CPPUNIT_ASSERT_EQUAL(std::string("exited with code 3: oops"),
                             failed.body->getValue<std::string>("error"));
        CPPUNIT_ASSERT_EQUAL(false, failed.body->getValue<bool>("requeue"));
    }

    void testMissingCommand() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(9).command("no-such-command-te").json());
        auto failed = server.expect("FAILED", 9);
        CPPUNIT_ASSERT_EQUAL(std::string("command not found: no-such-command-te"),
                             failed.body->getValue<std::string>("error"));
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(10).command("/nonexistent/bin/x").json());
        failed = server.expect("FAILED", 10);
        CPPUNIT_ASSERT_EQUAL(std::string("command not found: /nonexistent/bin/x"),
                             failed.body->getValue<std::string>("error"));
    }

    void testTimeoutKillsProcessGroup() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        // The shell prints its pid (= its process group), starts a background sleep and waits
        // on a second one: both must die with the timeout.
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(11)
                        .command("/bin/sh", {"-c", "echo $$; sleep 30 & sleep 30"})
                        .timeout(1)
                        .json());
        auto log = server.expect("LOG", 11);
        pid_t group = static_cast<pid_t>(std::stol(log.body->getValue<std::string>("message")));
        CPPUNIT_ASSERT(group > 1);
        CPPUNIT_ASSERT_EQUAL(0, ::kill(-group, 0));  // the group is alive now
        auto failed = server.expect("FAILED", 11, 6000);
        CPPUNIT_ASSERT_EQUAL(std::string("timed out after 1 s"),
                             failed.body->getValue<std::string>("error"));
        CPPUNIT_ASSERT(waitUntil([&] { return ::kill(-group, 0) != 0 && errno == ESRCH; },
                                 std::chrono::milliseconds(2000)));
    }

    void testOutputAndSpawnFiles() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(12)
                .command("/bin/sh", {"-c",
                                     "echo '{\"size\": 42, \"name\": \"a b\"}' > output.json;"
                                     "echo '[{\"part\": \"1\"}, {\"part\": \"2\"}]' > spawn.json"})
                .json());
        auto done = server.expect("DONE", 12);
        auto output = done.body->getObject("output");
        CPPUNIT_ASSERT_EQUAL(42, output->getValue<int>("size"));
        CPPUNIT_ASSERT_EQUAL(std::string("a b"), output->getValue<std::string>("name"));
        auto spawn = done.body->getArray("spawn");
        CPPUNIT_ASSERT(spawn);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), spawn->size());
        CPPUNIT_ASSERT_EQUAL(std::string("2"), spawn->getObject(1)->getValue<std::string>("part"));
    }

    void testBadOutputJson() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(13).command("/bin/sh", {"-c", "echo '[1]' > output.json"}).json());
        auto failed = server.expect("FAILED", 13);
        CPPUNIT_ASSERT_EQUAL(std::string("output.json is not a JSON object"),
                             failed.body->getValue<std::string>("error"));
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(14).command("/bin/sh", {"-c", "echo '[1, 2]' > spawn.json"}).json());
        failed = server.expect("FAILED", 14);
        CPPUNIT_ASSERT_EQUAL(std::string("spawn.json is not a JSON array of objects"),
                             failed.body->getValue<std::string>("error"));
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(15).command("/bin/sh", {"-c", "echo '{broken' > output.json"}).json());
        failed = server.expect("FAILED", 15);
        CPPUNIT_ASSERT(failed.body->getValue<std::string>("error").find(
                           "output.json is not a JSON object") == 0);
    }

    void testHostileArgumentIsLiteral() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        const std::string marker = dir.file("pwned");
        const std::string hostile =
            "; touch " + marker + " $(touch " + marker + ") `touch " + marker + "`";
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(16)
                        .command("/bin/echo", {"{title}"})
                        .inputs({{"title", hostile}})
                        .json());
        auto log = server.expect("LOG", 16);
        CPPUNIT_ASSERT_EQUAL(hostile, log.body->getValue<std::string>("message"));
        server.expect("DONE", 16);
        CPPUNIT_ASSERT(!Poco::File(marker).exists());
    }

    void testEnvInputsAndEnv() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.env["REST_ENDPOINT"] = "http://rest.example/api";
        ::setenv("TE_TEST_FROM_PROCESS_ENV", "from-process", 1);
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(17)
                .command("/bin/echo", {"{REST_ENDPOINT}", "{TE_TEST_FROM_PROCESS_ENV}", "{p}"})
                .inputs({{"p", "param"}})
                .envInputs({"REST_ENDPOINT", "TE_TEST_FROM_PROCESS_ENV"})
                .json());
        auto log = server.expect("LOG", 17);
        CPPUNIT_ASSERT_EQUAL(std::string("http://rest.example/api from-process param"),
                             log.body->getValue<std::string>("message"));
        server.expect("DONE", 17);
        // The process environment: the worker's, plus config env, plus the task's env.
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(18)
                        .command("/bin/sh",
                                 {"-c", "echo \"$FOO|$REST_ENDPOINT|$TE_TEST_FROM_PROCESS_ENV\""})
                        .env({{"FOO", "bar"}})
                        .json());
        log = server.expect("LOG", 18);
        CPPUNIT_ASSERT_EQUAL(std::string("bar|http://rest.example/api|from-process"),
                             log.body->getValue<std::string>("message"));
    }

    void testMissingInputNamed() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(19)
                        .command("/bin/echo", {"{NOT_SET_ANYWHERE_TE}"})
                        .envInputs({"NOT_SET_ANYWHERE_TE"})
                        .json());
        auto failed = server.expect("FAILED", 19);
        CPPUNIT_ASSERT(failed.body->getValue<std::string>("error").find("NOT_SET_ANYWHERE_TE") !=
                       std::string::npos);
    }

    void testWorkFolderRemoved() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN", AssignBuilder(20).command("/bin/pwd").json());
        auto log = server.expect("LOG", 20);
        std::string folder = log.body->getValue<std::string>("message");
        CPPUNIT_ASSERT_EQUAL(0u, static_cast<unsigned>(folder.find(dir.path() + "/work/task-20-")));
        server.expect("DONE", 20);
        CPPUNIT_ASSERT(!Poco::File(folder).exists());
    }

    void testDiskSpaceRefusal() {
        FakeServer server;
        TempDir dir;
        auto config = WorkerHarness::config(server, dir);
        config.minFreeDiskMb = 1LL << 40;  // more than any disk here
        WorkerHarness worker(config);
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN", AssignBuilder(21).command("/bin/true").json());
        auto failed = server.expect("FAILED", 21);
        CPPUNIT_ASSERT_EQUAL(
            0u, static_cast<unsigned>(
                    failed.body->getValue<std::string>("error").find("not enough disk space")));
        CPPUNIT_ASSERT_EQUAL(true, failed.body->getValue<bool>("requeue"));
        CPPUNIT_ASSERT(server.received("STARTED", 21).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProcessTaskTest);

}  // namespace te::test
