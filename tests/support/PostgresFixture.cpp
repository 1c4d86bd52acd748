#include "tests/support/PostgresFixture.h"

#include <Poco/File.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/TestUtil.h"

extern char** environ;

namespace te::test {
namespace {

// The newest installed PostgreSQL's bin folder, e.g. /usr/lib/postgresql/15/bin.
std::string findBinDir() {
    std::vector<std::string> dirs;
    for (const std::string& path : globPaths("/usr/lib/postgresql/*/bin/initdb")) {
        dirs.push_back(path.substr(0, path.size() - std::string("/initdb").size()));
    }
    if (dirs.empty()) {
        throw std::runtime_error(
            "PostgresFixture: no /usr/lib/postgresql/*/bin/initdb; install the postgresql "
            "package (scripts/install-deps)");
    }
    // Numeric order, so 15 beats 9.6.
    std::sort(dirs.begin(), dirs.end(), [](const std::string& a, const std::string& b) {
        return std::atof(a.c_str() + 20) < std::atof(b.c_str() + 20);
    });
    return dirs.back();
}

struct RunResult {
    int status = -1;
    std::string output;
};

// Runs argv (no shell) with stdin from /dev/null and stdout+stderr into `logFile`; waits.
RunResult run(const std::vector<std::string>& argv, const std::string& logFile) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, logFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    RunResult result;
    if (rc != 0) {
        result.output = "cannot start " + argv[0] + ": " + std::to_string(rc);
        return result;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    try {
        result.output = readFile(logFile);
    } catch (const std::exception&) {
        // No output file: the status says enough.
    }
    return result;
}

// Where the clusters' folders go: /tmp, or TE_PG_FIXTURE_ROOT (the reaper's own test).
std::string fixtureRoot() {
    const char* root = std::getenv("TE_PG_FIXTURE_ROOT");
    return root && *root ? root : "/tmp";
}

bool processGone(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH; }

std::string joined(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
    return text;
}

}  // namespace

struct PostgresFixture::Impl {
    std::mutex mutex;
    std::string binDir;
    std::string dir;  // owned by the server's user; holds data/, the socket and logs
    std::string dataDir;
    std::string runAs;  // "postgres" when we are root (initdb refuses root), else ""
    std::string dbUser = "te";
    int port = 0;
    int databases = 0;
    bool running = false;

    // Runs a PostgreSQL program as the cluster's owner; throws with its output on failure.
    void pg(const std::string& program, const std::vector<std::string>& args) {
        std::vector<std::string> argv;
        if (!runAs.empty()) argv = {"/usr/sbin/runuser", "-u", runAs, "--"};
        argv.push_back(binDir + "/" + program);
        argv.insert(argv.end(), args.begin(), args.end());
        RunResult result = run(argv, dir + "/command.log");
        if (result.status != 0) {
            std::string message = "PostgresFixture: `" + joined(argv) + "` failed (status " +
                                  std::to_string(result.status) + "):\n" + result.output;
            try {
                message += "\nserver log:\n" + readFile(dir + "/server.log");
            } catch (const std::exception&) {
                // No server log yet.
            }
            throw std::runtime_error(message);
        }
    }

    void start() {
        if (running) return;
        pg("pg_ctl", {"-D", dataDir, "-l", dir + "/server.log", "-w", "-t", "30", "-o",
                      "-p " + std::to_string(port) + " -k " + dir +
                          " -c listen_addresses=127.0.0.1 -c fsync=off"
                          " -c synchronous_commit=off -c full_page_writes=off"
                          " -c max_connections=200",
                      "start"});
        running = true;
    }

