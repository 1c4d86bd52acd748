// Smoke test of worker/win32 (the Windows side of worker/Platform.h), run under Wine by
// scripts/test-windows. Built straight with mingw-w64 (no POCO, no CMake) so it runs before
// and apart from the rest of the cross build. Prints "N passed, N failed".
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "worker/Platform.h"

using namespace te::platform;

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
    std::cout << (ok ? "ok: " : "FAIL: ") << what << std::endl;
    (ok ? passed : failed)++;
}

std::string readAll(ChildProcess& child) {
    std::string out;
    char buf[4096];
    while (std::size_t n = child.readStdout(buf, sizeof buf)) out.append(buf, n);
    return out;
}

}  // namespace

int main() {
    auto env = currentEnvironment();
    check(env.count("PATH") == 1, "currentEnvironment has PATH");
    std::string cmd = resolveExecutable("cmd", env["PATH"]);
    check(!cmd.empty(), "resolveExecutable finds cmd on PATH: " + cmd);
    check(resolveExecutable("no-such-program-xyz", env["PATH"]).empty(),
          "an unknown program resolves to empty");
    check(!hostName().empty(), "hostName: " + hostName());
    check(std::string(platformName()) == "windows", "platformName is windows");
    long long mb = -1;
    try {
        mb = freeDiskMb("C:\\");
    } catch (const std::exception& e) {
        std::cout << e.what() << std::endl;
    }
    check(mb > 0, "freeDiskMb(C:\\) = " + std::to_string(mb));

    // Output, arguments with spaces and quotes, exit code.
    {
        LaunchSpec spec{{cmd, "/c", "echo", "hello world", "&&", "exit", "7"}, "", env};
        auto child = launch(spec);
        std::string out = readAll(*child);
        auto code = child->wait(10000);
        check(out.find("hello world") != std::string::npos,
              "stdout read: " + out.substr(0, out.find('\r')));
        check(code && *code == 7,
              "exit code 7: " + (code ? std::to_string(*code) : std::string("none")));
    }
    // The environment given is the child's.
    {
        auto e = env;
        e["TE_SMOKE"] = "from-spec";
        LaunchSpec spec{{cmd, "/c", "echo", "%TE_SMOKE%"}, "", e};
        auto child = launch(spec);
        std::string out = readAll(*child);
        child->wait(10000);
        check(out.find("from-spec") != std::string::npos,
              "child environment: " + out.substr(0, out.find('\r')));
    }
    // killGroup ends the child and what it started (ping, a grandchild, holds the pipe too):
    // the read must reach end of stream and wait must return promptly.
    {
        LaunchSpec spec{{cmd, "/c", "ping", "-n", "60", "127.0.0.1"}, "", env};
        auto child = launch(spec);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        check(!child->wait(0), "long task still runs");
        auto start = std::chrono::steady_clock::now();
        std::thread reader([&] { readAll(*child); });
        child->killGroup();
        auto code = child->wait(10000);
        reader.join();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        check(code && *code == 137,
              "killGroup: exit code 137: " + (code ? std::to_string(*code) : std::string("none")));
        check(ms < 5000, "killGroup: the whole tree ended and the pipe closed in " +
                             std::to_string(ms) + " ms");
    }
    // A program that does not exist is a clear error, not a crash.
    try {
        launch(LaunchSpec{{"C:\\no\\such.exe"}, "", env});
        check(false, "launching a missing program throws");
    } catch (const std::exception& e) {
        check(std::string(e.what()).find("not found") != std::string::npos,
              std::string("missing program: ") + e.what());
    }
    std::cout << passed << " passed, " << failed << " failed" << std::endl;
    return failed == 0 ? 0 : 1;
}
