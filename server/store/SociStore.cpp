#include "server/store/SociStore.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"

namespace te {
namespace {

const std::string kSqliteScheme = "sqlite3://";
const std::string kPostgresScheme = "postgresql://";

bool startsWith(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

// The value of `db=` in a SOCI sqlite3 connection string (quoted or up to a space).
std::string sqlitePath(const std::string& connect) {
    std::smatch match;
    static const std::regex db(R"re((?:^|\s)db=(?:"([^"]*)"|(\S+)))re");
    if (!std::regex_search(connect, match, db)) return "";
    return match[1].matched ? match[1].str() : match[2].str();
}

// Each connection is used by one thread at a time (borrowed from a pool), so the mutex SQLite
// takes around every call in its default "serialized" mode guards nothing here, nor does the
// global one its memory statistics take at every allocation: together about 4% of the
// server's time under load. sqlite3_config works only before SQLite initializes (at the
// first connection, whoever opens it), hence at the program's start.
[[maybe_unused]] const bool sqliteConfigured = [] {
    sqlite_api::sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite_api::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
}();

// pg_stat_activity's backend_start in microseconds: with the pid, it names a server process
// of PostgreSQL (a pid alone may be another's after a restart). Connection::Backend.
const std::string kBackendStartUs = "CAST(EXTRACT(EPOCH FROM backend_start) * 1000000 AS bigint)";

std::string withoutPassword(const std::string& url) {
    static const std::regex password(R"(password=\S+)");
    return std::regex_replace(url, password, "password=***");
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& url,
                                   std::optional<std::chrono::milliseconds> exclusive) {
    using store::Dialect;
    Dialect dialect;
    std::string connect;
    if (startsWith(url, kSqliteScheme)) {
        dialect = Dialect::Sqlite;
        connect = url.substr(kSqliteScheme.size());
        const std::string path = sqlitePath(connect);
        if (path.empty()) throw StoreError("database URL '" + url + "' names no db=PATH");
        if (path != ":memory:") {
            std::error_code error;
            auto parent = std::filesystem::path(path).parent_path();
            if (!parent.empty()) std::filesystem::create_directories(parent, error);
            if (error) {
                throw StoreError("cannot create the folder of " + path + ": " + error.message());
            }
        }
    } else if (startsWith(url, kPostgresScheme)) {
        dialect = Dialect::Postgres;
        connect = url.substr(kPostgresScheme.size());
    } else {
        throw StoreError("unknown database URL '" + withoutPassword(url) +
                         "': expected sqlite3://db=PATH or postgresql://...");
    }
    auto store = std::make_unique<store::SociStore>(dialect, connect, withoutPassword(url));
    if (exclusive) store->takeOwnership(*exclusive);
    store->migrate();
    return store;
}

const std::vector<std::string>& Store::sortableJobColumns() {
    static const std::vector<std::string> cols = {"id",       "client",      "workflow",
                                                  "priority", "created_at",  "updated_at",
                                                  "run_at",   "queue_state", "failed"};
    return cols;
}

namespace store {
namespace {

void exec(soci::session& session, const std::string& sql) { SqlQuery(session).run(sql); }
void exec(Connection& db, const std::string& sql) { SqlQuery(db).run(sql); }

// True when the session still works after a failure: it can roll back.
bool rollback(Connection& db) {
    try {
        if (db.noTransaction()) {
            db.endTransaction();  // none was opened: nothing to roll back
        } else {
            exec(db, "ROLLBACK");
        }
        return db.session().is_connected();
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

SociStore::SociStore(Dialect dialect, std::string connect, std::string displayUrl)
    : _dialect(dialect),
      _connect(std::move(connect)),
      _displayUrl(std::move(displayUrl)),
      _writers(dialect == Dialect::Sqlite ? 1 : kPostgresSessions, false,
               dialect == Dialect::Sqlite),
      _oneWriters(dialect == Dialect::Postgres ? 2 : 0, false, false, true),
      _readers(
          dialect == Dialect::Sqlite && sqlitePath(_connect) != ":memory:" ? kSqliteReaders : 0,
          true) {}

SociStore::~SociStore() {
    {
        std::lock_guard<std::mutex> lock(_checkpointMutex);
        _stopping = true;
    }
    _checkpointWake.notify_all();
    if (_checkpointer.joinable()) _checkpointer.join();
}

void SociStore::checkpointLoop() {
    std::unique_ptr<Connection> db;
    long long analyzedAt = 0;  // jobs (by highest id) when the statistics were last taken
    int round = 0;
    std::unique_lock<std::mutex> lock(_checkpointMutex);
    while (!_checkpointWake.wait_for(lock, kCheckpointInterval, [&] { return _stopping; })) {
        lock.unlock();
        try {
            if (!db) db = connect();
            // PASSIVE never waits for the writer or readers; what it cannot copy now, it
            // copies next time. It returns (busy, log pages, checkpointed pages).
            int busy = 0, logPages = 0, copied = 0;
            SqlQuery(*db).into(busy).into(logPages).into(copied).run(
                "PRAGMA wal_checkpoint(PASSIVE)");
            // The log starts over from its beginning only at a write that finds every frame
            // copied, and the writer is always a few commits ahead of this thread. So once
            // the log is long, checkpoint again between two of the writer's transactions,
            // holding its connection: only the frames written since the pass above are left
            // to copy (and the two fsyncs), and its next write restarts the log. A reader
            // still on an older snapshot makes that fail; the next round tries again.
            if (logPages >= kRestartPages) {
                withSession(
                    _writers,
                    [](Connection& writer) { exec(writer, "PRAGMA wal_checkpoint(PASSIVE)"); }, 1);
            }
            // SQLite plans without statistics until ANALYZE: GET /jobs?state=..&order_by=
            // created_at then sorted every job of the client (0.2 s at 1M jobs) instead of
            // walking jobs_created (1 ms). PostgreSQL's autovacuum does this by itself. Take
            // them each time the table doubles: ANALYZE holds the write lock while it reads
            // every index (~0.5 s at 1M jobs), rare enough on that schedule. (analysis_limit
            // would make it quick, but its sampled statistics led the planner astray here.)
            if (++round % kAnalyzeEveryRounds == 0) {
                long long jobs = 0;
                SqlQuery(*db).into(jobs).run("SELECT COALESCE(MAX(id), 0) FROM jobs");
                if (jobs >= kAnalyzeMinJobs && jobs > 2 * analyzedAt) {
                    SqlQuery(*db).run("ANALYZE");
                    analyzedAt = jobs;
                }
            }
        } catch (const std::exception&) {
            db.reset();  // the writer's own checkpoints still bound the log meanwhile
        }
        lock.lock();
    }
}

std::int64_t IdBlocks::next(Connection& db, Table table) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto& free = _free[table == Table::Jobs ? 0 : 1];
    if (free.empty()) {
        // nextval is outside transactions: a block taken here stays taken if this rolls back.
        // Since migration 6 the sequence counts in steps of kBlock, so one value is a block
        // (256 calls of nextval were 0.6 ms a block, 5% of the submissions' statements). The
        // step is read with it rather than assumed: a sequence altered by hand still gives
        // unique ids, in smaller blocks.
        SqlQuery query(db);
        long long first = 0;
        long long step = 0;
        const std::string sequence = std::string("pg_get_serial_sequence('") +
                                     (table == Table::Jobs ? "jobs" : "tasks") + "', 'id')";
        query.into(first).into(step).run("SELECT nextval(" + sequence + "), seqincrement" +
                                         " FROM pg_sequence WHERE seqrelid = " + sequence +
                                         "::regclass");
        if (step < 1) throw StoreError("no ids from the sequence");
        for (long long id = first; id < first + step; ++id) free.push_back(id);
    }
    const std::int64_t id = free.front();
    free.pop_front();
    return id;
}

std::string SociStore::backend() const {
    return _dialect == Dialect::Sqlite ? "sqlite3" : "postgresql";
}

std::unique_ptr<Connection> SociStore::connect(bool readOnly, bool asyncCommit) {
    try {
        if (_dialect == Dialect::Postgres) {
            auto session = std::make_unique<soci::session>(*soci::factory_postgresql(), _connect);
            // libpq prints NOTICEs (e.g. "already exists, skipping") to stderr otherwise.
            exec(*session, "SET client_min_messages TO WARNING");
            if (asyncCommit) exec(*session, "SET synchronous_commit TO off");
            Connection::Backend backend;
            SqlQuery(*session)
                .into(backend.pid)
                .into(backend.startedUs)
                .run("SELECT pid, " + kBackendStartUs +
                     " FROM pg_stat_activity WHERE pid = pg_backend_pid()");
            auto connection = std::make_unique<Connection>(std::move(session), _dialect);
            connection->setBackend(backend);
            return connection;
        }
        auto session = std::make_unique<soci::session>(*soci::factory_sqlite3(), _connect);
        // WAL: readers of other processes do not block the writer. NORMAL: a commit survives
        // a crash of the process (not necessarily of the machine), the usual WAL trade-off.
        std::string mode;
        SqlQuery(*session).into(mode).run("PRAGMA journal_mode = WAL");
        exec(*session, "PRAGMA synchronous = NORMAL");
        exec(*session, "PRAGMA busy_timeout = 5000");
        exec(*session, "PRAGMA foreign_keys = ON");
        // Statement journals in memory. A statement inside a group commit journals every
        // page it touches; once one passes 64 KiB SQLite spills it to a file in /var/tmp,
        // and from then on, for the rest of the transaction, every statement writes its
        // pages there too: as many pwrite calls as the WAL itself got.
        exec(*session, "PRAGMA temp_store = MEMORY");
        // The checkpointer thread keeps the log short (see checkpointLoop); the writer
        // checkpoints in line, inside a COMMIT, only if the log grows past ~64 MB anyway.
        exec(*session, "PRAGMA wal_autocheckpoint = " + std::to_string(kAutoCheckpointPages));
        // A write through a reader is a bug: fail it loudly rather than take the write lock.
        if (readOnly) exec(*session, "PRAGMA query_only = 1");
        return std::make_unique<Connection>(std::move(session), _dialect);
    } catch (const soci::soci_error& e) {
        throw StoreError("cannot open database " + _displayUrl + ": " + oneLine(e.what()));
    }
}

std::unique_ptr<Connection> SociStore::borrow(Pool& pool) {
    {
        std::unique_lock<std::mutex> lock(pool.mutex);
        auto available = [&] { return !pool.idle.empty() || pool.borrowed < pool.max; };
        if (pool.fifo) {
            const std::uint64_t ticket = pool.nextTicket++;
            pool.returned.wait(lock, [&] { return ticket == pool.serving && available(); });
            ++pool.serving;
        } else {
            pool.returned.wait(lock, available);
        }
        ++pool.borrowed;
        if (!pool.idle.empty()) {
            auto session = std::move(pool.idle.back());
            pool.idle.pop_back();
            return session;
        }
    }
    // Connect outside the lock: it may take a while, and others can use idle sessions.
    try {
        return connect(pool.readOnly, pool.asyncCommit);
    } catch (...) {
        giveBack(pool, nullptr);
        throw;
    }
}

void SociStore::giveBack(Pool& pool, std::unique_ptr<Connection> connection) {
    {
        std::lock_guard<std::mutex> lock(pool.mutex);
        --pool.borrowed;
        if (connection) pool.idle.push_back(std::move(connection));
    }
    // In order, only the first in line may go on, and it is not known which waiter that is.
    if (pool.fifo) {
        pool.returned.notify_all();
    } else {
        pool.returned.notify_one();
    }
}

void SociStore::dropIdle(Pool& pool) {
    std::vector<std::unique_ptr<Connection>> stale;
    {
        std::lock_guard<std::mutex> lock(pool.mutex);
        stale.swap(pool.idle);
    }
    // Destroyed here, outside the lock: closing a dead connection can be slow.
}

void SociStore::withSession(Pool& pool, const std::function<void(Connection&)>& body,
                            int attempts) {
    for (int attempt = 1;; ++attempt) {
        std::string reason;
        std::unique_ptr<Connection> session;
        try {
            session = borrow(pool);
        } catch (const StoreError& e) {
            reason = e.what();  // the database is down or refuses us: try again shortly
        }
        if (session) {
            try {
                body(*session);
                giveBack(pool, std::move(session));
                return;
            } catch (...) {
                // SQLite has no connection to lose: any failure is the work's own.
                if (rollback(*session) || _dialect == Dialect::Sqlite) {
                    giveBack(pool, std::move(session));
                    try {
                        throw;
                    } catch (const StoreRaceError&) {
                        // PostgreSQL gave this transaction up for another's sake (a
                        // deadlock): run it again at once, the other one is done or going on.
                        if (attempt >= attempts) throw;
                        continue;
                    } catch (const soci::soci_error& e) {
                        throw StoreError(oneLine(e.what()));
                    }
                }
                giveBack(pool, nullptr);
                dropIdle(pool);
                // The database may have restarted and lost what was not on disk yet
                // (_oneWriters' commits): keep nothing from before.
                _rows.clear();
                try {
                    throw;
                } catch (const std::exception& e) {
                    reason = std::string("database connection lost: ") + e.what();
                } catch (...) {
                    reason = "database connection lost";
                }
            }
        }
        if (attempt >= attempts) throw StoreError(reason);
        // 0, 100, 200, 400, 800 ms: a restarted database is usually back within a second.
        if (attempt > 1) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100 << (attempt - 2)));
        }
    }
}

bool SociStore::committedAfterAll(Connection& db, const LostCommit& lost) {
    const long long pid = lost.backend.pid;
    const long long started = lost.backend.startedUs;
    auto stillThere = [&] {
        long long found = 0;
        SqlQuery(db).into(found).bind(pid).bind(started).run(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = :pid AND " + kBackendStartUs +
            " = :started");
        return found > 0;
    };
    // The connection may have broken on this side only, with the old process still at work on
    // the COMMIT: its outcome is final once that process is gone. (After a restart of the
    // database it is gone already.)
    if (stillThere()) {
        try {
            SqlQuery(db).bind(pid).run("SELECT pg_terminate_backend(:pid)");
        } catch (const StoreError&) {
            // Not allowed to (another role's process): it ends by itself once it finds
            // the connection closed, which the wait below allows for.
        }
        const auto deadline = std::chrono::steady_clock::now() + kLostCommitWait;
        while (stillThere()) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw StoreError("cannot tell whether a transaction committed: server process " +
                                 std::to_string(pid) + " still runs it");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    long long rows = 0;
    SqlQuery(db)
        .into(rows)
        .bind(static_cast<long long>(lost.job))
        .run("SELECT COUNT(*) FROM jobs WHERE id = :id");
    return rows > 0;
}

void SociStore::inTransaction(Pool& pool, const std::function<void(Tx&)>& fn, bool oneWrite) {
    // A COMMIT whose answer never came (the connection broke) may have happened. Running fn
    // again would then do its work twice: a batch of submissions would make every job a
    // second time. So the next attempt first finds out, by the first job the lost one
    // inserted (on PostgreSQL its id is known before the INSERT), and stops there if it
    // committed. Kept until then: the database may still be away at the next attempt.
    // Transactions that insert no job run again: recording a result or a claim twice is
    // harmless (the engine ignores a result for a finished task), and so is an update.
    std::optional<LostCommit> lost;
    withSession(
        pool,
        [&](Connection& db) {
            if (lost) {
                const bool happened = committedAfterAll(db, *lost);
                lost.reset();
                if (happened) return;
            }
            // Writers see every change to the jobs, so they keep the counts (SQLite's readers
            // cannot write).
            const bool writer = &pool != &_readers;
            const bool postgres = _dialect == Dialect::Postgres;
            if (postgres && oneWrite) {
                db.oneWriteOnly();
            } else if (postgres) {
                db.beginWithFirstWrite();
            } else {
                // The writer takes SQLite's write lock at once; a reader's snapshot is taken
                // at its first read and never waits for the writer.
                exec(db, writer ? "BEGIN IMMEDIATE" : "BEGIN");
            }
            SociTx tx(db, writer ? &_counts : nullptr, postgres ? &_ids : nullptr,
                      postgres ? &_rows : nullptr);
            fn(tx);
            tx.committing();
            try {
                // The last writes and COMMIT in one round trip where they can go together.
                if (!tx.flush(true) && !db.noTransaction()) exec(db, "COMMIT");
                db.endTransaction();
            } catch (...) {
                tx.commitLost();  // whether it committed is not known
                if (auto job = tx.firstNewJob()) lost = LostCommit{db.backend(), *job};
                throw;
            }
            tx.committed();
        },
        kAttempts);
}

void SociStore::transact(const std::function<void(Tx&)>& fn) { inTransaction(_writers, fn); }

void SociStore::transactOneWrite(const std::function<void(Tx&)>& fn) {
    inTransaction(_oneWriters.max ? _oneWriters : _writers, fn, true);
}

void SociStore::read(const std::function<void(Tx&)>& fn) {
    if (_readers.max == 0) return transact(fn);
    inTransaction(_readers, fn);
}

StateCounts SociStore::stateCounts() {
    Kept<StateCounts>& kept = _counts.states;
    if (auto counts = kept.value()) return *counts;
    const auto ticket = kept.beforeRead();
    const StateCounts counts = Store::stateCounts();  // read from the tables
    const StateCounts none;
    kept.committed(none, kept.committing(none), counts, ticket);
    return counts;
}

void SociStore::takeOwnership(std::chrono::milliseconds wait) {
    _owner = std::make_unique<OwnerLock>(
        _dialect, _dialect == Dialect::Sqlite ? sqlitePath(_connect) : _connect, _displayUrl, wait);
}

void SociStore::migrate() {
    withSession([&](Connection& db) { applyMigrations(db.session(), _dialect); }, 1);
    // The checkpointer needs what the readers need: a database file other connections share.
    if (_readers.max > 0 && !_checkpointer.joinable()) {
        _checkpointer = std::thread([this] { checkpointLoop(); });
    }
}

bool SociStore::ping() {
    try {
        withSession(
            _readers.max ? _readers : _writers, [](Connection& db) { exec(db, "SELECT 1"); }, 2);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

int SociStore::schemaVersion() {
    int version = 0;
    withSession([&](Connection& db) { version = appliedSchemaVersion(db.session()); }, kAttempts);
    return version;
}

}  // namespace store
}  // namespace te
