#pragma once

// What differs per operating system for the worker, and nothing else. The POSIX implementation
// lives in worker/posix/, the Windows one in worker/win32/; exactly one is compiled.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace te::platform {

// What to start. argv[0] must already be resolved (see resolveExecutable); nothing is passed
// through a shell. env is the child's complete environment.
struct LaunchSpec {
    std::vector<std::string> argv;
    std::string cwd;
    std::map<std::string, std::string> env;
};

// A child process started in its own process group (POSIX) or job object (Windows), so that
// killing it also kills everything it started. stdin is the null device; stdout and stderr
// are pipes. Each read method is called by at most one thread; wait() and terminate*() may be
// called from another thread than the readers. The destructor kills the group if it still runs
// and reaps the child.
class ChildProcess {
public:
    virtual ~ChildProcess() = default;

    virtual long pid() const = 0;
    // Blocking reads of the child's stdout / stderr. Return the number of bytes read, 0 at end
    // of stream (the whole group closed its end, or the group was killed).
    virtual std::size_t readStdout(char* buffer, std::size_t size) = 0;
    virtual std::size_t readStderr(char* buffer, std::size_t size) = 0;
    // Waits up to timeoutMs (-1: forever) for the child itself to end. Returns its exit code, or
    // nothing while it still runs. A child ended by a signal gives 128 + the signal number.
    virtual std::optional<int> wait(int timeoutMs) = 0;
    // Asks the whole group to end (SIGTERM; Windows: as the implementation sees fit).
    virtual void terminateGroup() = 0;
    // Ends the whole group now (SIGKILL; Windows: TerminateJobObject).
    virtual void killGroup() = 0;
};

// Starts spec. Throws te::Error with a one-line reason when the process cannot be started.
std::unique_ptr<ChildProcess> launch(const LaunchSpec& spec);

// The absolute path of the program `command` names: a path (relative ones against the worker's
// current folder) or a name looked up in `searchPath` (the PATH value, platform separator).
// Empty when there is no such executable file.
std::string resolveExecutable(const std::string& command, const std::string& searchPath);

// The worker's own environment.
std::map<std::string, std::string> currentEnvironment();

// Free space in megabytes on the file system holding `path`; throws te::Error if unknown.
long long freeDiskMb(const std::string& path);

std::string hostName();
// "linux" or "windows", as READY reports it.
const char* platformName();

}  // namespace te::platform
