// The fixture's clean-up after a test program that was killed: its cluster kept running, and
// the next program's fixture stops it and removes its folder.
#include <Poco/File.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <cppunit/extensions/HelperMacros.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/PostgresFixture.h"
#include "tests/support/TestUtil.h"

namespace te::test {

namespace {

bool accepts(int port) {
    try {
        Poco::Net::StreamSocket socket;
        socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
                       Poco::Timespan(2, 0));
        return true;
    } catch (const Poco::Exception&) {
        return false;
    }
}

}  // namespace

class PostgresFixtureTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PostgresFixtureTest);
    CPPUNIT_TEST(testKilledProgramsClusterIsReapedAndLiveOnesAreNot);
    CPPUNIT_TEST_SUITE_END();

public:
    void testKilledProgramsClusterIsReapedAndLiveOnesAreNot() {
        TempDir root;
        // The cluster's own user (postgres, when we are root) must reach its folder in here.
        CPPUNIT_ASSERT_EQUAL(0, ::chmod(root.path().c_str(), 0755));
        // A child that makes its cluster under `root` and waits (TestMain's fixture mode).
        Poco::Pipe out;
        Poco::Process::Env env = {{"TE_PG_FIXTURE_CHILD", "1"},
                                  {"TE_PG_FIXTURE_ROOT", root.path()}};
        Poco::ProcessHandle child =
            Poco::Process::launch("/proc/self/exe", {}, root.path(), nullptr, &out, nullptr, env);
        // Whatever fails below, neither the child (it holds our stderr) nor its cluster may
        // outlive the test.
        struct CleanUp {
            Poco::ProcessHandle& child;
            const std::string& root;
            bool killed = false;
            ~CleanUp() {
                if (!killed) {
                    ::kill(child.id(), SIGKILL);
                    child.wait();
                }
                PostgresFixture::reapAbandonedClusters(root);
            }
        } cleanUp{child, root.path()};
        Poco::PipeInputStream lines(out);
        std::string port;
        std::getline(lines, port);
        CPPUNIT_ASSERT_MESSAGE("the child printed no port", !port.empty());
        auto folders = globPaths(root.path() + "/taskengine-pg-*");
        CPPUNIT_ASSERT_EQUAL(size_t(1), folders.size());
        CPPUNIT_ASSERT(accepts(std::stoi(port)));

        // Its program still runs: nothing to reap.
        CPPUNIT_ASSERT_EQUAL(0, PostgresFixture::reapAbandonedClusters(root.path()));
        CPPUNIT_ASSERT(accepts(std::stoi(port)));

        ::kill(child.id(), SIGKILL);
        child.wait();
        cleanUp.killed = true;
        // Killed before its destructor: the cluster outlives it...
        CPPUNIT_ASSERT(accepts(std::stoi(port)));
        // ...until the next fixture reaps it.
        CPPUNIT_ASSERT_EQUAL(1, PostgresFixture::reapAbandonedClusters(root.path()));
        CPPUNIT_ASSERT(!accepts(std::stoi(port)));
        CPPUNIT_ASSERT(!Poco::File(folders[0]).exists());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PostgresFixtureTest);

}  // namespace te::test
