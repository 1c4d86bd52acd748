#include "server/store/SqlQuery.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "shared/Errors.h"

namespace te::store {

// A statement prepared once on a Connection, with the storage its binds and columns point at.
// The storage never moves: the vectors are sized once, when the statement is prepared.
struct PreparedStatement {
    explicit PreparedStatement(soci::session& session) : statement(session) {}
    soci::statement statement;
    std::vector<SqlQuery::Param> params;
    std::vector<std::unique_ptr<SqlColumn>> columns;
    std::vector<std::unique_ptr<SqlColumn> (*)()> columnTypes;
    bool inUse = false;  // a query still reads its rows
};

// 40P01 (deadlock detected) and 40001 (serialization failure): PostgreSQL aborted this
// transaction for another's sake, and it may well succeed when run again.
// What a wrapped write that changed no row fails with (WriteBatch::sendPipeline).
constexpr const char* kDivisionByZero = "22012";

bool lostARace(const char* sqlstate) {
    return sqlstate && (std::string(sqlstate) == "40P01" || std::string(sqlstate) == "40001");
}

// The StoreError for a failed statement, StoreRaceError where running again helps.
[[noreturn]] void throwStoreError(const soci::soci_error& e) {
    const auto* pg = dynamic_cast<const soci::postgresql_soci_error*>(&e);
    if (pg && lostARace(pg->sqlstate().c_str())) throw StoreRaceError(oneLine(e.what()));
    throw StoreError(oneLine(e.what()));
}

void throwNullFetched() {
    throw StoreError("a NULL value was read into a column that cannot hold one");
}

Connection::Connection(std::unique_ptr<soci::session> session, Dialect dialect)
    : _session(std::move(session)), _dialect(dialect) {}

Connection::~Connection() { _prepared.clear(); }

bool Connection::beforeWrites(size_t count) {
    if (_begin == Begin::WithFirstWrite) {
        _begin = Begin::ByCaller;
        return true;
    }
    if (_begin == Begin::Never) {
        _writes += static_cast<int>(count);
        if (_writes > 1) throw StoreError("a transaction of one write wrote more than once");
    }
    return false;
}

namespace {

void exchangeParam(soci::statement& statement, SqlQuery::Param& param) {
    switch (param.kind) {
        case SqlQuery::Param::Int:
            statement.exchange(soci::use(param.number));
            break;
        case SqlQuery::Param::Text:
            statement.exchange(soci::use(param.text));
            break;
        case SqlQuery::Param::NullableInt:
            statement.exchange(soci::use(param.number, param.indicator));
            break;
    }
}

// SQLite keeps a statement that has not run to its end active, holding its read snapshot
// (and, in WAL mode, keeping the log from being checkpointed past it): a kept statement must
// be reset once its rows are read. soci only resets at the next execute.
void resetIfSqlite(Connection& connection, soci::statement& statement) {
    if (connection.dialect() != Dialect::Sqlite) return;
    // static_cast: the dialect says which backend it is, and soci_sqlite3 exports no typeinfo.
    auto* backend = static_cast<soci::sqlite3_statement_backend*>(statement.get_backend());
    // Only a statement stopped short needs it; resetting a finished one is wasted work.
    if (backend && backend->stmt_ && sqlite_api::sqlite3_stmt_busy(backend->stmt_)) {
        sqlite_api::sqlite3_reset(backend->stmt_);
    }
}

// A statement that only reads may run before the transaction's BEGIN (see
// Connection::beginWithFirstWrite). `SELECT nextval(...)` counts as one: sequences are
// outside transactions anyway.
bool onlyReads(const std::string& sql) {
    return sql.compare(0, 7, "SELECT ") == 0 && sql.find(" FOR UPDATE") == std::string::npos &&
           sql.find(" FOR SHARE") == std::string::npos;
}

}  // namespace

SqlQuery::SqlQuery(Connection& connection)
    : _connection(&connection), _session(connection.session()) {}

SqlQuery::SqlQuery(soci::session& session) : _session(session) {}

SqlQuery::~SqlQuery() { finish(); }

void SqlQuery::finish() {
    if (_active && _active != _own.get()) {
        resetIfSqlite(*_connection, _active->statement);
        _active->inUse = false;
    }
    _active = nullptr;
    _own.reset();
}

SqlQuery& SqlQuery::bind(long long value) {
    _params.push_back({Param::Int, value, {}, soci::i_ok});
    return *this;
}

SqlQuery& SqlQuery::bind(const std::string& value) {
    _params.push_back({Param::Text, 0, value, soci::i_ok});
    return *this;
}

SqlQuery& SqlQuery::bindNullable(long long value, soci::indicator indicator) {
    _params.push_back({Param::NullableInt, value, {}, indicator});
    return *this;
}

bool SqlQuery::run(const std::string& sql) {
    finish();
    if (_connection && !onlyReads(sql) && _connection->beforeWrites(1)) {
        SqlQuery(*_connection).run("BEGIN");
    }
    bool cached = false;
    try {
        const bool cache =
            _connection && !(_planWithValues && _connection->dialect() == Dialect::Postgres);
        PreparedStatement* prepared = cache ? cachedStatement(sql) : nullptr;
        if (prepared) {
            cached = true;
            for (size_t i = 0; i < _params.size(); ++i) {
                prepared->params[i].number = _params[i].number;
                prepared->params[i].indicator = _params[i].indicator;
                if (_params[i].kind == Param::Text) prepared->params[i].text = _params[i].text;
            }
            prepared->inUse = true;
        } else {
            // On PostgreSQL a one-time query is a single PQexecParams round trip, where a
            // prepared statement would cost a PREPARE and a DEALLOCATE more.
            _own = build(sql, soci::details::st_one_time_query);
            prepared = _own.get();
        }
        _active = prepared;
        bool row = prepared->statement.execute(true);
        if (row) copyRow();
        return row;
    } catch (const soci::soci_error& e) {
        // A statement that failed may be in any state: prepare it afresh next time.
        if (cached) {
            _active = nullptr;
            _connection->_prepared.erase(sql);
        }
        throwStoreError(e);
    }
}

std::unique_ptr<PreparedStatement> SqlQuery::build(const std::string& sql,
                                                   soci::details::statement_type type) {
    auto prepared = std::make_unique<PreparedStatement>(_session);
    prepared->params = _params;
    for (Param& param : prepared->params) exchangeParam(prepared->statement, param);
    for (const Target& target : _targets) {
        prepared->columns.push_back(target.make());
        prepared->columns.back()->exchange(prepared->statement);
        prepared->columnTypes.push_back(target.make);
    }
    prepared->statement.alloc();
    prepared->statement.prepare(sql, type);
    prepared->statement.define_and_bind();
    return prepared;
}

PreparedStatement* SqlQuery::cachedStatement(const std::string& sql) {
    auto& cache = _connection->_prepared;
    auto found = cache.find(sql);
    if (found == cache.end()) {
        if (cache.size() >= Connection::kMaxPrepared) return nullptr;
        return cache.emplace(sql, build(sql, soci::details::st_repeatable_query))
            .first->second.get();
    }
    PreparedStatement& prepared = *found->second;
    if (prepared.inUse) return nullptr;  // the same text nested in its own row loop
    bool same =
        prepared.params.size() == _params.size() && prepared.columnTypes.size() == _targets.size();
    for (size_t i = 0; same && i < _params.size(); ++i) {
        same = prepared.params[i].kind == _params[i].kind;
    }
    for (size_t i = 0; same && i < _targets.size(); ++i) {
        same = prepared.columnTypes[i] == _targets[i].make;
    }
    if (!same) throw StoreError("SqlQuery: one SQL text bound two ways: " + sql);
    return &prepared;
}

void SqlQuery::copyRow() {
    for (size_t i = 0; i < _targets.size(); ++i) {
        _active->columns[i]->copyTo(_targets[i].variable, _targets[i].indicator);
    }
}

bool SqlQuery::next() {
    if (!_active) throw StoreError("SqlQuery: next() before run()");
    try {
        bool row = _active->statement.fetch();
        if (row) copyRow();
        return row;
    } catch (const soci::soci_error& e) {
        throwStoreError(e);
    }
}

long long SqlQuery::affectedRows() {
    if (!_active) throw StoreError("SqlQuery: affectedRows() before run()");
    try {
        return _active->statement.get_affected_rows();
    } catch (const soci::soci_error& e) {
        throwStoreError(e);
    }
}

namespace {

struct PgRows : PipelineRows {
    explicit PgRows(const PGresult* result) : result(result) {}
    int rows() const override { return PQntuples(result); }
    bool isNull(int row, int column) const override {
        return PQgetisnull(result, row, column) != 0;
    }
    std::string text(int row, int column) const override {
        return std::string(PQgetvalue(result, row, column),
                           static_cast<size_t>(PQgetlength(result, row, column)));
    }
    const PGresult* result;
};

// soci's `:name` placeholders as libpq's `$1, $2, ...`, in order (soci does the same when it
// prepares). The texts never hold a ':' in a literal; `::` casts are left alone.
std::string numbered(const std::string& sql) {
    std::string out;
    int n = 0;
    auto word = [&](size_t i) {
        return i < sql.size() &&
               (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_');
    };
    for (size_t i = 0; i < sql.size(); ++i) {
        if (sql[i] == ':' && word(i + 1) && (i == 0 || sql[i - 1] != ':') &&
            !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            size_t end = i + 1;
            while (word(end)) ++end;
            out += '$' + std::to_string(++n);
            i = end - 1;
        } else {
            out += sql[i];
        }
    }
    return out;
}

}  // namespace

void WriteBatch::add(SqlQuery& query, const std::string& sql, const std::string& notFound) {
    if (_connection.dialect() != Dialect::Postgres) {
        query.run(sql);
        if (!notFound.empty() && query.affectedRows() == 0) throw NotFoundError(notFound);
        return;
    }
    _queued.push_back({sql, query._params, notFound, {}});
}

void WriteBatch::addReturning(SqlQuery& query, const std::string& sql,
                              std::function<void(const PipelineRows&)> onRows) {
    if (_connection.dialect() != Dialect::Postgres) {
        throw StoreError("a write that returns rows waits in a batch on PostgreSQL only");
    }
    _queued.push_back({sql, query._params, "", std::move(onRows)});
}

long long PipelineRows::number(int row, int column) const {
    const std::string value = text(row, column);
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || errno != 0 || *end != '\0') {
        throw StoreError("a number was expected in a returned row, got '" + value + "'");
    }
    return n;
}

bool WriteBatch::send(bool thenCommit) {
    // Nothing to send: COMMIT alone is the caller's one round trip either way. Without a
    // transaction (Connection::oneWriteOnly) there is nothing to commit.
    bool commit = thenCommit && _connection.dialect() == Dialect::Postgres && !_queued.empty() &&
                  _connection._begin != Connection::Begin::Never;
    for (size_t begin = 0; begin < _queued.size(); begin += kMaxPipeline) {
        const size_t end = std::min(_queued.size(), begin + kMaxPipeline);
        sendPipeline(begin, end, commit && end == _queued.size());
    }
    _queued.clear();
    return commit;
}

void WriteBatch::sendPipeline(size_t begin, size_t end, bool thenCommit) {
    // static_cast: the dialect says which backend it is (as for SQLite in resetIfSqlite).
    PGconn* conn =
        static_cast<soci::postgresql_session_backend*>(_connection.session().get_backend())->conn_;
    const bool withBegin = _connection.beforeWrites(end - begin);
    if (PQenterPipelineMode(conn) != 1) {
        throw StoreError("cannot send a batch of writes: " + oneLine(PQerrorMessage(conn)));
    }
    // The results to read, in order: a text's PREPARE (-1) or the index of a statement.
    std::vector<long> results;
    std::vector<std::string> fresh;  // texts this pipeline prepares
    bool sent = true;
    if (withBegin) {
        sent = PQsendQueryParams(conn, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
        results.push_back(-3);
    }
    for (size_t i = begin; i < end && sent; ++i) {
        const Queued& q = _queued[i];
        const int count = static_cast<int>(q.params.size());
        // A write that must change a row, with COMMIT behind it: it fails (division by zero)
        // when it changed none, so the pipeline stops before COMMIT. Otherwise its count
        // would be known only after COMMIT had run, which then took a round trip of its own
        // (a result's commit: ~0.2 ms of a job's round trip on PostgreSQL).
        const std::string sql =
            thenCommit && !q.notFound.empty()
                ? "WITH changed AS (" + q.sql + " RETURNING 1) SELECT 1 / COUNT(*) FROM changed"
                : q.sql;
        auto found = _connection._pipelined.find(sql);
        if (found == _connection._pipelined.end()) {
            // A fresh name every time: a PREPARE that a failed pipeline skipped may be sent
            // again, and one that ran is never sent twice under one name.
            const std::string name = "te_batch_" + std::to_string(++_connection._pipelinedCount);
            sent = PQsendPrepare(conn, name.c_str(), numbered(sql).c_str(), count, nullptr);
            found = _connection._pipelined.emplace(sql, name).first;
            fresh.push_back(sql);
            results.push_back(-1);
        }
        // Values go as text, as soci sends them; the server casts them to the column types.
        std::vector<std::string> numbers(q.params.size());
        std::vector<const char*> values(q.params.size());
        for (size_t k = 0; k < q.params.size(); ++k) {
            const SqlQuery::Param& p = q.params[k];
            if (p.kind == SqlQuery::Param::Text) {
                values[k] = p.text.c_str();
            } else if (p.kind == SqlQuery::Param::NullableInt && p.indicator != soci::i_ok) {
                values[k] = nullptr;
            } else {
                numbers[k] = std::to_string(p.number);
                values[k] = numbers[k].c_str();
            }
        }
        sent = sent && PQsendQueryPrepared(conn, found->second.c_str(), count, values.data(),
                                           nullptr, nullptr, 0);
        results.push_back(static_cast<long>(i));
    }
    if (thenCommit && sent) {
        // After a failed statement the pipeline skips it (PIPELINE_ABORTED): nothing commits.
        sent = PQsendQueryParams(conn, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
        results.push_back(-2);
    }
    std::string error;
    bool raced = false;  // the error is a StoreRaceError
    const std::string* notFound = nullptr;
    if (sent && PQpipelineSync(conn) == 1) {
        for (long what : results) {
            PGresult* result = PQgetResult(conn);
            if (!result) {
                error = "no result from the server: " + oneLine(PQerrorMessage(conn));
                break;
            }
            const ExecStatusType status = PQresultStatus(result);
            const Queued* q = what >= 0 ? &_queued[what] : nullptr;
            const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
            if (status == PGRES_COMMAND_OK) {
                if (q && !q->notFound.empty() && !notFound &&
                    std::string(PQcmdTuples(result)) == "0") {
                    notFound = &q->notFound;
                }
            } else if (status == PGRES_TUPLES_OK && q && q->onRows) {
                if (error.empty()) {
                    try {
                        q->onRows(PgRows(result));
                    } catch (const std::exception& e) {
                        error = oneLine(e.what());
                    }
                }
            } else if (status == PGRES_TUPLES_OK) {
                // A write that must change a row, wrapped (above): it did.
            } else if (status == PGRES_FATAL_ERROR && q && !q->notFound.empty() && thenCommit &&
                       state && std::string(state) == kDivisionByZero) {
                if (!notFound) notFound = &q->notFound;  // it changed no row
            } else if (status != PGRES_PIPELINE_ABORTED && error.empty()) {
                error = oneLine(PQresultErrorMessage(result));
                raced = lostARace(state);
            }
            PQclear(result);
            while ((result = PQgetResult(conn))) PQclear(result);  // up to the query's end
        }
        PGresult* sync = PQgetResult(conn);
        if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
            if (error.empty())
                error = "the batch of writes ended early: " + oneLine(PQerrorMessage(conn));
        }
        if (sync) PQclear(sync);
    } else {
        error = "cannot send a batch of writes: " + oneLine(PQerrorMessage(conn));
    }
    // Fails while results are unread (a lost connection): the session is then beyond use,
    // its ROLLBACK fails too, and the store drops it.
    PQexitPipelineMode(conn);
    if (!error.empty() || notFound) {
        // A failed statement skipped the PREPAREs behind it (a wrapped write that found
        // no row, too).
        for (const std::string& sql : fresh) _connection._pipelined.erase(sql);
    }
    if (!error.empty()) {
        if (raced) throw StoreRaceError(error);
        throw StoreError(error);
    }
    if (notFound) throw NotFoundError(*notFound);
}

std::string oneLine(const std::string& message) {
    std::string out;
    out.reserve(message.size());
    bool space = false;
    for (char c : message) {
        if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

std::string placeholders(const std::string& prefix, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        if (i) out += ", ";
        out += ':' + prefix + std::to_string(i);
    }
    return out;
}

std::string insertSql(const std::string& table, const std::string& columns, size_t rows) {
    const size_t width = std::count(columns.begin(), columns.end(), ',') + 1;
    std::string sql = "INSERT INTO " + table + " (" + columns + ") VALUES ";
    for (size_t value = 0; value < width * rows; ++value) {
        sql += value == 0 ? "(" : value % width == 0 ? "), (" : ", ";
        sql += ":v" + std::to_string(value);
    }
    return sql + ")";
}

}  // namespace te::store
