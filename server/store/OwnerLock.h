#pragma once

#include <soci/soci.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/store/Migrations.h"

namespace te::store {

// The database for one taskengine-server alone, for as long as this lives. The server keeps
// rows and counts between transactions (RowCache, the kept counts) that a second server
// writing the same jobs would make stale, and two dispatchers would hand out one queue: so a
// second server is refused at its start, with a line naming the first.
// - PostgreSQL: a session-level advisory lock on a connection of its own. PostgreSQL lets
//   go of it when that connection ends, including when the server is killed; the session's
//   keepalives end it within ~30 s when the server's host is gone. A database restart ends
//   it too: a thread looks every few seconds, connects again and takes the lock back, and
//   logs an error while another server holds it.
// - SQLite: flock on "<file>.lock" beside the database (not the database itself: closing any
//   descriptor of a file drops the POSIX locks SQLite holds on it). The kernel lets go when
//   the process ends, however it ends.
class OwnerLock {
public:
    // `target`: PostgreSQL's connection string, or SQLite's file. Waits up to `wait` for a
    // holder that is going away (a killed server whose connection PostgreSQL has not yet
    // seen close), then throws StoreError naming the holder.
    OwnerLock(Dialect dialect, const std::string& target, const std::string& displayUrl,
              std::chrono::milliseconds wait);
    ~OwnerLock();
    OwnerLock(const OwnerLock&) = delete;
    OwnerLock& operator=(const OwnerLock&) = delete;

    // The advisory lock's key (per database): pg_locks shows it as objid with classid 0.
    static constexpr long long kAdvisoryKey = 7474202;

    static constexpr std::chrono::seconds kCheckInterval{5};

private:
    // PostgreSQL: a session of its own with keepalives, and one try at the lock.
    void connect();
    bool tryLock();
    void holdLoop();

    std::string _target;
    std::string _displayUrl;
    std::unique_ptr<soci::session> _session;
    std::thread _holder;
    std::mutex _mutex;
    std::condition_variable _wake;
    bool _stopping = false;
    int _fd = -1;
};

}  // namespace te::store
