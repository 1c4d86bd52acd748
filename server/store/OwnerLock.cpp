#include "server/store/OwnerLock.h"

#include <Poco/Environment.h>
#include <Poco/Logger.h>
#include <Poco/Process.h>
#include <fcntl.h>
#include <soci/postgresql/soci-postgresql.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "server/store/SqlQuery.h"
#include "shared/Errors.h"

namespace te::store {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kRetry{100};

// Runs `attempt` every kRetry until it succeeds or `deadline` passes; returns whether it did.
bool retryUntil(Clock::time_point deadline, const std::function<bool()>& attempt) {
    while (!attempt()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kRetry);
    }
    return true;
}

std::string inUse(const std::string& displayUrl, const std::string& holder) {
    return "database " + displayUrl + " is in use by another taskengine-server" +
           (holder.empty() ? "" : " (" + holder + ")") +
           "; several servers must not share one database: stop the other one, or give this "
           "one a database of its own";
}

// Who holds the lock, from pg_stat_activity: where it connects from and since when.
std::string postgresHolder(soci::session& session) {
    std::string address, since;
    int pid = 0;
    SqlQuery query(session);
    query.into(address).into(since).into(pid);
    query.bind(OwnerLock::kAdvisoryKey);
    if (!query.run("SELECT COALESCE(host(a.client_addr), 'a local socket'),"
                   " to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " a.pid"
                   " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                   " WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = :key"
                   " AND l.objsubid = 1 AND l.granted")) {
        return "";
    }
    return "connected from " + address + " since " + since + ", PostgreSQL pid " +
           std::to_string(pid);
}

}  // namespace

void OwnerLock::connect() {
    // Named, so the holder shows in pg_stat_activity as what it is. Bounded, so a database
    // host that vanished cannot hold the thread (and the server's stop, which joins it) for
    // the kernel's TCP timeouts: a connection attempt gives up after 5 s, a statement whose
    // packets go unanswered after 10 s.
    _session = std::make_unique<soci::session>(
        *soci::factory_postgresql(),
        _target +
            " application_name=taskengine-server connect_timeout=5 keepalives=1"
            " keepalives_idle=10 keepalives_interval=5 keepalives_count=3"
            " tcp_user_timeout=10000");
    // A server whose host is gone holds its lock until this session ends: have PostgreSQL
    // probe the connection after 10 s of silence, every 5 s, 3 times.
    SqlQuery(*_session).run("SET tcp_keepalives_idle = 10");
    SqlQuery(*_session).run("SET tcp_keepalives_interval = 5");
    SqlQuery(*_session).run("SET tcp_keepalives_count = 3");
}

bool OwnerLock::tryLock() {
    int taken = 0;
    SqlQuery query(*_session);
    query.into(taken).bind(kAdvisoryKey).run("SELECT CAST(pg_try_advisory_lock(:key) AS INTEGER)");
    return taken != 0;
}

void OwnerLock::holdLoop() {
    Poco::Logger& log = Poco::Logger::get("store");
    bool held = true;
    std::unique_lock<std::mutex> lock(_mutex);
    while (!_wake.wait_for(lock, kCheckInterval, [this] { return _stopping; })) {
        lock.unlock();
        try {
            if (held) SqlQuery(*_session).run("SELECT 1");
        } catch (const std::exception&) {
            held = false;  // the session is gone, and the lock with it
        }
        if (!held) {
            try {
                connect();
                held = tryLock();
                if (held) {
                    log.information(
                        "database %s: taken back for this server after its "
                        "connection was lost",
                        _displayUrl);
                } else {
                    log.error("%s", inUse(_displayUrl, postgresHolder(*_session)) +
                                        " (it took the database while this server's "
                                        "connection was down: stop one of them)");
                }
            } catch (const std::exception& e) {
                // The database is still down; the store's own connections say so too.
                log.debug("database %s: cannot take it back yet: %s", _displayUrl,
                          oneLine(e.what()));
            }
        }
        lock.lock();
    }
}

OwnerLock::OwnerLock(Dialect dialect, const std::string& target, const std::string& displayUrl,
                     std::chrono::milliseconds wait)
    : _target(target), _displayUrl(displayUrl) {
    const auto deadline = Clock::now() + wait;
    if (dialect == Dialect::Postgres) {
        try {
            connect();
            if (!retryUntil(deadline, [this] { return tryLock(); })) {
                throw StoreError(inUse(displayUrl, postgresHolder(*_session)));
            }
        } catch (const StoreError&) {
            throw;
        } catch (const std::exception& e) {
            throw StoreError("cannot open database " + displayUrl + ": " + oneLine(e.what()));
        }
        _holder = std::thread([this] { holdLoop(); });
        return;
    }
    if (target.empty() || target == ":memory:") return;  // no other process can open that one
    const std::string lockPath = target + ".lock";
    _fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (_fd < 0) {
        throw StoreError("cannot open " + lockPath + ": " + std::strerror(errno));
    }
    const bool taken = retryUntil(deadline, [&] {
        if (::flock(_fd, LOCK_EX | LOCK_NB) == 0) return true;
        if (errno == EWOULDBLOCK || errno == EINTR) return false;
        const std::string error = std::strerror(errno);
        ::close(_fd);
        throw StoreError("cannot lock " + lockPath + ": " + error);
    });
    if (taken) {
        // For the message a second server gives.
        const std::string holder =
            "pid " + std::to_string(Poco::Process::id()) + " on " + Poco::Environment::nodeName();
        if (::ftruncate(_fd, 0) == 0) {
            (void)::pwrite(_fd, holder.data(), holder.size(), 0);
        }
        return;
    }
    char holder[256] = {};
    const ssize_t n = ::pread(_fd, holder, sizeof(holder) - 1, 0);
    ::close(_fd);
    _fd = -1;
    throw StoreError(inUse(displayUrl, n > 0 ? std::string(holder, static_cast<size_t>(n)) : ""));
}

OwnerLock::~OwnerLock() {
    {
        std::lock_guard<std::mutex> lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    if (_holder.joinable()) _holder.join();
    if (_fd >= 0) ::close(_fd);
    // The session's end lets go of the advisory lock.
}

}  // namespace te::store
