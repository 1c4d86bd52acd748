// Hostile input in every query parameter and body field: SQL fragments, invalid UTF-8, NULs,
// quotes and shell metacharacters, huge and deeply nested bodies. Each gets a 4xx or a correct
// 2xx, never a 5xx, a crash or a dropped connection; afterwards every earlier job is still
// listed. On both backends.
#include <Poco/URI.h>
#include <cppunit/extensions/HelperMacros.h>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {
namespace {

const std::vector<std::string> kHostile = {
    "1' OR '1'='1",
    "'; DROP TABLE jobs; --",
    "1; DELETE FROM jobs",
    "\" OR \"\"=\"",
    "$(reboot) `id` | rm -rf / && echo pwned > /tmp/x; #",
    "%s%s%n",
    "../../../../etc/passwd",
    "\xff\xfe invalid utf-8 \xc3\x28",
    std::string("nul\0inside", 10),
    std::string(3000, 'A'),
};

std::string encode(const std::string& value) {
    std::string out;
    Poco::URI::encode(value, "&=+#?%/ ,;'\"$`|<>()", out);
    return out;
}

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\0') {
            out += "\\u0000";
        } else {
            out += c;
        }
    }
    return out + "\"";
}

void assertNotServerError(const HttpReply& r, const std::string& what) {
    CPPUNIT_ASSERT_MESSAGE(what + " -> " + std::to_string(r.status) + " " + r.body,
                           r.status >= 200 && r.status < 500);
    r.json();  // always JSON
}

}  // namespace

class HostileInputTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HostileInputTest);
    CPPUNIT_TEST(testQueryParameters);
    CPPUNIT_TEST(testBodyFields);
    CPPUNIT_TEST(testHeaders);
    CPPUNIT_TEST(testHugeAndDeepBodies);
    CPPUNIT_TEST_SUITE_END();

