#pragma once

#include <soci/soci.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/store/Migrations.h"
#include "server/store/OwnerLock.h"
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "server/store/Store.h"

namespace te::store {

// The Store on SOCI, for SQLite and PostgreSQL.
//
// Connections: a pool of sessions, created on demand, each with its prepared statements. SQLite
// gets one session, so borrowing it is what serializes writers (with BEGIN IMMEDIATE, a transaction
// never has to upgrade a read lock and never meets SQLITE_BUSY from within the process). PostgreSQL
// gets up to kPostgresSessions so transactions of different threads run side by side.
//
// Lost connections: when a statement fails and the session cannot even roll back, the
// session (and every idle one, which saw the same restart) is dropped and the work runs again
// on a fresh connection, a few times with a short backoff, before StoreError. A connection
// that breaks during COMMIT leaves it unknown whether the commit happened; fn then runs again,
// so its writes should be safe to repeat (the engine's are state transitions).
//
// fn must not call transact itself: on SQLite the one session is taken (a deadlock), on
// PostgreSQL it would hold two sessions of the pool.
class SociStore : public Store {
public:
    // `connect` is the SOCI connection string (the URL without its scheme).
    SociStore(Dialect dialect, std::string connect, std::string displayUrl);
    ~SociStore() override;

    // Takes the database for this process alone (Store::open with `exclusive`; OwnerLock says
    // why), until the store is destroyed. Throws StoreError naming the holder.
    void takeOwnership(std::chrono::milliseconds wait);
    // Applies pending schema migrations (Store::open does). Throws StoreError.
    void migrate();

    void transact(const std::function<void(Tx&)>& fn) override;
    void transactOneWrite(const std::function<void(Tx&)>& fn) override;
    void read(const std::function<void(Tx&)>& fn) override;
    // Kept (KeptCounts::states) once one read of them could vouch for the last commit: the
    // server's first, at its start, before anything else writes. A transaction whose change
    // is not known drops them, and the next call reads them again.
    StateCounts stateCounts() override;
    std::string backend() const override;
    bool ping() override;
    int schemaVersion() override;

    static constexpr size_t kPostgresSessions = 8;
    static constexpr int kAttempts = 6;
    static constexpr int kAutoCheckpointPages = 16384;  // the writer's own, a safety net
    static constexpr int kRestartPages = 2048;          // ~8 MB of log: start it over
    static constexpr std::chrono::milliseconds kCheckpointInterval{200};
    static constexpr int kAnalyzeEveryRounds = 10;  // ~2 s
    static constexpr long long kAnalyzeMinJobs = 1000;

    static constexpr size_t kSqliteReaders = 4;

private:
    struct Pool {
        Pool(size_t max, bool readOnly, bool fifo = false, bool asyncCommit = false)
            : max(max), readOnly(readOnly), fifo(fifo), asyncCommit(asyncCommit) {}
        const size_t max;
        const bool readOnly;  // SQLite readers: query_only, beside the one writer
        // First come, first served. SQLite's writer: the engine gives it back and asks again
        // at once under load, and would always beat a thread that waits (the checkpointer,
        // which then never got it). Not for the many GETs: waking every waiter to find the
        // first in line halved their throughput.
        const bool fifo;
        // PostgreSQL's synchronous_commit off: a COMMIT returns before it is on disk.
        const bool asyncCommit;
        std::mutex mutex;
        std::condition_variable returned;
        std::vector<std::unique_ptr<Connection>> idle;
        size_t borrowed = 0;
        std::uint64_t nextTicket = 0;  // fifo: borrowers are served in the order they asked
        std::uint64_t serving = 0;
    };

    // Runs body on a session borrowed from pool, with the reconnect-and-retry policy above.
    // body must leave no trace outside the database when it throws.
    void withSession(Pool& pool, const std::function<void(Connection&)>& body, int attempts);
    void withSession(const std::function<void(Connection&)>& body, int attempts) {
        withSession(_writers, body, attempts);
    }
    // fn in one transaction on a connection of pool (on PostgreSQL, begun with its first
    // write; oneWrite: none, see transactOneWrite); its last writes go before COMMIT.
    void inTransaction(Pool& pool, const std::function<void(Tx&)>& fn, bool oneWrite = false);
    // PostgreSQL: a transaction whose COMMIT got no answer, and a job it inserted.
    struct LostCommit {
        Connection::Backend backend;
        std::int64_t job = 0;
    };
    // Whether that transaction committed after all, asked on a new connection `db` once the
    // old server process is gone (it is stopped if need be). Throws StoreError when the
    // database cannot tell: then nothing may run again.
    bool committedAfterAll(Connection& db, const LostCommit& lost);
    // How long committedAfterAll waits for the old server process to end.
    static constexpr std::chrono::seconds kLostCommitWait{5};
    std::unique_ptr<Connection> connect(bool readOnly = false, bool asyncCommit = false);
    // SQLite: copies the write-ahead log into the database file on a thread of its own.
    void checkpointLoop();
    std::unique_ptr<Connection> borrow(Pool& pool);
    void giveBack(Pool& pool, std::unique_ptr<Connection> connection);
    void dropIdle(Pool& pool);

    const Dialect _dialect;
    const std::string _connect;
    const std::string _displayUrl;  // for messages; no password
    // Before the pools: destroyed after them, so the database is let go of last.
    std::unique_ptr<OwnerLock> _owner;
    Pool _writers;
    // PostgreSQL: transactOneWrite's (the dispatcher's claims). Their commits do not wait
    // for the disk, which was the larger part of a claim's round trip (0.3 of 0.4 ms for a
    // job alone). A crash of PostgreSQL may forget the last ones: their tasks are queued
    // again and run again, as after a lost worker (a task runs at least once). The next
    // commit that waits, a result's, writes them to disk too.
    Pool _oneWriters;
    IdBlocks _ids;   // PostgreSQL: see SociTx
    RowCache _rows;  // PostgreSQL: see SociTx
    // The started and the queued jobs as last committed, when counted (SociTx).
    KeptCounts _counts;
    // SQLite only (WAL lets readers run beside the writer); a :memory: database has none,
    // since every connection to it would be a database of its own.
    Pool _readers;

    // SQLite's automatic checkpoint runs inside the COMMIT that crosses the threshold: it
    // writes the pages and fsyncs the file while the writer (and the engine's lock) waits,
    // about a tenth of the server's time under load. A passive checkpoint on its own
    // connection does the same beside the writer; only the restart of the log needs a
    // short pause of the writer.
    std::mutex _checkpointMutex;
    std::condition_variable _checkpointWake;
    bool _stopping = false;
    std::thread _checkpointer;
};

}  // namespace te::store
