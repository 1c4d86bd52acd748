#pragma once

#include <sys/types.h>

#include <atomic>

#include "worker/Platform.h"

namespace te::platform {

// ChildProcess on POSIX. The child leads its own process group (pgid == pid), so kill(-pid)
// reaches everything it started that did not leave the group on purpose (setsid).
// The child is not reaped until destruction (waitid with WNOWAIT): while it is a zombie its
// pid, and so the group id, cannot be reused, which makes killing the group after the child
// ended safe.
class PosixChildProcess : public ChildProcess {
public:
    PosixChildProcess(pid_t pid, int stdoutFd, int stderrFd);
    ~PosixChildProcess() override;
    PosixChildProcess(const PosixChildProcess&) = delete;
    PosixChildProcess& operator=(const PosixChildProcess&) = delete;

    long pid() const override { return _pid; }
    std::size_t readStdout(char* buffer, std::size_t size) override;
    std::size_t readStderr(char* buffer, std::size_t size) override;
    std::optional<int> wait(int timeoutMs) override;
    void terminateGroup() override;
    void killGroup() override;

private:
    std::size_t readFrom(int fd, char* buffer, std::size_t size);

    pid_t _pid;
    int _stdoutFd;
    int _stderrFd;
    // Set by killGroup(): a process that escaped the group (setsid) may still hold the pipes,
    // so from then on a read that stays quiet for a moment counts as end of stream.
    std::atomic<bool> _drainOnly{false};
    std::atomic<bool> _exited{false};
    int _exitCode = -1;
};

}  // namespace te::platform
