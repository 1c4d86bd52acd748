// SqlQuery on a Connection: statements prepared once per text and reused, on both backends.
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <thread>

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
    auto db = openConnection(url);
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

long long valueOf(Connection& db, long long id) {
    long long n = 0;
    SqlQuery query(db);
    query.into(n).bind(id);
    CPPUNIT_ASSERT(query.run("SELECT n FROM items WHERE id = :id"));
    return n;
}

// Sets item `id`'s n in a WriteBatch of that one UPDATE; what send(thenCommit) returns.
bool batchUpdate(Connection& db, long long id, long long n, bool thenCommit) {
    store::WriteBatch batch(db);
    SqlQuery update(db);
    update.bind(n).bind(id);
    batch.add(update, "UPDATE items SET n = :n WHERE id = :id");
    return batch.send(thenCommit);
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
    CPPUNIT_TEST(testPlanWithValuesFollowsTheTableAsItGrows);
    CPPUNIT_TEST(testBeginWaitsForTheFirstWrite);
    CPPUNIT_TEST(testOneWriteIsATransactionByItself);
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

    // An IN list run many times while its table was small, then again once the table is big:
    // it must use the index by then. A plan PostgreSQL had kept from the small table would
    // scan all 20,000 rows on every run (the PostgreSQL benchmark lost two thirds of its
    // throughput that way). pg_stat_xact_user_tables counts this transaction's scans.
    void testPlanWithValuesFollowsTheTableAsItGrows() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            // Wide rows, as tasks has: on a small table few fit a page, and PostgreSQL then
            // rather reads the pages than probes the index sixteen times.
            std::string columns;
            for (char c = 'a'; c <= 'l'; ++c) columns += std::string(", ") + c + " TEXT";
            SqlQuery(*db).run("CREATE TABLE wide (id BIGINT PRIMARY KEY, name TEXT NOT NULL" +
                              columns + ")");
            for (long long id = 1; id <= 3; ++id) {
                SqlQuery(*db)
                    .bind(id)
                    .bind("grown" + std::to_string(id))
                    .run("INSERT INTO wide (id, name) VALUES (:id, :name)");
            }
            // As the store reads rows by id: sixteen places, the last id repeated to fill them.
            std::string sql = "SELECT name FROM wide WHERE id IN (:i0";
            for (int i = 1; i < 16; ++i) sql += ", :i" + std::to_string(i);
            sql += ")";
            auto namesOf = [&](long long first) {
                std::vector<std::string> names;
                std::string name;
                SqlQuery query(*db);
                query.planWithValues().into(name);
                for (int i = 0; i < 16; ++i) query.bind(first + std::min(i, 3));
                for (bool row = query.run(sql); row; row = query.next()) names.push_back(name);
                std::sort(names.begin(), names.end());
                return names;
            };
            const size_t keptBefore = db->preparedCount();
            for (int run = 0; run < 10; ++run) CPPUNIT_ASSERT_EQUAL(size_t(3), namesOf(1).size());
            if (db->dialect() == Dialect::Sqlite) {
                CPPUNIT_ASSERT_EQUAL(keptBefore + 1, db->preparedCount());  // kept prepared
                return;
            }
            CPPUNIT_ASSERT_EQUAL(keptBefore, db->preparedCount());
            SqlQuery(*db).run(
                "INSERT INTO wide (id, name) SELECT i, 'grown' || i FROM generate_series(4, "
                "20000) i");
            // Counts not yet sent to the statistics collector, read twice in one transaction
            // (nothing is sent in between): the difference is what the ten runs did.
            auto scans = [&] {
                long long seq = -1, index = -1;
                SqlQuery(*db).into(seq).into(index).run(
                    "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
                    " WHERE relname = 'wide'");
                return std::make_pair(seq, index);
            };
            SqlQuery(*db).run("BEGIN");
            const auto before = scans();
            for (int run = 0; run < 10; ++run) {
                auto names = namesOf(1000 + run);
                CPPUNIT_ASSERT_EQUAL(size_t(4), names.size());
                CPPUNIT_ASSERT_EQUAL("grown" + std::to_string(1000 + run), names.front());
            }
            const auto after = scans();
            SqlQuery(*db).run("COMMIT");
            CPPUNIT_ASSERT_EQUAL(0LL, after.first - before.first);
            CPPUNIT_ASSERT(after.second - before.second >= 10);
        });
    }

    // PostgreSQL: a transaction's BEGIN goes out with its first write, in the same round trip
    // when that is a WriteBatch; reads before it run on their own. Two statements in one
    // transaction get the same transaction id; two on their own, two ids.
    void testBeginWaitsForTheFirstWrite() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            if (db->dialect() == Dialect::Sqlite) return;  // SQLite's BEGIN costs no round trip
            auto other = openConnection(url);              // sees only what was committed
            auto inTransaction = [&] {
                auto xid = [&] {
                    long long id = 0;
                    SqlQuery(*db).into(id).run("SELECT txid_current()");
                    return id;
                };
                return xid() == xid();
            };
            // Reads only: no transaction, and nothing to commit or roll back.
            db->beginWithFirstWrite();
            CPPUNIT_ASSERT(!inTransaction());
            CPPUNIT_ASSERT_EQUAL(std::string("item1"), nameOf(*db, 1));
            CPPUNIT_ASSERT(db->noTransaction());
            db->endTransaction();
            // A statement that writes opens the transaction first.
            db->beginWithFirstWrite();
            SqlQuery(*db).bind(99LL).run("UPDATE items SET n = :n WHERE id = 1");
            CPPUNIT_ASSERT(!db->noTransaction());
            CPPUNIT_ASSERT(inTransaction());
            CPPUNIT_ASSERT_EQUAL(10LL, valueOf(*other, 1));  // not committed yet
            SqlQuery(*db).run("ROLLBACK");
            CPPUNIT_ASSERT_EQUAL(10LL, valueOf(*db, 1));
            // In a batch, BEGIN rides along: what the batch wrote is still rolled back.
            db->beginWithFirstWrite();
            CPPUNIT_ASSERT(!batchUpdate(*db, 2, 55LL, false));
            CPPUNIT_ASSERT(!db->noTransaction());
            CPPUNIT_ASSERT(inTransaction());
            CPPUNIT_ASSERT_EQUAL(55LL, valueOf(*db, 2));
            SqlQuery(*db).run("ROLLBACK");
            CPPUNIT_ASSERT_EQUAL(20LL, valueOf(*db, 2));
            // BEGIN, the writes and COMMIT in one round trip.
            db->beginWithFirstWrite();
            CPPUNIT_ASSERT(batchUpdate(*db, 3, 77LL, true));
            CPPUNIT_ASSERT(!inTransaction());
            CPPUNIT_ASSERT_EQUAL(77LL, valueOf(*other, 3));
        });
    }

    // PostgreSQL: a transaction of one write has no BEGIN; the write commits by itself, and
    // a second one is refused before it is sent, alone or in a batch.
    void testOneWriteIsATransactionByItself() {
        forEachBackend([](const std::string& url) {
            auto db = connectTo(url);
            if (db->dialect() == Dialect::Sqlite) return;  // SQLite's BEGIN costs no round trip
            auto other = openConnection(url);
            db->oneWriteOnly();
            CPPUNIT_ASSERT_EQUAL(std::string("item1"), nameOf(*db, 1));
            SqlQuery(*db).bind(11LL).run("UPDATE items SET n = :n WHERE id = 1");
            CPPUNIT_ASSERT(db->noTransaction());
            CPPUNIT_ASSERT_EQUAL(11LL, valueOf(*other, 1));  // committed already
            CPPUNIT_ASSERT_THROW(
                SqlQuery(*db).bind(12LL).run("UPDATE items SET n = :n WHERE id = 2"), StoreError);
            CPPUNIT_ASSERT_EQUAL(20LL, valueOf(*other, 2));
            db->endTransaction();
            // In a batch: no BEGIN and no COMMIT around it.
            db->oneWriteOnly();
            CPPUNIT_ASSERT(!batchUpdate(*db, 3, 33LL, true));  // nothing to commit
            CPPUNIT_ASSERT_EQUAL(33LL, valueOf(*other, 3));
            {
                store::WriteBatch batch(*db);
                for (long long id : {1LL, 2LL}) {
                    SqlQuery update(*db);
                    update.bind(id);
                    batch.add(update, "UPDATE items SET n = 0 WHERE id = :id");
                }
                CPPUNIT_ASSERT_THROW(batch.send(false), StoreError);
            }
            db->endTransaction();
            CPPUNIT_ASSERT_EQUAL(11LL, valueOf(*other, 1));
            CPPUNIT_ASSERT_EQUAL(20LL, valueOf(*other, 2));
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SqlQueryTest);

}  // namespace te::test
