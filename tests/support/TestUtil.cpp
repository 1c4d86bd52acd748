#include "tests/support/TestUtil.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "server/store/Store.h"

namespace te::test {

TempDir::TempDir() {
    char tmpl[] = "/tmp/taskengine-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    _path = tmpl;
}

TempDir::~TempDir() {
    if (std::getenv("TE_KEEP_TEMP")) return;
    try {
        Poco::File(_path).remove(true);
    } catch (...) {
        // A test's leftover folder in /tmp is not worth failing a destructor for.
    }
}

namespace {

// The lowest port the kernel picks by itself, read from ip_local_port_range.
int ephemeralLow() {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    if (range >> low) return low;
    return 32768;  // Linux's default
}

// A port this process picked stays its own until it exits: another test program running
// beside it (ctest -j) skips it even while nothing listens on it, as between a server's kill
// and its restart on the same ports, when a plain bind check would hand it out again. The
// lock goes with the process, kill -9 included; the files stay, empty, for the next run.
bool reserve(int port) {
    static const std::string dir = [] {
        std::string d = "/tmp/taskengine-test-ports";
        ::mkdir(d.c_str(), 0777);
        ::chmod(d.c_str(), 01777);  // tests may run as different users on one machine
        return d;
    }();
    const std::string file = dir + "/" + std::to_string(port);
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return true;  // no folder to lock in: the bind check alone, as before
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    return true;  // the descriptor stays open, and locked, for the life of the process
}

bool binds(int port) {
    try {
        // Without SO_REUSEPORT, which POCO's usual bind sets: with it, this bind would succeed
        // on a port that another test's server (POCO, so SO_REUSEPORT too) listens on.
        Poco::Net::ServerSocket socket;
        socket.bind(Poco::Net::SocketAddress("127.0.0.1", port), true, false);
        socket.close();
        return true;
    } catch (const Poco::Exception&) {
        return false;
    }
}

}  // namespace

// A port that was free a moment ago is only as good as the time until someone takes it.
// Ports from the kernel's own range (bind to 0) are also the local ports of every outgoing
// connection, and the tests running beside this one make thousands: CI once lost a server's
// port that way between this call and the server's bind. Below that range only an explicit
// bind takes a port, so a random one there that binds now stays free for the test.
int freePort() {
    constexpr int kLowest = 10000;
    static std::mutex mutex;
    static std::mt19937 random{std::random_device{}()};
    const int high = ephemeralLow();
    if (high - kLowest >= 1000) {
        std::lock_guard lock(mutex);
        std::uniform_int_distribution<int> pick(kLowest, high - 1);
        for (int attempt = 0; attempt < 100; ++attempt) {
            int port = pick(random);
            if (binds(port) && reserve(port)) return port;
        }
    }
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    int port = socket.address().port();
    socket.close();
    return port;
}

std::string socketsOnPort(int port) {
    // /proc/net/tcp rather than ss(8): the local address is "0100007F:3E9C" (hex port), the
    // state 0A is LISTEN and 06 TIME_WAIT; the inode leads to the owner through /proc/*/fd.
    char hexPort[8];
    std::snprintf(hexPort, sizeof hexPort, ":%04X", port);
    std::string found;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state;
            fields >> slot >> local >> remote >> state;
            if (local.size() > 5 && local.compare(local.size() - 5, 5, hexPort) == 0) {
                found += std::string(table) + ": " + line + "\n";
            }
        }
    }
    return found.empty() ? "no socket on port " + std::to_string(port) + "\n" : found;
}

bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
}

std::vector<std::string> globPaths(const std::string& pattern) {
    std::vector<std::string> paths;
    glob_t found{};
    if (::glob(pattern.c_str(), 0, nullptr, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; ++i) paths.push_back(found.gl_pathv[i]);
    }
    ::globfree(&found);
    return paths;
}

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write " + path);
    out << text;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string binaryPath(const std::string& program) {
    return std::string(TE_BINARY_DIR) + "/bin/" + program;
}

std::string sourcePath(const std::string& relative) {
    return std::string(TE_SOURCE_DIR) + "/" + relative;
}

std::string describe(const StateCounts& counts) {
    std::ostringstream out;
    out << "jobs";
    for (std::int64_t n : counts.jobs) out << ' ' << n;
    out << " failed " << counts.failedJobs << "; tasks";
    for (std::int64_t n : counts.tasks) out << ' ' << n;
    out << ";";
    for (const auto& [queue, open] : counts.queues) {
        out << ' ' << queue << ' ' << open.pending << '/' << open.working;
    }
    return out.str();
}

}  // namespace te::test
