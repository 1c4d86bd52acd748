// GET /jobs and every one of its query parameters against a real server, on both backends.
#include <Poco/URI.h>
#include <cppunit/extensions/HelperMacros.h>

#include "server/store/Store.h"
#include "shared/model/Time.h"
#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {
namespace {

std::string encode(const std::string& value) {
    std::string out;
    Poco::URI::encode(value, "&=+#?%/ ,;'\"", out);
    return out;
}

// Six jobs: demo's j1..j5 and other-client's j6.
//   j1 vodcapture content_id alpha   started
//   j2 vodcapture content_id beta    started, persist
//   j3 ping                          broken (PUT)
//   j4 ping run_at 2099              scheduled
//   j5 ping priority 1               queued
//   j6 ping (other-client)           queued
struct Jobs {
    long long j1, j2, j3, j4, j5, j6;
    TimeMs before, after;
};

Jobs fill(ApiTestServer& s) {
    HttpTestClient demo = s.demo();
    Jobs j{};
    j.before = nowMs() - 1000;
    j.j1 = demo.submit("vodcapture", R"({"content_id": "alpha"})");
    j.j2 = demo.submit("vodcapture", R"({"content_id": "beta"})", R"("persist": true)");
    j.j3 = demo.submit("ping");
    j.j4 = demo.submit("ping", "{}", R"("run_at": "2099-01-01T00:00:00.000")");
    j.j5 = demo.submit("ping", "{}", R"("priority": 1)");
    j.j6 = s.other().submit("ping");
    assertOk(demo.put("/jobs/" + std::to_string(j.j3), R"({"queue_state": "broken"})"));
    j.after = nowMs() + 1000;
    return j;
}

std::string list(const HttpTestClient& c, const std::string& query) {
    HttpReply r = c.get("/jobs" + query);
    assertOk(r, "GET /jobs" + query);
    return idList(ids(r.array()));
}

}  // namespace

class JobQueryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JobQueryTest);
    CPPUNIT_TEST(testDefaultListsOwnJobsNewestFirst);
    CPPUNIT_TEST(testLimitOrderAsc);
    CPPUNIT_TEST(testStateFailedPersist);
    CPPUNIT_TEST(testSearchJobIdsClientDates);
    CPPUNIT_TEST(testBadValues);
    CPPUNIT_TEST_SUITE_END();

