// SqlQuery on a Connection: statements prepared once per text and reused, on both backends.
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "tests/server/store/StoreTestSupport.h"

namespace te::test {
namespace {

using store::Connection;
using store::Dialect;
using store::SqlQuery;

// A Connection on the database of a store URL, with a small table of three rows.
std::unique_ptr<Connection> connectTo(const std::string& url) {
    const bool sqlite = url.rfind("sqlite3://", 0) == 0;
    const std::string rest = url.substr(url.find("://") + 3);
    auto session = std::make_unique<soci::session>(
        sqlite ? *soci::factory_sqlite3() : *soci::factory_postgresql(), rest);
    auto db = std::make_unique<Connection>(std::move(session),
                                           sqlite ? Dialect::Sqlite : Dialect::Postgres);
    SqlQuery(*db).run("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER)");
    for (long long id = 1; id <= 3; ++id) {
        SqlQuery(*db)
            .bind(id)
            .bind("item" + std::to_string(id))
            .bind(id * 10)
            .run("INSERT INTO items (id, name, n) VALUES (:id, :name, :n)");
    }
    return db;
}

std::string nameOf(Connection& db, long long id) {
    std::string name;
    SqlQuery query(db);
    query.into(name).bind(id);
    CPPUNIT_ASSERT(query.run("SELECT name FROM items WHERE id = :id"));
    return name;
}

long long preparedOnServer(Connection& db) {
    long long n = 0;
    SqlQuery(db.session()).into(n).run("SELECT COUNT(*) FROM pg_prepared_statements");
    return n;
}

}  // namespace

class SqlQueryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SqlQueryTest);
    CPPUNIT_TEST(testOneTextIsPreparedOnceAndRebound);
    CPPUNIT_TEST(testSameTextInsideItsOwnRowLoop);
    CPPUNIT_TEST(testNullNeedsAnIndicator);
    CPPUNIT_TEST(testFailedStatementIsPreparedAgain);
    CPPUNIT_TEST(testOneTextBoundTwoWaysIsAnError);
    CPPUNIT_TEST(testCacheIsBounded);
    CPPUNIT_TEST(testUnfinishedReadDoesNotPinTheSqliteLog);
    CPPUNIT_TEST_SUITE_END();

