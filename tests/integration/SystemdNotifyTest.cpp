// The units are Type=notify: systemd hands the program a datagram socket in NOTIFY_SOCKET and
// calls the unit started when "READY=1" arrives on it. Here a socket of our own stands in for
// systemd's, and the real binaries are started with it.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <cppunit/extensions/HelperMacros.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "tests/integration/Cluster.h"

namespace te::test {

namespace {

// A datagram socket bound to a file, as systemd's notify socket is.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : _path(path) {
        _fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CPPUNIT_ASSERT(_fd >= 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        CPPUNIT_ASSERT(path.size() < sizeof(address.sun_path));
        std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(
            std::strerror(errno), 0,
            ::bind(_fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)));
    }
    ~NotifySocket() { ::close(_fd); }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    const std::string& path() const { return _path; }

    // The next datagram, or nullopt when none comes within `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout) {
        pollfd ready{_fd, POLLIN, 0};
        if (::poll(&ready, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
        char buffer[4096];
        const ssize_t n = ::recv(_fd, buffer, sizeof(buffer), 0);
        if (n < 0) return std::nullopt;
        return std::string(buffer, static_cast<size_t>(n));
    }

private:
    std::string _path;
    int _fd = -1;
};

bool hasLine(const std::string& message, const std::string& line) {
    return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

Cluster::Options notifying(const NotifySocket& socket) {
    Cluster::Options options;
    options.processEnv["NOTIFY_SOCKET"] = socket.path();
    options.processEnv["TE_TEST_INHERITED"] = "yes";
    return options;
}

// The threads of process `pid`, but for its main one, that can take SIGTERM or SIGINT
// (their SigBlk in /proc lacks the signal's bit), as "tid SigBlk" lines.
std::string threadsTakingTermination(int pid) {
    std::string takers;
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& entry : std::filesystem::directory_iterator(tasks)) {
        const std::string tid = entry.path().filename().string();
        if (tid == std::to_string(pid)) continue;  // in sigwait, which unblocks while waiting
        std::ifstream status(entry.path() / "status");
        for (std::string line; std::getline(status, line);) {
            if (line.rfind("SigBlk:", 0) != 0) continue;
            const unsigned long long blocked = std::stoull(line.substr(7), nullptr, 16);
            const unsigned long long wanted = (1ULL << (SIGTERM - 1)) | (1ULL << (SIGINT - 1));
            if ((blocked & wanted) != wanted) takers += tid + " " + line + "\n";
        }
    }
    return takers;
}

}  // namespace

class SystemdNotifyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SystemdNotifyTest);
    CPPUNIT_TEST(testServerIsReadyOnceItServesAndSaysWhenItStops);
    CPPUNIT_TEST(testServerThatCannotStartIsNeverReady);
    CPPUNIT_TEST(testWorkerIsReadyAndItsTasksDoNotInheritTheSocket);
    CPPUNIT_TEST_SUITE_END();

public:
    void testServerIsReadyOnceItServesAndSaysWhenItStops() {
        TempDir dir;
        NotifySocket systemd(dir.file("notify"));
        Cluster cluster(notifying(systemd));
        cluster.startServerProcess(false);
        auto ready = systemd.receive(std::chrono::seconds(20));
        CPPUNIT_ASSERT_MESSAGE("no READY=1 from the server", ready);
        CPPUNIT_ASSERT_MESSAGE(*ready, hasLine(*ready, "READY=1"));
        CPPUNIT_ASSERT_MESSAGE(
            *ready, ready->find("STATUS=serving HTTP on 127.0.0.1:" +
                                std::to_string(cluster.httpPort())) != std::string::npos);
        // At once, no retry: READY=1 must not come before the port is bound.
        CPPUNIT_ASSERT_EQUAL(200, cluster.request("GET", "/").status);
        // A SIGTERM that a thread other than the waiting one took would kill the server
        // (the default action) instead of stopping it.
        const std::string takers = threadsTakingTermination(cluster.serverProcessId());
        CPPUNIT_ASSERT_MESSAGE("threads that SIGTERM would kill the server in:\n" + takers,
                               takers.empty());
        auto code = cluster.stopServerProcess(std::chrono::seconds(20));
        CPPUNIT_ASSERT_MESSAGE("the server did not stop on SIGTERM", code);
        CPPUNIT_ASSERT_EQUAL(0, *code);
        auto stopping = systemd.receive(std::chrono::seconds(1));
        CPPUNIT_ASSERT_MESSAGE("no STOPPING=1 from the server", stopping);
        CPPUNIT_ASSERT_MESSAGE(*stopping, hasLine(*stopping, "STOPPING=1"));
    }

    // systemd then reports the start as failed, instead of a unit that runs but never served.
    void testServerThatCannotStartIsNeverReady() {
        TempDir dir;
        NotifySocket systemd(dir.file("notify"));
        Cluster cluster(notifying(systemd));
        Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", cluster.httpPort()));
        cluster.startServerProcess(false);
        auto code = cluster.waitServerProcess(std::chrono::seconds(20));
        CPPUNIT_ASSERT_MESSAGE("the server went on without its port", code);
        CPPUNIT_ASSERT(*code != 0);
        auto message = systemd.receive(std::chrono::milliseconds(0));
        CPPUNIT_ASSERT_MESSAGE(message.value_or(""), !message);
    }

    void testWorkerIsReadyAndItsTasksDoNotInheritTheSocket() {
        TempDir dir;
        NotifySocket systemd(dir.file("notify"));
        Cluster cluster(notifying(systemd));
        cluster.startServer();
        cluster.startWorker("w1");
        auto ready = systemd.receive(std::chrono::seconds(20));
        CPPUNIT_ASSERT_MESSAGE("no READY=1 from the worker", ready);
        CPPUNIT_ASSERT_MESSAGE(*ready, hasLine(*ready, "READY=1"));
        CPPUNIT_ASSERT_MESSAGE(
            *ready, ready->find("STATUS=worker w1, server " + cluster.dispatchEndpoint()) !=
                        std::string::npos);
        // Once the server has answered, `systemctl status` says so.
        auto connected = systemd.receive(std::chrono::seconds(20));
        CPPUNIT_ASSERT_MESSAGE("no STATUS once connected", connected);
        CPPUNIT_ASSERT_EQUAL("STATUS=worker w1, connected to " + cluster.dispatchEndpoint(),
                             *connected);

        const std::string out = dir.file("env.txt");
        auto job =
            cluster.waitFinished(cluster.submit("environment", "{\"out\": \"" + out + "\"}"));
        CPPUNIT_ASSERT_EQUAL(std::string("completed"), str(job, "queue_state"));
        const std::string environment = readFile(out);
        // The worker's own environment reached the task, NOTIFY_SOCKET did not.
        CPPUNIT_ASSERT_MESSAGE(environment,
                               environment.find("TE_TEST_INHERITED=yes") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(environment, environment.find("NOTIFY_SOCKET") == std::string::npos);

        cluster.terminateWorker("w1");
        auto stopping = systemd.receive(std::chrono::seconds(1));
        CPPUNIT_ASSERT_MESSAGE("no STOPPING=1 from the worker", stopping);
        CPPUNIT_ASSERT_MESSAGE(*stopping, hasLine(*stopping, "STOPPING=1"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SystemdNotifyTest);

}  // namespace te::test
