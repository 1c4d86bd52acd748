#include "worker/posix/PosixChildProcess.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace te::platform {

PosixChildProcess::PosixChildProcess(pid_t pid, int stdoutFd, int stderrFd)
    : _pid(pid), _stdoutFd(stdoutFd), _stderrFd(stderrFd) {}

PosixChildProcess::~PosixChildProcess() {
    // Leave nothing behind: stragglers of the group die with the task.
    killGroup();
    int status = 0;
    while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::close(_stdoutFd);
    ::close(_stderrFd);
}

std::size_t PosixChildProcess::readStdout(char* buffer, std::size_t size) {
    return readFrom(_stdoutFd, buffer, size);
}

std::size_t PosixChildProcess::readStderr(char* buffer, std::size_t size) {
    return readFrom(_stderrFd, buffer, size);
}

std::size_t PosixChildProcess::readFrom(int fd, char* buffer, std::size_t size) {
    for (;;) {
        pollfd pfd{fd, POLLIN, 0};
        int ready = ::poll(&pfd, 1, 100);
        if (ready < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        if (ready == 0) {
            if (_drainOnly) return 0;
            continue;
        }
        ssize_t n = ::read(fd, buffer, size);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return 0;
        }
        return static_cast<std::size_t>(n);
    }
}

std::optional<int> PosixChildProcess::wait(int timeoutMs) {
    if (_exited) return _exitCode;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    auto pause = std::chrono::microseconds(200);
    for (;;) {
        siginfo_t info{};
        int rc = ::waitid(P_PID, static_cast<id_t>(_pid), &info, WEXITED | WNOHANG | WNOWAIT);
        if (rc == 0 && info.si_pid == _pid) {
            _exitCode = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
            _exited = true;
            return _exitCode;
        }
        if (rc < 0 && errno != EINTR) {
            // Someone else reaped it (should not happen); report a failure rather than hang.
            _exitCode = 255;
            _exited = true;
            return _exitCode;
        }
        if (timeoutMs >= 0 && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(pause);
        if (pause < std::chrono::milliseconds(10)) pause *= 2;
    }
}

void PosixChildProcess::terminateGroup() { ::kill(-_pid, SIGTERM); }

void PosixChildProcess::killGroup() {
    ::kill(-_pid, SIGKILL);
    _drainOnly = true;
}

}  // namespace te::platform