public:
    void testQueryParameters() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long a = demo.submit("vodcapture", R"({"content_id": "a"})");
            long long b = demo.submit("ping");
            for (const char* name : {"limit", "order_by", "asc", "state", "from", "to", "failed",
                                     "search", "job_ids", "client", "persist"}) {
                for (const auto& value : kHostile) {
                    std::string path = std::string("/jobs?") + name + "=" + encode(value);
                    HttpReply r = demo.get(path);
                    assertNotServerError(r, path);
                    if (r.status == 200) {
                        // Only search and client take free text; neither matches anything here.
                        CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::size_t(0), r.array()->size());
                    }
                }
            }
            for (const auto& value : kHostile) {
                assertNotServerError(demo.get("/jobs/" + encode(value)), "job id " + value);
                assertNotServerError(demo.get("/logs/" + encode(value)), "log id " + value);
                assertNotServerError(demo.get("/" + encode(value)), "path " + value);
            }
            CPPUNIT_ASSERT_EQUAL(idList({b, a}), idList(ids(demo.get("/jobs").array())));
        });
    }

    void testBodyFields() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            std::vector<long long> accepted;
            for (const auto& value : kHostile) {
                std::string v = jsonString(value);
                // Free text in parameters round-trips exactly (or is refused as invalid JSON).
                HttpReply r = demo.post(
                    "/job",
                    R"({"job": {"workflow": "vodcapture"}, "parameters": {"content_id": "c", "note": )" +
                        v + "}}");
                assertNotServerError(r, "parameters.note " + v);
                if (r.status == 200) {
                    long long id = r.object()->getValue<long long>("id");
                    accepted.push_back(id);
                    Poco::JSON::Object::Ptr job = demo.get("/jobs/" + std::to_string(id)).object();
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(
                        v, value, job->getObject("parameters")->getValue<std::string>("note"));
                }
                r = demo.post(
                    "/job", R"({"job": {"workflow": "vodcapture"}, "parameters": {"content_id": )" +
                                v + "}}");
                assertNotServerError(r, "content_id " + v);
                if (r.status == 200) {
                    long long id = r.object()->getValue<long long>("id");
                    accepted.push_back(id);
                    // search finds it by the exact text, as data.
                    HttpReply found = demo.get("/jobs?search=" + encode(value));
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(v, std::to_string(id), idList(ids(found.array())));
                }
                for (const std::string& body :
                     {R"({"job": {"workflow": )" + v + "}}",
                      R"({"job": {"workflow": "ping", "run_at": )" + v + "}}",
                      R"({"job": {"workflow": "ping", "priority": )" + v + "}}",
                      R"({"job": {"workflow": "ping", "semaphore_url": )" + v + "}}",
                      R"({"client": )" + v + R"(, "job": {"workflow": "ping"}})",
                      "{" + v + R"(: 1, "job": {"workflow": "ping"}})"}) {
                    HttpReply refused = demo.post("/job", body);
                    assertNotServerError(refused, body);
                    CPPUNIT_ASSERT_MESSAGE(body + " -> " + refused.body, refused.status >= 400);
                }
                if (!accepted.empty()) {
                    std::string path = "/jobs/" + std::to_string(accepted.front());
                    for (const std::string& body :
                         {R"({"queue_state": )" + v + "}", R"({"run_at": )" + v + "}",
                          R"({"priority": )" + v + "}", R"({"semaphore_url": )" + v + "}",
                          "{" + v + ": 1}"}) {
                        HttpReply refused = demo.put(path, body);
                        assertNotServerError(refused, body);
                        CPPUNIT_ASSERT_MESSAGE(body + " -> " + refused.body, refused.status >= 400);
                    }
                }
                assertNotServerError(
                    demo.put("/scheduler", R"({"schedule": )" + v + R"(, "active": true})"),
                    "schedule " + v);
                assertNotServerError(
                    demo.post("/settings", R"({"name": )" + v + R"(, "setting": "1"})"),
                    "setting name " + v);
                assertNotServerError(
                    demo.post("/settings", R"({"name": "free_text", "setting": )" + v + "}"),
                    "setting value " + v);
            }
            CPPUNIT_ASSERT_MESSAGE("some hostile strings are plain data", accepted.size() >= 8);
            // Every accepted job is still there.
            std::vector<long long> listed = ids(demo.get("/jobs?limit=1000&asc=1").array());
            CPPUNIT_ASSERT_EQUAL(idList(accepted), idList(listed));
            assertOk(demo.get("/health"), "healthy");
        });
    }

    void testHeaders() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("ping");
            for (const auto& value : kHostile) {
                if (value.find('\0') != std::string::npos) continue;  // not sendable in a header
                assertError(demo.get("/jobs", {{"client", value}}), 401, "authentication", value);
                assertError(demo.get("/jobs", {{"api-key", value}}), 401, "authentication", value);
                // As an http-header input and in the api log: stored and listed, never a 5xx.
                HttpReply r = demo.post(
                    "/job",
                    R"({"job": {"workflow": "vodcapture"}, "parameters": {"content_id": "h"}})",
                    {{"X-Token", value}, {"User-Agent", value}});
                assertNotServerError(r, "X-Token " + value);
                if (r.status == 200) {
                    HttpReply logs = demo.get("/logs/" + r.object()->getValue<std::string>("id"));
                    assertOk(logs, "logs of a hostile header");
                }
            }
            CPPUNIT_ASSERT(ids(demo.get("/jobs?limit=1000").array()).back() == id);
        });
    }

    void testHugeAndDeepBodies() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            long long id = demo.submit("ping");
            // 5 MB against the default 1 MB limit: 413, answered in full.
            std::string huge = R"({"job": {"workflow": "ping"}, "parameters": {"x": ")" +
                               std::string(5 << 20, 'x') + "\"}}";
            assertError(demo.post("/job", huge), 413, "too large");
            // 10,000 levels deep: refused by the depth limit, not by a stack overflow.
            std::string deep = R"({"job": {"workflow": "ping"}, "parameters": {"d": )" +
                               std::string(10000, '[') + std::string(10000, ']') + "}}";
            assertError(demo.post("/job", deep), 400, "malformed JSON");
            std::string deepObjects;
            for (int i = 0; i < 10000; ++i) deepObjects += "{\"a\":";
            deepObjects += "1" + std::string(10000, '}');
            assertError(demo.post("/job", deepObjects), 400, "malformed JSON");
            assertError(demo.put("/jobs/" + std::to_string(id), deepObjects), 400,
                        "malformed JSON");
            assertError(demo.post("/job", "\xff\xfe{}"), 400, "malformed JSON");
            CPPUNIT_ASSERT_EQUAL(idList({id}), idList(ids(demo.get("/jobs").array())));
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HostileInputTest);

}  // namespace te::test
