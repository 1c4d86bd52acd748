#include "worker/win32/Win32ChildProcess.h"

namespace te::platform {

Win32ChildProcess::Win32ChildProcess(HANDLE process, DWORD pid, HANDLE job, HANDLE stdoutRead,
                                     HANDLE stderrRead)
    : _process(process), _pid(pid), _job(job), _stdoutRead(stdoutRead), _stderrRead(stderrRead) {}

Win32ChildProcess::~Win32ChildProcess() {
    // Leave nothing behind: stragglers of the job die with the task.
    killGroup();
    ::WaitForSingleObject(_process, 5000);
    ::CloseHandle(_stdoutRead);
    ::CloseHandle(_stderrRead);
    ::CloseHandle(_process);
    ::CloseHandle(_job);
}

std::size_t Win32ChildProcess::readStdout(char* buffer, std::size_t size) {
    return readFrom(_stdoutRead, buffer, size);
}

std::size_t Win32ChildProcess::readStderr(char* buffer, std::size_t size) {
    return readFrom(_stderrRead, buffer, size);
}

// Blocking read of an anonymous pipe. Every holder of the write end is in the job (no
// breakaway), so once the job is terminated the write ends close and this returns 0.
std::size_t Win32ChildProcess::readFrom(HANDLE pipe, char* buffer, std::size_t size) {
    DWORD n = 0;
    DWORD want = size > 0x10000000 ? 0x10000000 : static_cast<DWORD>(size);
    for (;;) {
        if (::ReadFile(pipe, buffer, want, &n, nullptr)) {
            // A zero-byte write by the child reads as 0 bytes; that is not the end.
            if (n == 0) continue;
            return n;
        }
        // ERROR_BROKEN_PIPE: the last writer closed. Any other error ends the stream too.
        return 0;
    }
}

std::optional<int> Win32ChildProcess::wait(int timeoutMs) {
    DWORD rc =
        ::WaitForSingleObject(_process, timeoutMs < 0 ? INFINITE : static_cast<DWORD>(timeoutMs));
    if (rc == WAIT_TIMEOUT) return std::nullopt;
    DWORD code = 255;
    if (rc != WAIT_OBJECT_0 || !::GetExitCodeProcess(_process, &code)) return 255;
    return static_cast<int>(code);
}

void Win32ChildProcess::terminateGroup() { ::TerminateJobObject(_job, 143); }

void Win32ChildProcess::killGroup() { ::TerminateJobObject(_job, 137); }

}  // namespace te::platform
