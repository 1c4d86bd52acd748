// The taskengine-worker program itself: flags, config errors, SIGTERM.
#include <cppunit/extensions/HelperMacros.h>
#include <signal.h>

#include "shared/Version.h"
#include "tests/support/ProgramRunner.h"
#include "tests/worker/WorkerHarness.h"

namespace te::test {
namespace {

std::string worker() { return binaryPath("taskengine-worker"); }

}  // namespace

class WorkerProgramTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerProgramTest);
    CPPUNIT_TEST(testHelpNamesEveryOption);
    CPPUNIT_TEST(testVersion);
    CPPUNIT_TEST(testBadFlagIsOneLine);
    CPPUNIT_TEST(testBadConfigNamesFileAndKey);
    CPPUNIT_TEST(testBadSlotsFlag);
    CPPUNIT_TEST(testBadServerEndpoint);
    CPPUNIT_TEST(testSigtermFinishesRunningTask);
    CPPUNIT_TEST(testSigtermHandsBackAfterGrace);
    CPPUNIT_TEST_SUITE_END();

public:
    void testHelpNamesEveryOption() {
        TempDir dir;
        ProgramRunner p(worker(), {"--help"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
        for (const char* option : {"--config", "--server", "--name", "--queues", "--slots",
                                   "--work-dir", "--daemon", "--pidfile", "--help", "--version"}) {
            CPPUNIT_ASSERT_MESSAGE(option, p.out().find(option) != std::string::npos);
        }
    }

    void testVersion() {
        TempDir dir;
        ProgramRunner p(worker(), {"--version"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
        CPPUNIT_ASSERT_EQUAL(std::string("taskengine-worker ") + kVersion + "\n", p.out());
    }

    void testBadFlagIsOneLine() {
        TempDir dir;
        ProgramRunner p(worker(), {"--no-such-flag"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(64, p.wait(5000));  // EX_USAGE: the command line, not the config
        CPPUNIT_ASSERT_EQUAL(1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT(p.err().find("no-such-flag") != std::string::npos);
        ProgramRunner noValue(worker(), {"--slots"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(64, noValue.wait(5000));
        CPPUNIT_ASSERT_EQUAL(1, ProgramRunner::lines(noValue.err()));
        CPPUNIT_ASSERT(noValue.err().find("slots") != std::string::npos);
    }

    void testBadConfigNamesFileAndKey() {
        TempDir dir;
        writeFile(dir.file("worker.yaml"), "server: tcp://127.0.0.1:1\nslots: many\n");
        ProgramRunner p(worker(), {"--config", dir.file("worker.yaml")}, dir.path());
        CPPUNIT_ASSERT(p.wait(5000) > 0);
        CPPUNIT_ASSERT_EQUAL(1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT(p.err().find(dir.file("worker.yaml")) != std::string::npos);
        CPPUNIT_ASSERT(p.err().find("slots") != std::string::npos);
    }

    void testBadSlotsFlag() {
        TempDir dir;
        ProgramRunner p(worker(), {"--slots", "0", "--server", "tcp://127.0.0.1:1"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(78, p.wait(5000));  // EX_CONFIG: a bad value, as in the config
        CPPUNIT_ASSERT_EQUAL(1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT(p.err().find("--slots") != std::string::npos);
    }

    void testBadServerEndpoint() {
        TempDir dir;
        ProgramRunner p(worker(), {"--server", "not-an-endpoint", "--work-dir", dir.file("work")},
                        dir.path());
        CPPUNIT_ASSERT(p.wait(5000) > 0);
        CPPUNIT_ASSERT_EQUAL(1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT(p.err().find("server") != std::string::npos);
    }

    void testSigtermFinishesRunningTask() {
        FakeServer server;
        TempDir dir;
        writeFile(dir.file("worker.yaml"),
                  "server: tcp://127.0.0.1:1\nqueues: [nope]\ngrace: 10\n"
                  "heartbeat_ms: 100\nmin_free_disk_mb: 0\n");
        // Flags override the file: server, queues, name, work dir.
        ProgramRunner p(worker(),
                        {"--config", dir.file("worker.yaml"), "--server", server.endpoint(),
                         "--queues", "a,b", "--name", "prog", "--work-dir", dir.file("work")},
                        dir.path());
        auto ready = server.expect("READY");
        CPPUNIT_ASSERT_EQUAL(std::string("prog"), ready.body->getValue<std::string>("name"));
        CPPUNIT_ASSERT_EQUAL(std::string("[\"a\",\"b\"]"),
                             json::stringify(ready.body->getArray("queues")));
        server.send(ready.identity, "ASSIGN", AssignBuilder(1).command("/bin/sleep", {"1"}).json());
        server.expect("STARTED", 1);
        p.signal(SIGTERM);
        server.expect("BYE", -1, 2000);
        server.expect("DONE", 1, 5000);
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
    }

    void testSigtermHandsBackAfterGrace() {
        FakeServer server;
        TempDir dir;
        writeFile(dir.file("worker.yaml"),
                  "grace: 1\nheartbeat_ms: 100\nmin_free_disk_mb: 0\nwork_dir: " +
                      dir.file("work") + "\n");
        ProgramRunner p(worker(),
                        {"--config", dir.file("worker.yaml"), "--server", server.endpoint()},
                        dir.path());
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(2).command("/bin/sh", {"-c", "echo $$; exec sleep 30"}).json());
        auto log = server.expect("LOG", 2);
        pid_t child = static_cast<pid_t>(std::stol(log.body->getValue<std::string>("message")));
        p.signal(SIGTERM);
        auto failed = server.expect("FAILED", 2, 6000);
        CPPUNIT_ASSERT_EQUAL(true, failed.body->getValue<bool>("requeue"));
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
        CPPUNIT_ASSERT(::kill(child, 0) != 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkerProgramTest);

}  // namespace te::test
