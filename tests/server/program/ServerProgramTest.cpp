// The taskengine-server program itself: --help, --version, and how it reports a bad flag or
// config (one line; exit 64 for a flag the parser refuses, 78 for a bad value). Starting,
// serving and stopping on SIGTERM are in tests/integration (SystemdNotifyTest, RecoveryTest).
#include <cppunit/extensions/HelperMacros.h>

#include "shared/Version.h"
#include "tests/support/ProgramRunner.h"
#include "tests/support/TestUtil.h"

namespace te::test {
namespace {

constexpr int kUsage = 64;   // EX_USAGE
constexpr int kConfig = 78;  // EX_CONFIG

std::string server() { return binaryPath("taskengine-server"); }

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

class ServerProgramTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ServerProgramTest);
    CPPUNIT_TEST(testHelpNamesEveryOption);
    CPPUNIT_TEST(testVersion);
    CPPUNIT_TEST(testRefusedFlagIsAUsageError);
    CPPUNIT_TEST(testBadConfigNamesFileAndKey);
    CPPUNIT_TEST(testBadFlagValueNamesTheFlag);
    CPPUNIT_TEST_SUITE_END();

public:
    void testHelpNamesEveryOption() {
        TempDir dir;
        ProgramRunner p(server(), {"--help"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
        for (const char* option :
             {"--config", "--port", "--database", "--dispatch", "--workflows", "--check-workflows",
              "--daemon", "--pidfile", "--help", "--version"}) {
            CPPUNIT_ASSERT_MESSAGE(option, contains(p.out(), option));
        }
        CPPUNIT_ASSERT_EQUAL(std::string(), p.err());
    }

    void testVersion() {
        TempDir dir;
        ProgramRunner p(server(), {"--version"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(0, p.wait(5000));
        CPPUNIT_ASSERT_EQUAL(std::string("taskengine-server ") + kVersion + "\n", p.out());
    }

    // An unknown flag, or one without its value: nothing starts, and the exit code says it
    // was the command line (64), not the config (78).
    void testRefusedFlagIsAUsageError() {
        TempDir dir;
        ProgramRunner unknown(server(), {"--no-such-flag"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(kUsage, unknown.wait(5000));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(unknown.err(), 1, ProgramRunner::lines(unknown.err()));
        CPPUNIT_ASSERT_MESSAGE(unknown.err(), contains(unknown.err(), "no-such-flag"));

        TempDir dir2;
        ProgramRunner noValue(server(), {"--config"}, dir2.path());
        CPPUNIT_ASSERT_EQUAL(kUsage, noValue.wait(5000));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(noValue.err(), 1, ProgramRunner::lines(noValue.err()));
        CPPUNIT_ASSERT_MESSAGE(noValue.err(), contains(noValue.err(), "config"));
    }

    void testBadConfigNamesFileAndKey() {
        TempDir dir;
        writeFile(dir.file("server.yaml"), "http: {host: 127.0.0.1, port: many}\n");
        ProgramRunner p(server(), {"--config", dir.file("server.yaml")}, dir.path());
        CPPUNIT_ASSERT_EQUAL(kConfig, p.wait(5000));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(p.err(), 1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT_MESSAGE(p.err(), contains(p.err(), dir.file("server.yaml")));
        CPPUNIT_ASSERT_MESSAGE(p.err(), contains(p.err(), "http.port"));
    }

    void testBadFlagValueNamesTheFlag() {
        TempDir dir;
        ProgramRunner p(server(), {"--port", "70000"}, dir.path());
        CPPUNIT_ASSERT_EQUAL(kConfig, p.wait(5000));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(p.err(), 1, ProgramRunner::lines(p.err()));
        CPPUNIT_ASSERT_MESSAGE(p.err(), contains(p.err(), "--port"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ServerProgramTest);

}  // namespace te::test