public:
    void testOneTextIsPreparedOnceAndRebound() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            const size_t before = db->preparedCount();
            const long long serverBefore =
                db->dialect() == Dialect::Postgres ? preparedOnServer(*db) : 0;
            CPPUNIT_ASSERT_EQUAL(std::string("item2"), nameOf(*db, 2));
            CPPUNIT_ASSERT_EQUAL(std::string("item3"), nameOf(*db, 3));
            CPPUNIT_ASSERT_EQUAL(std::string("item1"), nameOf(*db, 1));
            CPPUNIT_ASSERT_EQUAL(before + 1, db->preparedCount());
            if (db->dialect() == Dialect::Postgres) {
                CPPUNIT_ASSERT_EQUAL(serverBefore + 1, preparedOnServer(*db));
            }
            // A miss reads nothing and leaves the statement reusable.
            std::string name = "untouched";
            SqlQuery miss(*db);
            miss.into(name).bind(99);
            CPPUNIT_ASSERT(!miss.run("SELECT name FROM items WHERE id = :id"));
            CPPUNIT_ASSERT_EQUAL(std::string("untouched"), name);
            // Writes through a kept statement report their rows.
            for (long long n : {5, 7}) {
                SqlQuery update(*db);
                update.bind(n).bind(2);
                update.run("UPDATE items SET n = :n WHERE id >= :id");
                CPPUNIT_ASSERT_EQUAL(2LL, update.affectedRows());
            }
        });
    }

    void testSameTextInsideItsOwnRowLoop() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            const std::string sql = "SELECT id, name FROM items WHERE id >= :id ORDER BY id";
            std::vector<std::string> seen;
            long long id = 0;
            std::string name;
            SqlQuery outer(*db);
            outer.into(id).into(name).bind(1);
            CPPUNIT_ASSERT(outer.run(sql));
            do {
                long long innerId = 0;
                std::string innerName;
                SqlQuery inner(*db);
                inner.into(innerId).into(innerName).bind(3);
                CPPUNIT_ASSERT(inner.run(sql));
                CPPUNIT_ASSERT_EQUAL(std::string("item3"), innerName);
                seen.push_back(name);
            } while (outer.next());
            CPPUNIT_ASSERT_EQUAL(size_t(3), seen.size());
            CPPUNIT_ASSERT_EQUAL(std::string("item3"), seen[2]);
        });
    }

    void testNullNeedsAnIndicator() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            SqlQuery(*db).run("UPDATE items SET n = NULL WHERE id = 1");
            const std::string sql = "SELECT n FROM items WHERE id = :id";
            for (int round = 0; round < 2; ++round) {  // first prepares, second reuses
                int n = -1;
                soci::indicator indicator = soci::i_ok;
                SqlQuery withIndicator(*db);
                withIndicator.into(n, indicator).bind(1);
                CPPUNIT_ASSERT(withIndicator.run(sql));
                CPPUNIT_ASSERT_EQUAL(soci::i_null, indicator);
            }
            int n = 0;
            SqlQuery without(*db);
            without.into(n).bind(1);
            CPPUNIT_ASSERT_THROW(without.run("SELECT n FROM items WHERE id = :id AND 1 = 1"),
                                 StoreError);
        });
    }

    void testFailedStatementIsPreparedAgain() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            const std::string sql = "INSERT INTO items (id, name) VALUES (:id, :name)";
            CPPUNIT_ASSERT_THROW(SqlQuery(*db).bind(1).bind("duplicate").run(sql), StoreError);
            SqlQuery(*db).bind(4).bind("item4").run(sql);
            CPPUNIT_ASSERT_EQUAL(std::string("item4"), nameOf(*db, 4));
        });
    }

    void testOneTextBoundTwoWaysIsAnError() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            CPPUNIT_ASSERT_EQUAL(std::string("item1"), nameOf(*db, 1));
            std::string name;
            SqlQuery query(*db);
            query.into(name).bind("1");  // text where the kept statement binds a number
            CPPUNIT_ASSERT_THROW(query.run("SELECT name FROM items WHERE id = :id"), StoreError);
        });
    }

    void testCacheIsBounded() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            const size_t extra = 20;
            for (size_t i = 0; i < Connection::kMaxPrepared + extra; ++i) {
                long long n = 0;
                SqlQuery query(*db);
                query.into(n).bind(static_cast<long long>(i));
                // Distinct texts, as a filter or an IN list built from a request makes them.
                CPPUNIT_ASSERT(query.run("SELECT :v + " + std::to_string(i) + " AS n"));
                CPPUNIT_ASSERT_EQUAL(static_cast<long long>(2 * i), n);
            }
            CPPUNIT_ASSERT_EQUAL(Connection::kMaxPrepared, db->preparedCount());
        });
    }

    // A kept SQLite statement whose rows were not all read would hold its read snapshot, and
    // a checkpoint could then never finish. SqlQuery resets it when the query ends.
    void testUnfinishedReadDoesNotPinTheSqliteLog() {
        TempDir dir;
        const std::string url = "sqlite3://db=" + dir.path() + "/items.db";
        auto db = connectTo(url);
        SqlQuery(*db).run("PRAGMA journal_mode = WAL");
        {
            long long id = 0;
            SqlQuery query(*db);
            query.into(id);
            CPPUNIT_ASSERT(query.run("SELECT id FROM items ORDER BY id"));  // 1 of 3 rows
        }
        soci::session writer(*soci::factory_sqlite3(), "db=" + dir.path() + "/items.db");
        SqlQuery(writer).run("INSERT INTO items (id, name) VALUES (9, 'written')");
        int busy = -1, logPages = 0, checkpointed = 0;
        SqlQuery(writer)
            .into(busy)
            .into(logPages)
            .into(checkpointed)
            .run("PRAGMA wal_checkpoint(TRUNCATE)");
        CPPUNIT_ASSERT_EQUAL(0, busy);
        CPPUNIT_ASSERT_EQUAL(std::string("written"), nameOf(*db, 9));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SqlQueryTest);

}  // namespace te::test