public:
    void testDefaultListsOwnJobsNewestFirst() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            Jobs j = fill(s);
            HttpTestClient demo = s.demo();
            HttpReply r = demo.get("/jobs");
            assertOk(r);
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4, j.j3, j.j2, j.j1}), idList(ids(r.array())));
            Poco::JSON::Object::Ptr first = r.array()->getObject(4);
            assertKeys(first, {"id", "client", "workflow", "priority", "position", "parameters",
                               "created_at", "updated_at", "queue_state", "failed", "run_at"});
            CPPUNIT_ASSERT_EQUAL(
                std::string("alpha"),
                first->getObject("parameters")->getValue<std::string>("content_id"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j6}), list(s.other(), ""));
            // No credentials: 401 (the reference says none are needed; docs/api.md says why).
            assertError(demo.raw("GET", "/jobs", "", {}), 401, "authentication");
            // More than ten jobs: the default limit is ten.
            for (int i = 0; i < 8; ++i) demo.submit("ping");
            CPPUNIT_ASSERT_EQUAL(std::size_t(10), demo.get("/jobs").array()->size());
        });
    }

    void testLimitOrderAsc() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            Jobs j = fill(s);
            HttpTestClient demo = s.demo();
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4}), list(demo, "?limit=2"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j1, j.j2}), list(demo, "?limit=2&asc=1"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j1, j.j2}), list(demo, "?limit=2&asc=true"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4}), list(demo, "?limit=2&asc=false"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5}), list(demo, "?order_by=priority&asc=1&limit=1"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j4}), list(demo, "?order_by=run_at&limit=1"));
            // Ties (two vodcapture jobs) come in either order.
            std::vector<long long> top = ids(demo.get("/jobs?order_by=workflow&limit=2").array());
            std::sort(top.begin(), top.end());
            CPPUNIT_ASSERT_EQUAL(idList({j.j1, j.j2}), idList(top));
            CPPUNIT_ASSERT_EQUAL(idList({j.j1, j.j2, j.j3, j.j4, j.j5}),
                                 list(demo, "?order_by=id&asc=1&limit=1000"));
            // Every sortable column is accepted.
            for (const std::string& column : Store::sortableJobColumns()) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(column, std::size_t(5),
                                             demo.get("/jobs?order_by=" + column).array()->size());
            }
        });
    }

    void testStateFailedPersist() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            Jobs j = fill(s);
            HttpTestClient demo = s.demo();
            CPPUNIT_ASSERT_EQUAL(idList({j.j2, j.j1}), list(demo, "?state=1"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j2, j.j1}), list(demo, "?state=started"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5}), list(demo, "?state=0"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j3}), list(demo, "?state=4"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j4}), list(demo, "?state=5"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4}), list(demo, "?state=0,5"));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?state=2"));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?state=6"));
            // failed: only completed jobs can have failed.
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?failed=1"));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?failed=1&state=1"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4, j.j3, j.j2, j.j1}), list(demo, "?failed=0"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j2}), list(demo, "?persist=1"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4, j.j3, j.j1}), list(demo, "?persist=false"));
        });
    }

    void testSearchJobIdsClientDates() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            Jobs j = fill(s);
            HttpTestClient demo = s.demo();
            CPPUNIT_ASSERT_EQUAL(idList({j.j1}), list(demo, "?search=alpha"));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?search=alph"));
            CPPUNIT_ASSERT_EQUAL(idList({j.j3, j.j1}),
                                 list(demo, "?job_ids=" + idList({j.j1, j.j3})));
            CPPUNIT_ASSERT_EQUAL(idList({j.j1}), list(demo, "?job_ids=" + idList({j.j1, j.j6})));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4, j.j3, j.j2, j.j1}),
                                 list(demo, "?client=demo-client"));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?client=other-client"));
            std::string from = encode(formatIso(j.before)), to = encode(formatIso(j.after));
            CPPUNIT_ASSERT_EQUAL(idList({j.j5, j.j4, j.j3, j.j2, j.j1}),
                                 list(demo, "?from=" + from + "&to=" + to));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?to=" + from));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?from=" + to));
            CPPUNIT_ASSERT_EQUAL(std::string(""), list(demo, "?from=2000-01-01&to=2000-01-02"));
            CPPUNIT_ASSERT_EQUAL(
                idList({j.j1}), list(demo, "?search=alpha&state=1&job_ids=" + idList({j.j1, j.j2}) +
                                               "&from=" + from));
        });
    }

    void testBadValues() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            fill(s);
            HttpTestClient demo = s.demo();
            const std::vector<std::pair<std::string, std::string>> cases = {
                {"limit=0", "limit"},
                {"limit=1001", "limit"},
                {"limit=abc", "limit"},
                {"limit=", "limit"},
                {"limit=5.5", "limit"},
                {"order_by=password", "order_by"},
                {"order_by=id%3B%20DROP%20TABLE%20jobs", "order_by"},
                {"asc=yes", "asc"},
                {"state=7", "state"},
                {"state=done", "state"},
                {"state=", "state"},
                {"failed=2", "failed"},
                {"persist=maybe", "persist"},
                {"from=yesterday", "from"},
                {"to=2020-01-01T00:00:00.000Zjunk", "to"},
                {"from=2021-01-01&to=2020-01-01", "from"},
                {"job_ids=1,abc", "job_ids"},
                {"job_ids=-1", "job_ids"},
                {"job_ids=,", "job_ids"},
                {"search=%00", "search"},
                {"search=%FF", "search"},
                {"colour=red", "unknown query parameter colour"},
                {"limit=1&limit=2", "more than once"},
            };
            for (const auto& [q, fragment] : cases) {
                assertError(demo.get("/jobs?" + q), 400, fragment, q);
            }
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JobQueryTest);

}  // namespace te::test
