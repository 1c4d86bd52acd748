// GET /logs/<id> against a real server, on both backends.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/util/Json.h"
#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {

class LogsHandlerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LogsHandlerTest);
    CPPUNIT_TEST(testShapeAndApiEntry);
    CPPUNIT_TEST(testUnknownAndForeignJobs);
    CPPUNIT_TEST_SUITE_END();

public:
    void testShapeAndApiEntry() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            HttpReply submitted = demo.raw(
                "POST", "/job",
                R"({"client": "demo-client", "job": {"workflow": "vodcapture"}, "parameters": {"content_id": "logged"}})",
                {{"API-KEY", "demo-key"},
                 {"X-Token", "tok-123"},
                 {"User-Agent", "RestSharp/106.3.1.0"}});
            assertOk(submitted);
            long long id = submitted.object()->getValue<long long>("id");
            HttpReply r = demo.get("/logs/" + std::to_string(id), {{"Accept", "application/json"}});
            assertOk(r, "GET /logs");
            Poco::JSON::Array::Ptr entries = r.array();
            CPPUNIT_ASSERT_MESSAGE(r.body, entries->size() >= 1);
            Poco::JSON::Object::Ptr first = entries->getObject(0);
            assertKeys(first, {"id", "job_id", "severity", "severity_description", "progname",
                               "message", "created_at", "updated_at", "task_id", "visible"});
            CPPUNIT_ASSERT_EQUAL(id, first->getValue<long long>("job_id"));
            CPPUNIT_ASSERT_EQUAL(1, first->getValue<int>("severity"));
            CPPUNIT_ASSERT_EQUAL(std::string("INFO"),
                                 first->getValue<std::string>("severity_description"));
            CPPUNIT_ASSERT_EQUAL(std::string("api"), first->getValue<std::string>("progname"));
            CPPUNIT_ASSERT_EQUAL(0, first->getValue<int>("task_id"));
            CPPUNIT_ASSERT_EQUAL(true, first->getValue<bool>("visible"));
            CPPUNIT_ASSERT(isIsoMs(first->getValue<std::string>("created_at")));
            CPPUNIT_ASSERT_EQUAL(first->getValue<std::string>("created_at"),
                                 first->getValue<std::string>("updated_at"));

            // The message is the reference's api log: the request, its key masked.
            std::string message = first->getValue<std::string>("message");
            CPPUNIT_ASSERT_MESSAGE(message, message.find("demo-key") == std::string::npos);
            Poco::JSON::Object::Ptr log = json::parseObject(message);
            assertKeys(log, {"path", "remote_addr", "headers", "parameters", "payload"});
            CPPUNIT_ASSERT_EQUAL(std::string("POST /job"), log->getValue<std::string>("path"));
            CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"),
                                 log->getValue<std::string>("remote_addr"));
            CPPUNIT_ASSERT_EQUAL(std::string("job_created"), log->getValue<std::string>("payload"));
            Poco::JSON::Object::Ptr headers = log->getObject("headers");
            CPPUNIT_ASSERT_EQUAL(std::string("****-key"),
                                 headers->getValue<std::string>("HTTP_API_KEY"));
            CPPUNIT_ASSERT_EQUAL(std::string("tok-123"),
                                 headers->getValue<std::string>("HTTP_X_TOKEN"));
            CPPUNIT_ASSERT_EQUAL(std::string("HTTP/1.1"),
                                 headers->getValue<std::string>("HTTP_VERSION"));
            CPPUNIT_ASSERT_EQUAL(std::string("logged"), log->getObject("parameters")
                                                            ->getObject("parameters")
                                                            ->getValue<std::string>("content_id"));
        });
    }

    void testUnknownAndForeignJobs() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            long long id = s.demo().submit("ping");
            assertError(s.demo().get("/logs/987654321"), 404, "not found");
            assertError(s.other().get("/logs/" + std::to_string(id)), 404, "not found");
            assertError(s.demo().get("/logs/abc"), 404, "not found");
            assertError(s.demo().raw("GET", "/logs/" + std::to_string(id), "", {}), 401,
                        "authentication");
            assertError(s.demo().post("/logs/" + std::to_string(id), "{}"), 405, "not allowed");
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LogsHandlerTest);

}  // namespace te::test
