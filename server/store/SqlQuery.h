#pragma once

#include <soci/soci.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/store/Migrations.h"

namespace te::store {

struct PreparedStatement;
struct SqlColumn;

// One database connection and the statements prepared on it, kept for as long as the
// connection lives. Parsing and planning a statement again for every use was a third of the
// server's CPU on SQLite (docs/benchmarks.md); a prepared statement is only bound and run.
// Not thread-safe: the store lends a Connection to one thread at a time.
class Connection {
public:
    Connection(std::unique_ptr<soci::session> session, Dialect dialect);
    ~Connection();  // finalizes the statements before the session closes
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    soci::session& session() { return *_session; }
    Dialect dialect() const { return _dialect; }

    // PostgreSQL: the transaction's BEGIN waits for the first statement that writes, and goes
    // out in the same round trip when that is a WriteBatch. Reads before it run on their own:
    // under READ COMMITTED each statement sees what was committed when it began, in a
    // transaction or not, and nothing of this transaction is written yet. A submission is
    // then one round trip (BEGIN, its INSERTs, COMMIT), and a transaction that only reads
    // costs no BEGIN and no COMMIT.
    void beginWithFirstWrite() { _begin = Begin::WithFirstWrite; }
    // PostgreSQL: no BEGIN at all. Its one write (a second throws StoreError, before it is
    // sent) is a transaction by itself: one round trip where BEGIN, the write and COMMIT
    // were three.
    void oneWriteOnly() {
        _begin = Begin::Never;
        _writes = 0;
    }
    // True while no transaction is open (BEGIN not sent yet, or never to be): there is
    // nothing to commit or roll back.
    bool noTransaction() const { return _begin != Begin::ByCaller; }
    // True when each write commits as it runs (oneWriteOnly).
    bool commitsEachWrite() const { return _begin == Begin::Never; }
    // The transaction is over: BEGIN is the caller's again.
    void endTransaction() { _begin = Begin::ByCaller; }
    size_t preparedCount() const { return _prepared.size(); }

    // PostgreSQL: the server process this connection talks to, as pg_stat_activity names it
    // (pid, backend_start). After the connection breaks, it tells whether that process is
    // still at work on what was sent (SociStore::committedAfterAll).
    struct Backend {
        int pid = 0;
        long long startedUs = 0;  // backend_start, in microseconds since the epoch
    };
    const Backend& backend() const { return _backend; }
    void setBackend(Backend backend) { _backend = std::move(backend); }

    // Statement texts built from a request (filters, IN lists of any length) could fill the
    // cache without end: past this many, a new text runs as a one-time statement.
    static constexpr size_t kMaxPrepared = 256;

private:
    friend class SqlQuery;
    friend class WriteBatch;
    std::unique_ptr<soci::session> _session;
    const Dialect _dialect;
    // Declared after _session so it is destroyed first: a statement needs its connection.
    std::unordered_map<std::string, std::unique_ptr<PreparedStatement>> _prepared;
    // PostgreSQL: the names WriteBatch prepared its texts under on this connection.
    std::unordered_map<std::string, std::string> _pipelined;
    long long _pipelinedCount = 0;
    enum class Begin { ByCaller, WithFirstWrite, Never } _begin = Begin::ByCaller;
    int _writes = 0;  // Begin::Never: statements that wrote
    Backend _backend;
    // Before `count` statements that write are sent: true when BEGIN must go first.
    bool beforeWrites(size_t count);
};

// One SQL statement with its bound values and result columns.
//
// Values are copied into the query so callers may pass temporaries; placeholders are bound
// by position, so every `:name` in the SQL must be distinct. Result columns are bound with
// into() in SELECT order. Soci errors leave as StoreError with a one-line message.
//
// On a Connection, the statement is prepared once per SQL text and reused (SQLite: a kept
// sqlite3_stmt; PostgreSQL: a named prepared statement). Values and columns go through the
// cached statement's own storage, so the caller's variables may live anywhere. The same text
// must always come with the same kinds of binds and targets, which holds for a fixed text.
// On a bare soci::session (migrations, connection set-up) it runs as a one-time query.
// Not thread-safe; lives within one transaction.
class SqlQuery {
public:
    explicit SqlQuery(Connection& connection);
    explicit SqlQuery(soci::session& session);
    ~SqlQuery();
    SqlQuery(const SqlQuery&) = delete;
    SqlQuery& operator=(const SqlQuery&) = delete;

    SqlQuery& bind(long long value);
    SqlQuery& bind(const std::string& value);
    // Binds NULL unless indicator is i_ok.
    SqlQuery& bindNullable(long long value, soci::indicator indicator);

    // PostgreSQL: plans this run for its values instead of reusing a cached plan. After five
    // runs PostgreSQL may keep a generic plan, made for whatever size the table had then; on
    // a fresh database `id IN (...16 ids)` got a sequential scan that stayed for the
    // connection's life as the table grew (3-4 ms a run at 20k rows, where the index takes
    // 50 µs). SQLite has no such cache of plans; there the statement stays prepared.
    SqlQuery& planWithValues() {
        _planWithValues = true;
        return *this;
    }

