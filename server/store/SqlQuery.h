#pragma once

#include <soci/soci.h>

#include <deque>
#include <string>

namespace te::store {

// One SQL statement with its bound values and result columns, run as a one-time query: on
// PostgreSQL that is a single PQexecParams round trip (a prepared statement would cost a
// PREPARE and a DEALLOCATE more), on SQLite a prepare + step.
//
// Values are copied into the query so callers may pass temporaries; placeholders are bound
// by position, so every `:name` in the SQL must be distinct. Result columns are bound with
// into() in SELECT order. Soci errors leave as StoreError with a one-line message.
// Not thread-safe; lives within one transaction.
class SqlQuery {
public:
    explicit SqlQuery(soci::session& session) : _statement(session) {}

    SqlQuery& bind(long long value);
    SqlQuery& bind(const std::string& value);
    // Binds NULL unless indicator is i_ok.
    SqlQuery& bindNullable(long long value, soci::indicator indicator);

    template <class T>
    SqlQuery& into(T& target) {
        _statement.exchange(soci::into(target));
        return *this;
    }
    SqlQuery& into(int& target, soci::indicator& indicator) {
        _statement.exchange(soci::into(target, indicator));
        return *this;
    }

    // Executes; true when a first row was read into the targets.
    bool run(const std::string& sql);
    // Reads the next row; false after the last.
    bool next();
    long long affectedRows();

private:
    soci::statement _statement;
    std::deque<long long> _ints;  // deque: push_back keeps the addresses soci holds valid
    std::deque<std::string> _texts;
    std::deque<soci::indicator> _indicators;
};

// A soci (or libpq / sqlite) message squeezed onto one line.
std::string oneLine(const std::string& message);

// ":p0, :p1, ..." for an IN list of n values named prefix0..prefixN-1.
std::string placeholders(const std::string& prefix, size_t n);

}  // namespace te::store
