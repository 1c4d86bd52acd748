// The database goes away under a running server: the API answers 503 "database unavailable"
// (never a 500, a hang or a crash), / stays alive, and once PostgreSQL is back everything
// accepted before is served again.
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"
#include "tests/support/PostgresFixture.h"

namespace te::test {

class DatabaseDownTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DatabaseDownTest);
    CPPUNIT_TEST(testPostgresStopped);
    CPPUNIT_TEST_SUITE_END();

public:
    void testPostgresStopped() {
        TempDir dir;
        PostgresFixture& pg = PostgresFixture::instance();
        ApiTestServer s(pg.freshDatabase(), dir.path());
        HttpTestClient demo = s.demo();
        long long id = demo.submit("vodcapture", R"({"content_id": "kept"})");
        pg.stop();
        try {
            auto start = std::chrono::steady_clock::now();
            assertError(demo.get("/jobs"), 503, "database unavailable", "GET /jobs");
            assertError(demo.post("/job", R"({"job": {"workflow": "ping"}})"), 503,
                        "database unavailable", "POST /job");
            assertError(demo.get("/jobs/" + std::to_string(id)), 503, "database unavailable");
            CPPUNIT_ASSERT_MESSAGE(
                "answers come in bounded time",
                std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
            assertOk(demo.raw("GET", "/", "", {}), "alive without a database");
            HttpReply health = demo.get("/health");
            CPPUNIT_ASSERT_MESSAGE(health.body, health.status == 200 || health.status == 503);
            if (health.status == 200) {
                CPPUNIT_ASSERT_EQUAL(
                    std::string("ERROR"),
                    health.object()->getObject("databases")->getValue<std::string>("postgres"));
            }
        } catch (...) {
            pg.start();
            throw;
        }
        pg.start();
        CPPUNIT_ASSERT(
            waitUntil([&] { return demo.get("/jobs").status == 200; }, std::chrono::seconds(30)));
        CPPUNIT_ASSERT_EQUAL(idList({id}), idList(ids(demo.get("/jobs").array())));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DatabaseDownTest);

}  // namespace te::test
