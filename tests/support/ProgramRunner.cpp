#include "tests/support/ProgramRunner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "tests/support/TestUtil.h"

extern char** environ;

namespace te::test {

ProgramRunner::ProgramRunner(const std::string& program, const std::vector<std::string>& args,
                             const std::string& outputDir)
    : _outFile(outputDir + "/stdout.txt"), _errFile(outputDir + "/stderr.txt") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, _outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, _errFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + program);
    _pid = pid;
}

ProgramRunner::~ProgramRunner() {
    if (!_reaped) {
        ::kill(_pid, SIGKILL);
        ::waitpid(_pid, nullptr, 0);
    }
}

void ProgramRunner::signal(int sig) { ::kill(_pid, sig); }

int ProgramRunner::wait(int timeoutMs) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        int status = 0;
        if (::waitpid(_pid, &status, WNOHANG) == _pid) {
            _reaped = true;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
        }
        if (std::chrono::steady_clock::now() >= deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::string ProgramRunner::out() const { return readFile(_outFile); }
std::string ProgramRunner::err() const { return readFile(_errFile); }

int ProgramRunner::lines(const std::string& text) {
    int n = 0;
    for (char ch : text) n += ch == '\n';
    return n;
}

}  // namespace te::test
