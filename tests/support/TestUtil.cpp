#include "tests/support/TestUtil.h"

#include <Poco/File.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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

int freePort() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    int port = socket.address().port();
    socket.close();
    return port;
}

bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
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

}  // namespace te::test