    template <class T>
    SqlQuery& into(T& target) {
        _targets.push_back({&target, nullptr, &makeColumn<T>});
        return *this;
    }
    SqlQuery& into(int& target, soci::indicator& indicator) {
        _targets.push_back({&target, &indicator, &makeColumn<int>});
        return *this;
    }

    // Executes; true when a first row was read into the targets.
    bool run(const std::string& sql);
    // Reads the next row; false after the last.
    bool next();
    long long affectedRows();

    struct Param {
        enum Kind { Int, Text, NullableInt } kind;
        long long number = 0;
        std::string text;
        soci::indicator indicator = soci::i_ok;
    };

private:
    friend class WriteBatch;
    struct Target {
        void* variable;
        soci::indicator* indicator;
        std::unique_ptr<SqlColumn> (*make)();  // also tells the column's type
    };

    template <class T>
    static std::unique_ptr<SqlColumn> makeColumn();

    std::unique_ptr<PreparedStatement> build(const std::string& sql,
                                             soci::details::statement_type type);
    PreparedStatement* cachedStatement(const std::string& sql);
    void copyRow();
    void finish();

    Connection* _connection = nullptr;
    soci::session& _session;
    bool _planWithValues = false;
    std::vector<Param> _params;
    std::vector<Target> _targets;
    PreparedStatement* _active = nullptr;     // the Connection's, or _own
    std::unique_ptr<PreparedStatement> _own;  // a one-time statement
};

// The rows a statement of a WriteBatch returned (PostgreSQL), as text, while its result is
// read.
class PipelineRows {
public:
    virtual ~PipelineRows() = default;
    virtual int rows() const = 0;
    virtual bool isNull(int row, int column) const = 0;
    virtual std::string text(int row, int column) const = 0;
    long long number(int row, int column) const;  // throws StoreError when not a number
};

// Writes whose only result is the count of rows they changed. On PostgreSQL they go to the
// server together, in libpq's pipeline mode: one round trip for all of them, where each
// statement was one (under the engine's lock, round trips were most of a transaction's time).
// On SQLite, where a statement costs no round trip, each runs as it is added.
// Not thread-safe; lives within one transaction.
class WriteBatch {
public:
    explicit WriteBatch(Connection& connection) : _connection(connection) {}
    // Adds `sql` with the values bound to `query` (which has no into()). When the statement
    // changes no row, send() (on SQLite: add) throws NotFoundError(notFound), unless
    // notFound is empty.
    void add(SqlQuery& query, const std::string& sql, const std::string& notFound = "");
    // PostgreSQL only: a write that returns rows (UPDATE ... RETURNING), handed to onRows as
    // its result is read, in order with the others. onRows runs before COMMIT's answer is
    // read: when send() throws after it, whether the rows' changes committed is not known.
    void addReturning(SqlQuery& query, const std::string& sql,
                      std::function<void(const PipelineRows&)> onRows);
    // Sends what was added and reads every result. Throws StoreError for the first statement
    // that failed (the transaction is then aborted, as after any failed statement).
    // thenCommit: on PostgreSQL, COMMIT goes out in the same round trip; a statement that
    // must change a row (its notFound is not empty) is then sent so that it fails when it
    // changes none, and COMMIT does not run. Returns whether it committed; when it throws,
    // whether it committed is not known.
    bool send(bool thenCommit = false);

    // Statements per pipeline: their results wait in the socket until all are sent.
    static constexpr size_t kMaxPipeline = 256;

private:
    struct Queued {
        std::string sql;
        std::vector<SqlQuery::Param> params;
        std::string notFound;
        std::function<void(const PipelineRows&)> onRows;
    };
    void sendPipeline(size_t begin, size_t end, bool thenCommit);
    Connection& _connection;
    std::vector<Queued> _queued;
};

// Where a result column lands before it is copied to the caller's variable.
struct SqlColumn {
    virtual ~SqlColumn() = default;
    virtual void exchange(soci::statement& statement) = 0;
    // Copies the fetched value; without an indicator, NULL is an error (as in soci).
    virtual void copyTo(void* target, soci::indicator* indicator) const = 0;
};

[[noreturn]] void throwNullFetched();

template <class T>
struct TypedSqlColumn : SqlColumn {
    T value{};
    soci::indicator indicator = soci::i_ok;
    void exchange(soci::statement& statement) override {
        statement.exchange(soci::into(value, indicator));
    }
    void copyTo(void* target, soci::indicator* ind) const override {
        if (ind) {
            *ind = indicator;
        } else if (indicator == soci::i_null) {
            throwNullFetched();
        }
        *static_cast<T*>(target) = value;
    }
};

template <class T>
std::unique_ptr<SqlColumn> SqlQuery::makeColumn() {
    return std::make_unique<TypedSqlColumn<T>>();
}

// A soci (or libpq / sqlite) message squeezed onto one line.
std::string oneLine(const std::string& message);

// ":p0, :p1, ..." for an IN list of n values named prefix0..prefixN-1.
std::string placeholders(const std::string& prefix, size_t n);

// "INSERT INTO table (columns) VALUES (:v0, ...), (...)" for `rows` rows of the comma-separated
// `columns`, each placeholder distinct (values are bound by position).
std::string insertSql(const std::string& table, const std::string& columns, size_t rows);

}  // namespace te::store
