#pragma once

#include <windows.h>

#include <atomic>

#include "worker/Platform.h"

namespace te::platform {

// ChildProcess on Windows. The child runs inside its own job object, created with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and without breakaway, so everything it starts is in the
// job too: TerminateJobObject ends the whole tree, and if the worker itself dies the system
// closes the job handle and ends the tree as well. Owns the process, job and pipe handles.
class Win32ChildProcess : public ChildProcess {
public:
    Win32ChildProcess(HANDLE process, DWORD pid, HANDLE job, HANDLE stdoutRead, HANDLE stderrRead);
    ~Win32ChildProcess() override;
    Win32ChildProcess(const Win32ChildProcess&) = delete;
    Win32ChildProcess& operator=(const Win32ChildProcess&) = delete;

    long pid() const override { return static_cast<long>(_pid); }
    std::size_t readStdout(char* buffer, std::size_t size) override;
    std::size_t readStderr(char* buffer, std::size_t size) override;
    std::optional<int> wait(int timeoutMs) override;
    // Windows has no SIGTERM for a process without a console of ours: this ends the job with
    // exit code 143 (128 + SIGTERM), which is what the runtime expects of a terminated task.
    void terminateGroup() override;
    // Ends the job with exit code 137 (128 + SIGKILL).
    void killGroup() override;

private:
    static std::size_t readFrom(HANDLE pipe, char* buffer, std::size_t size);

    HANDLE _process;
    DWORD _pid;
    HANDLE _job;
    HANDLE _stdoutRead;
    HANDLE _stderrRead;
};

}  // namespace te::platform
