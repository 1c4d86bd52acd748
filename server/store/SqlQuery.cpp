#include "server/store/SqlQuery.h"

#include "shared/Errors.h"

namespace te::store {

SqlQuery& SqlQuery::bind(long long value) {
    _ints.push_back(value);
    _statement.exchange(soci::use(_ints.back()));
    return *this;
}

SqlQuery& SqlQuery::bind(const std::string& value) {
    _texts.push_back(value);
    _statement.exchange(soci::use(_texts.back()));
    return *this;
}

SqlQuery& SqlQuery::bindNullable(long long value, soci::indicator indicator) {
    _ints.push_back(value);
    _indicators.push_back(indicator);
    _statement.exchange(soci::use(_ints.back(), _indicators.back()));
    return *this;
}

bool SqlQuery::run(const std::string& sql) {
    try {
        _statement.alloc();
        _statement.prepare(sql, soci::details::st_one_time_query);
        _statement.define_and_bind();
        return _statement.execute(true);
    } catch (const soci::soci_error& e) {
        throw StoreError(oneLine(e.what()));
    }
}

bool SqlQuery::next() {
    try {
        return _statement.fetch();
    } catch (const soci::soci_error& e) {
        throw StoreError(oneLine(e.what()));
    }
}

long long SqlQuery::affectedRows() {
    try {
        return _statement.get_affected_rows();
    } catch (const soci::soci_error& e) {
        throw StoreError(oneLine(e.what()));
    }
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

}  // namespace te::store
