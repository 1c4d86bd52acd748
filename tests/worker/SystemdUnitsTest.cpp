// installer/systemd/*.service must pass `systemd-analyze verify` without a warning. verify
// insists that ExecStart's program exists, so a copy of each unit points at the built worker.
#include <Poco/File.h>
#include <cppunit/extensions/HelperMacros.h>

#include "tests/support/TestUtil.h"
#include "tests/support/ProgramRunner.h"

namespace te::test {

class SystemdUnitsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SystemdUnitsTest);
    CPPUNIT_TEST(testUnitsVerify);
    CPPUNIT_TEST(testWorkerUnitContract);
    CPPUNIT_TEST(testServerUnitContract);
    CPPUNIT_TEST_SUITE_END();

public:
    void testUnitsVerify() {
        const std::string analyze = "/usr/bin/systemd-analyze";
        CPPUNIT_ASSERT_MESSAGE("systemd-analyze missing (scripts/install-deps installs systemd)",
                               Poco::File(analyze).exists());
        TempDir dir;
        std::vector<std::string> args = {"verify"};
        for (const char* program : {"taskengine-worker", "taskengine-server"}) {
            std::string unit =
                readFile(sourcePath(std::string("installer/systemd/") + program + ".service"));
            const std::string from = std::string("/usr/bin/") + program;
            auto at = unit.find(from);
            CPPUNIT_ASSERT_MESSAGE(program, at != std::string::npos);
            unit.replace(at, from.size(), binaryPath("taskengine-worker"));
            writeFile(dir.file(std::string(program) + ".service"), unit);
            args.push_back(dir.file(std::string(program) + ".service"));
        }
        TempDir out;
        ProgramRunner verify(analyze, args, out.path());
        int rc = verify.wait(30000);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(verify.err(), 0, rc);
        // Unknown keys and the like are only warnings: they must not be there either.
        CPPUNIT_ASSERT_EQUAL(std::string(), verify.err());
    }

    void testWorkerUnitContract() {
        std::string unit = readFile(sourcePath("installer/systemd/taskengine-worker.service"));
        for (const char* line :
             {"ExecStart=/usr/bin/taskengine-worker --config /etc/taskengine/worker.yaml",
              "Type=notify", "NotifyAccess=main", "Restart=on-failure", "User=taskengine",
              "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/taskengine",
              "KillSignal=SIGTERM"}) {
            CPPUNIT_ASSERT_MESSAGE(line, unit.find(line) != std::string::npos);
        }
        // Above the default grace (30 s) so systemd never SIGKILLs a graceful stop.
        auto at = unit.find("TimeoutStopSec=");
        CPPUNIT_ASSERT(at != std::string::npos);
        CPPUNIT_ASSERT(std::stoi(unit.substr(at + 15)) > 30);
        // Ordering only: on a host that runs both, once the server says READY=1.
        CPPUNIT_ASSERT(unit.find("After=network-online.target taskengine-server.service") !=
                       std::string::npos);
    }

    // Type=notify: systemd waits for READY=1 (integration_notify_test checks that the server
    // sends it once it serves), for as long as a migration of a large database takes.
    void testServerUnitContract() {
        std::string unit = readFile(sourcePath("installer/systemd/taskengine-server.service"));
        for (const char* line :
             {"ExecStart=/usr/bin/taskengine-server --config /etc/taskengine/server.yaml",
              "Type=notify", "NotifyAccess=main", "TimeoutStartSec=infinity", "Restart=on-failure",
              "User=taskengine", "KillSignal=SIGTERM"}) {
            CPPUNIT_ASSERT_MESSAGE(line, unit.find(line) != std::string::npos);
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SystemdUnitsTest);

}  // namespace te::test
