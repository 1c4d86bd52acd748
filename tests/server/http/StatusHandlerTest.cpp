// GET /, /health and /dashboard against a real server, on SQLite and PostgreSQL.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/Version.h"
#include "shared/model/Time.h"
#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {

class StatusHandlerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StatusHandlerTest);
    CPPUNIT_TEST(testAliveNeedsNoAuthentication);
    CPPUNIT_TEST(testHealthShape);
    CPPUNIT_TEST(testHealthCountsJobs);
    CPPUNIT_TEST(testDashboardShapeAndOwnJobsOnly);
    CPPUNIT_TEST(testStatusNeedsCredentials);
    CPPUNIT_TEST_SUITE_END();

public:
    void testAliveNeedsNoAuthentication() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpReply r = s.demo().raw("GET", "/", "", {});
            assertOk(r, "GET /");
            CPPUNIT_ASSERT_EQUAL(std::string(R"({"result":"alive"})"), r.body);
        });
    }

    void testHealthShape() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpReply r = s.demo().get("/health");
            assertOk(r, "GET /health");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o, {"version", "databases", "queues", "tasks", "jobs"});
            CPPUNIT_ASSERT_EQUAL(std::string(kVersion), o->getValue<std::string>("version"));
            std::string db = s.databaseUrl().rfind("sqlite3", 0) == 0 ? "sqlite3" : "postgres";
            Poco::JSON::Object::Ptr dbs = o->getObject("databases");
            assertKeys(dbs, {db}, r.body);
            CPPUNIT_ASSERT_EQUAL(std::string("OK"), dbs->getValue<std::string>(db));
            assertKeys(o->getObject("tasks"), {"failed", "pending", "processed"});
            assertKeys(o->getObject("jobs"),
                       {"completed", "failed", "pending", "broken", "queued", "started",
                        "scheduled", "paused", "max_jobs", "priority_slots"});
            CPPUNIT_ASSERT_EQUAL(2, o->getObject("jobs")->getValue<int>("max_jobs"));
            CPPUNIT_ASSERT_EQUAL(0, o->getObject("jobs")->getValue<int>("priority_slots"));
            Poco::JSON::Object::Ptr queues = o->getObject("queues");
            std::vector<std::string> names;
            queues->getNames(names);
            for (const auto& name : names) {
                assertKeys(queues->getObject(name), {"workers", "working", "pending"}, name);
            }
        });
    }

    void testHealthCountsJobs() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            for (int i = 0; i < 3; ++i) demo.submit("ping");
            demo.submit("ping", "{}", R"("run_at": "2099-01-01T00:00:00.000")");
            Poco::JSON::Object::Ptr jobs = demo.get("/health").object()->getObject("jobs");
            CPPUNIT_ASSERT_EQUAL(2, jobs->getValue<int>("started"));
            CPPUNIT_ASSERT_EQUAL(1, jobs->getValue<int>("queued"));
            CPPUNIT_ASSERT_EQUAL(1, jobs->getValue<int>("scheduled"));
            CPPUNIT_ASSERT_EQUAL(0, jobs->getValue<int>("completed"));
            // Two tasks wait for a worker (one per started ping job).
            Poco::JSON::Object::Ptr tasks = demo.get("/health").object()->getObject("tasks");
            CPPUNIT_ASSERT_EQUAL(2, tasks->getValue<int>("pending"));
        });
    }

    void testDashboardShapeAndOwnJobsOnly() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo(), other = s.other();
            long long a = demo.submit("ping");
            long long b = other.submit("ping");
            long long c = demo.submit("ping");
            long long d = demo.submit("ping", "{}", R"("run_at": "2099-01-01T00:00:00.000")");
            HttpReply r = demo.get("/dashboard");
            assertOk(r, "GET /dashboard");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o,
                       {"max_jobs", "priority_slots", "started", "queued", "scheduled", "version"});
            CPPUNIT_ASSERT_EQUAL(2, o->getValue<int>("max_jobs"));
            CPPUNIT_ASSERT_EQUAL(std::string(kVersion), o->getValue<std::string>("version"));
            // a and b hold the two slots; demo sees only its own jobs of each list.
            CPPUNIT_ASSERT_EQUAL(idList({a}), idList(ids(o->getArray("started"))));
            CPPUNIT_ASSERT_EQUAL(idList({c}), idList(ids(o->getArray("queued"))));
            CPPUNIT_ASSERT_EQUAL(idList({d}), idList(ids(o->getArray("scheduled"))));
            Poco::JSON::Object::Ptr queued = o->getArray("queued")->getObject(0);
            assertKeys(queued, {"id", "client", "workflow", "priority", "position", "created_at",
                                "updated_at", "queue_state", "failed", "run_at"});
            CPPUNIT_ASSERT_EQUAL(1, queued->getValue<int>("position"));
            CPPUNIT_ASSERT_EQUAL(std::string("queued"),
                                 queued->getValue<std::string>("queue_state"));
            CPPUNIT_ASSERT_EQUAL(
                std::string("2099-01-01T00:00:00.000Z"),
                o->getArray("scheduled")->getObject(0)->getValue<std::string>("run_at"));
            Poco::JSON::Object::Ptr od = other.get("/dashboard").object();
            CPPUNIT_ASSERT_EQUAL(idList({b}), idList(ids(od->getArray("started"))));
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), od->getArray("queued")->size());
        });
    }

    void testStatusNeedsCredentials() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            for (const char* path : {"/health", "/dashboard"}) {
                HttpTestClient demo = s.demo();
                assertError(demo.raw("GET", path, "", {}), 401, "authentication", path);
                assertError(demo.get(path, {{"api-key", "wrong"}}), 401, "authentication", path);
                assertError(demo.get(path, {{"client", "nobody"}}), 401, "authentication", path);
                // A valid key of another client does not open this one.
                assertError(demo.get(path, {{"api-key", ApiTestServer::kOtherKey}}), 401,
                            "authentication", path);
                // Header names are case-insensitive.
                assertOk(
                    demo.raw("GET", path, "", {{"CLIENT", "demo-client"}, {"API-KEY", "demo-key"}}),
                    path);
            }
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StatusHandlerTest);

}  // namespace te::test
