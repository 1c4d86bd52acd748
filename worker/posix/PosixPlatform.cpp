// The POSIX side of worker/Platform.h.
//
// Why posix_spawn and not Poco::Process: a task must run in its own process group so that a
// timeout or CANCEL can kill everything it started (a shell's background jobs, ffmpeg's
// helpers), and Poco::Process::launch offers no way to set the group. posix_spawn with
// POSIX_SPAWN_SETPGROUP does, without the fork-in-a-threaded-program hazards of a hand-written
// fork/exec, and glibc reports exec failures (ENOENT, EACCES) as its return value.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/Errors.h"
#include "worker/Platform.h"
#include "worker/posix/PosixChildProcess.h"

extern char** environ;

namespace te::platform {
namespace {

bool isExecutableFile(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

std::string currentDir() {
    char buf[4096];
    return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string(".");
}

// Owns the file actions and attributes of one posix_spawn call.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

std::unique_ptr<ChildProcess> launch(const LaunchSpec& spec) {
    if (spec.argv.empty()) throw Error("no command to run");
    // O_CLOEXEC: tasks started at the same time by other threads must not inherit these ends.
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
    if (::pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(out[0]);
        ::close(out[1]);
        throw Error(std::string("pipe: ") + std::strerror(e));
    }
    SpawnSetup s;
    posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&s.actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&s.actions, err[1], 2);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&s.actions, spec.cwd.c_str());
    // The worker's threads may block or ignore signals (the termination-request thread blocks
    // SIGTERM); the task must start with a clean mask and default handlers.
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2}) {
        sigaddset(&defaults, sig);
    }
    posix_spawnattr_setsigmask(&s.attr, &empty);
    posix_spawnattr_setsigdefault(&s.attr, &defaults);
    posix_spawnattr_setpgroup(&s.attr, 0);
    posix_spawnattr_setflags(
        &s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> envStrings;
    envStrings.reserve(spec.env.size());
    for (const auto& [k, v] : spec.env) envStrings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& e : envStrings) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = 0;
    int rc =
        ::posix_spawn(&pid, spec.argv[0].c_str(), &s.actions, &s.attr, argv.data(), envp.data());
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
        ::close(out[0]);
        ::close(err[0]);
        if (rc == ENOENT) throw Error("command not found: " + spec.argv[0]);
        throw Error("cannot start " + spec.argv[0] + ": " + std::strerror(rc));
    }
    return std::make_unique<PosixChildProcess>(pid, out[0], err[0]);
}

std::string resolveExecutable(const std::string& command, const std::string& searchPath) {
    if (command.empty()) return "";
    if (command.find('/') != std::string::npos) {
        std::string path = command[0] == '/' ? command : currentDir() + "/" + command;
        return isExecutableFile(path) ? path : "";
    }
    size_t start = 0;
    while (start <= searchPath.size()) {
        size_t end = searchPath.find(':', start);
        if (end == std::string::npos) end = searchPath.size();
        std::string dir = searchPath.substr(start, end - start);
        if (dir.empty()) dir = ".";
        std::string path = dir + "/" + command;
        if (path[0] != '/') path = currentDir() + "/" + path;
        if (isExecutableFile(path)) return path;
        start = end + 1;
    }
    return "";
}

std::map<std::string, std::string> currentEnvironment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const char* eq = std::strchr(*e, '=');
        if (eq)
            env.emplace(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
    }
    return env;
}

long long freeDiskMb(const std::string& path) {
    struct statvfs st {};
    if (::statvfs(path.c_str(), &st) != 0) {
        throw Error("cannot read free space of " + path + ": " + std::strerror(errno));
    }
    return static_cast<long long>(st.f_bavail) * static_cast<long long>(st.f_frsize) /
           (1024 * 1024);
}

std::string hostName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

const char* platformName() { return "linux"; }

}  // namespace te::platform
