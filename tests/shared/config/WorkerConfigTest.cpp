// Tests of shared/config/WorkerConfig.cpp.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/config/WorkerConfig.h"
#include "tests/shared/config/ConfigTestUtil.h"

namespace {

using te::test::assertContains;

std::string workerError(const std::string& yaml) {
    return te::test::configError("worker.yaml", yaml,
                                 [](const std::string& p) { te::loadWorkerConfig(p); });
}

class WorkerConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(WorkerConfigTest);
    CPPUNIT_TEST(testFullFile);
    CPPUNIT_TEST(testDefaults);
    CPPUNIT_TEST(testBadKeys);
    CPPUNIT_TEST(testMissingFile);
    CPPUNIT_TEST_SUITE_END();

public:
    void testFullFile() {
        std::string path = te::test::sourcePath("tests/fixtures/worker.yaml");
        te::WorkerConfig c = te::loadWorkerConfig(path);
        CPPUNIT_ASSERT_EQUAL(path, c.file);
        CPPUNIT_ASSERT_EQUAL(std::string("tcp://10.0.0.5:5555"), c.server);
        CPPUNIT_ASSERT_EQUAL(std::string("capture-1"), c.name);
        CPPUNIT_ASSERT((c.queues == std::vector<std::string>{"windows_capture", "work"}));
        CPPUNIT_ASSERT_EQUAL(3, c.slots);
        CPPUNIT_ASSERT_EQUAL(std::string("/var/lib/taskengine/work"), c.workDir);
        CPPUNIT_ASSERT_EQUAL(std::string("/opt/taskengine/config/workflows/bin"),
                             c.env.at("WORKFLOW_BIN"));
        CPPUNIT_ASSERT_EQUAL(std::string("3"), c.env.at("RETRIES"));  // numbers read as text
        CPPUNIT_ASSERT_EQUAL(size_t(3), c.env.size());
        CPPUNIT_ASSERT(c.keepWorkDirs);
        CPPUNIT_ASSERT_EQUAL(2048LL, c.minFreeDiskMb);
        CPPUNIT_ASSERT_EQUAL(250, c.heartbeatMs);
        CPPUNIT_ASSERT_EQUAL(5, c.liveness);
        CPPUNIT_ASSERT_EQUAL(45, c.graceSec);
        CPPUNIT_ASSERT_EQUAL(std::string("warning"), c.logLevel);
        CPPUNIT_ASSERT_EQUAL(std::string("var/log/worker.log"), c.logFile);
        CPPUNIT_ASSERT_EQUAL(std::string("var/run/worker.pid"), c.pidFile);
    }

    void testDefaults() {
        te::WorkerConfig c = te::parseWorkerConfig("# nothing\n", "w.yaml");
        CPPUNIT_ASSERT_EQUAL(std::string("tcp://127.0.0.1:5555"), c.server);
        CPPUNIT_ASSERT((c.queues == std::vector<std::string>{"work"}));
        CPPUNIT_ASSERT_EQUAL(2, c.slots);
        CPPUNIT_ASSERT(!c.keepWorkDirs);
        // "a,b" is accepted where a list is expected.
        CPPUNIT_ASSERT((te::parseWorkerConfig("queues: a,b\n", "w.yaml").queues ==
                        std::vector<std::string>{"a", "b"}));
    }

    void testBadKeys() {
        CPPUNIT_ASSERT_EQUAL(std::string("queue: unknown key"), workerError("queue: [work]\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("slots: must be an integer, got 'two'"),
                             workerError("slots: two\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("slots: must be between 1 and 1024, got 0"),
                             workerError("slots: 0\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("queues: must name at least one queue"),
                             workerError("queues: []\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("keep_work_dirs: must be true or false"),
                             workerError("keep_work_dirs: maybe\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("env: must be a mapping of strings"),
                             workerError("env: [A, B]\n"));
        CPPUNIT_ASSERT_EQUAL(std::string("env.A: must be a string"),
                             workerError("env: {A: [1]}\n"));
        assertContains(workerError("grace: -1\n"), "grace: must be between 0 and 86400, got -1");
        assertContains(workerError("name: [unclosed\n"), "line ");
    }

    void testMissingFile() {
        try {
            te::loadWorkerConfig("/nonexistent/worker.yaml");
            CPPUNIT_FAIL("no exception");
        } catch (const te::ConfigError& e) {
            CPPUNIT_ASSERT_EQUAL(std::string("/nonexistent/worker.yaml: cannot be read"),
                                 std::string(e.what()));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(WorkerConfigTest);

}  // namespace
