#include "tests/server/store/StoreTestSupport.h"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

namespace te::test {

std::string sqlitePlan(soci::session& db, const std::string& sql) {
    std::string all, detail;
    int id = 0, parent = 0, unused = 0;
    store::SqlQuery query(db);
    query.into(id).into(parent).into(unused).into(detail);
    for (bool row = query.run("EXPLAIN QUERY PLAN " + sql); row; row = query.next()) {
        all += detail + "; ";
    }
    return all;
}

std::unique_ptr<store::Connection> openConnection(const std::string& url) {
    const bool sqlite = url.rfind("sqlite3://", 0) == 0;
    const std::string rest = url.substr(url.find("://") + 3);
    auto session = std::make_unique<soci::session>(
        sqlite ? *soci::factory_sqlite3() : *soci::factory_postgresql(), rest);
    return std::make_unique<store::Connection>(
        std::move(session), sqlite ? store::Dialect::Sqlite : store::Dialect::Postgres);
}

}  // namespace te::test
