// Routing: unknown paths are 404 JSON, known paths with another method 405 JSON with Allow,
// never POCO's bare 501.
#include <cppunit/extensions/HelperMacros.h>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {

class RouterFactoryTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RouterFactoryTest);
    CPPUNIT_TEST(testUnknownPaths);
    CPPUNIT_TEST(testWrongMethods);
    CPPUNIT_TEST(testMalformedRequestLine);
    CPPUNIT_TEST(testKeepAliveAcrossRequests);
    CPPUNIT_TEST_SUITE_END();

public:
    void testUnknownPaths() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("r.db"), dir.path());
        for (const char* path :
             {"/nope", "/jobs/abc", "/jobs/0", "/jobs/1/nope", "/logs", "/job/1",
              "/jobs/99999999999999999999", "/%2e%2e/etc/passwd", "/jobs/1/tasks/2"}) {
            assertError(s.demo().get(path), 404, "not found", path);
        }
        assertError(s.demo().get("/jobs/424242"), 404, "not found");
    }

    void testWrongMethods() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("r.db"), dir.path());
        const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
            {"POST", "/", "GET"},
            {"DELETE", "/jobs/1", "GET, PUT"},
            {"GET", "/job", "POST"},
            {"POST", "/jobs", "GET"},
            {"PUT", "/settings", "POST"},
            {"GET", "/settings", "POST"},
            {"PUT", "/schedules", "GET"},
            {"PUT", "/jobs/1/rerun", "POST"},
            {"DELETE", "/health", "GET"},
            {"PATCH", "/jobs/1/tasks", "GET"},
            {"OPTIONS", "/dashboard", "GET"},
        };
        for (const auto& [method, path, allow] : cases) {
            HttpReply r = s.demo().raw(method, path, "", {});
            assertError(r, 405, "not allowed", method + " " + path);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path, allow, r.header("allow"));
        }
        // A 405 with a body still answers in full.
        HttpReply r = s.demo().raw("DELETE", "/jobs/1", std::string(5000, 'x'), {});
        assertError(r, 405, "not allowed");
    }

    void testMalformedRequestLine() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("r.db"), dir.path());
        // A bad percent-encoding cannot even be routed.
        std::string reply = rawExchange(s.port(), "GET /jobs%zz HTTP/1.1\r\nHost: x\r\n\r\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reply, 400, rawStatus(reply));
        CPPUNIT_ASSERT_MESSAGE(reply, reply.find("{\"error\":") != std::string::npos);
        reply = rawExchange(s.port(), "GARBAGE\r\n\r\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reply, 400, rawStatus(reply));
        CPPUNIT_ASSERT_MESSAGE(reply, reply.find("{\"error\":") != std::string::npos);
        assertOk(s.demo().raw("GET", "/", "", {}), "still alive");
    }

    void testKeepAliveAcrossRequests() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("r.db"), dir.path());
        // Two requests on one connection, the first an error with no body: both answered.
        std::string reply = rawExchange(s.port(),
                                        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        CPPUNIT_ASSERT_MESSAGE(reply, reply.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(reply, reply.find("{\"result\":\"alive\"}") != std::string::npos);
        reply = rawExchange(s.port(), "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
        CPPUNIT_ASSERT_MESSAGE(reply, reply.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RouterFactoryTest);

}  // namespace te::test
