#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace te {
struct StateCounts;
}

namespace te::test {

// A fresh folder under /tmp, removed by the destructor (kept if TE_KEEP_TEMP is set).
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }
    std::string file(const std::string& name) const { return _path + "/" + name; }

private:
    std::string _path;
};

// A TCP port on 127.0.0.1 that is free now, chosen below the kernel's ephemeral range so
// that no outgoing connection takes it before the test binds it.
int freePort();
// The TCP sockets on a local port, one line each from /proc/net/tcp{,6}: for a test's message
// when a server cannot bind it.
std::string socketsOnPort(int port);

// Polls pred every 10 ms until it is true or the timeout passes; returns pred's last value.
bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// The paths matching a shell pattern (glob(3)), sorted; none when nothing matches.
std::vector<std::string> globPaths(const std::string& pattern);

void writeFile(const std::string& path, const std::string& text);
std::string readFile(const std::string& path);

// Paths of the build: build/bin/taskengine-worker etc., and the source tree.
std::string binaryPath(const std::string& program);
std::string sourcePath(const std::string& relative);

// GET /health's counts on one line ("jobs 1 0 ...; tasks ...; work 2/1"), so two of them
// compare as text and a failure shows every count.
std::string describe(const StateCounts& counts);

}  // namespace te::test