    void stop(const std::string& mode) {
        if (!running) return;
        pg("pg_ctl", {"-D", dataDir, "-m", mode, "-w", "-t", "30", "stop"});
        running = false;
    }
};

int PostgresFixture::reapAbandonedClusters(const std::string& root) {
    int reaped = 0;
    for (const std::string& ownerFile : globPaths(root + "/taskengine-pg-*/owner.pid")) {
        const std::string dir =
            ownerFile.substr(0, ownerFile.size() - std::string("/owner.pid").size());
        pid_t owner = 0;
        try {
            owner = static_cast<pid_t>(std::stol(readFile(ownerFile)));
        } catch (const std::exception&) {
            continue;  // being written, or not ours to judge
        }
        // Only a program that is gone abandoned its cluster; one that runs, or whose pid we may
        // not signal (another user's), keeps it.
        if (!processGone(owner)) continue;
        Impl cluster;
        cluster.dir = dir;
        cluster.dataDir = dir + "/data";
        cluster.running = Poco::File(cluster.dataDir + "/postmaster.pid").exists();
        try {
            cluster.binDir = findBinDir();
            struct stat info {};
            if (::geteuid() == 0 && ::stat(dir.c_str(), &info) == 0 && info.st_uid != 0) {
                if (struct passwd* user = ::getpwuid(info.st_uid)) cluster.runAs = user->pw_name;
            }
            cluster.stop("immediate");
        } catch (const std::exception& e) {
            // Removed anyway: a postmaster whose lock file is gone shuts itself down.
            std::cerr << "PostgresFixture: stopping the abandoned cluster in " << dir << ": "
                      << e.what() << std::endl;
        }
        try {
            Poco::File(dir).remove(true);
            ++reaped;
        } catch (const std::exception& e) {
            std::cerr << "PostgresFixture: cannot remove " << dir << ": " << e.what() << std::endl;
        }
    }
    return reaped;
}

PostgresFixture::PostgresFixture() : _impl(new Impl) {
    try {
        _impl->binDir = findBinDir();
        // A test program killed before its destructors ran (ctest's timeout, kill -9) left its
        // cluster running; the next one to start stops it.
        reapAbandonedClusters(fixtureRoot());
        std::string pattern = fixtureRoot() + "/taskengine-pg-XXXXXX";
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("PostgresFixture: mkdtemp failed");
        _impl->dir = pattern;
        _impl->dataDir = _impl->dir + "/data";
        writeFile(_impl->dir + "/owner.pid", std::to_string(::getpid()));
        if (::geteuid() == 0) {
            _impl->runAs = "postgres";
            struct passwd* user = ::getpwnam("postgres");
            if (!user) {
                throw std::runtime_error(
                    "PostgresFixture: running as root but there is no `postgres` user to run "
                    "the server as (install the postgresql package)");
            }
            if (::chown(_impl->dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
                throw std::runtime_error("PostgresFixture: cannot chown " + _impl->dir);
            }
        }
        _impl->pg("initdb", {"-D", _impl->dataDir, "-U", _impl->dbUser, "--auth=trust", "-E",
                             "UTF8", "--locale=C", "-N"});
        // A free port can be taken by another program (tests run in parallel) before the
        // server binds it: pick again, a few times, when that is why it did not start.
        for (int attempt = 1;; ++attempt) {
            _impl->port = freePort();
            try {
                _impl->start();
                break;
            } catch (const std::runtime_error& e) {
                const bool taken =
                    std::string(e.what()).find("already in use") != std::string::npos;
                if (!taken || attempt == 5) throw;
                Poco::File log(_impl->dir + "/server.log");
                if (log.exists()) log.remove();
            }
        }
    } catch (...) {
        if (!_impl->dir.empty()) Poco::File(_impl->dir).remove(true);
        delete _impl;
        throw;
    }
}

PostgresFixture::~PostgresFixture() {
    try {
        _impl->stop("immediate");
    } catch (const std::exception& e) {
        std::cerr << e.what() << std::endl;
    }
    try {
        if (std::getenv("TE_KEEP_TEMP")) {
            // Kept to be looked at: not an abandoned cluster for the next program to remove.
            Poco::File(_impl->dir + "/owner.pid").remove();
        } else {
            Poco::File(_impl->dir).remove(true);
        }
    } catch (const std::exception& e) {
        std::cerr << "PostgresFixture: cannot remove " << _impl->dir << ": " << e.what()
                  << std::endl;
    }
    delete _impl;
}

PostgresFixture& PostgresFixture::instance() {
    // Constructed on first use; the destructor stops the cluster at exit.
    static PostgresFixture fixture;
    return fixture;
}

std::string PostgresFixture::freshDatabase(bool commitsWait) {
    std::lock_guard<std::mutex> lock(_impl->mutex);
    const std::string name = "te_" + std::to_string(++_impl->databases);
    _impl->pg("createdb",
              {"-h", "127.0.0.1", "-p", std::to_string(_impl->port), "-U", _impl->dbUser, name});
    if (commitsWait) {
        _impl->pg("psql",
                  {"-h", "127.0.0.1", "-p", std::to_string(_impl->port), "-U", _impl->dbUser, "-d",
                   name, "-q", "-c", "ALTER DATABASE " + name + " SET synchronous_commit = on"});
    }
    return "postgresql://host=127.0.0.1 port=" + std::to_string(_impl->port) + " dbname=" + name +
           " user=" + _impl->dbUser;
}

int PostgresFixture::port() const { return _impl->port; }

void PostgresFixture::restart() {
    std::lock_guard<std::mutex> lock(_impl->mutex);
    _impl->stop("fast");
    _impl->start();
}

void PostgresFixture::crashAndRestart() {
    std::lock_guard<std::mutex> lock(_impl->mutex);
    _impl->stop("immediate");
    _impl->start();
}

void PostgresFixture::stop() {
    std::lock_guard<std::mutex> lock(_impl->mutex);
    _impl->stop("fast");
}

void PostgresFixture::start() {
    std::lock_guard<std::mutex> lock(_impl->mutex);
    _impl->start();
}

std::vector<std::string> backendUrls(const std::string& dir) {
    return {"sqlite3://db=" + dir + "/store.db", PostgresFixture::instance().freshDatabase()};
}

}  // namespace te::test
