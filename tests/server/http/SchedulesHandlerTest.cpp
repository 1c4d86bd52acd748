// GET /schedules and PUT /scheduler against a real server, on both backends.
#include <cppunit/extensions/HelperMacros.h>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {

class SchedulesHandlerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SchedulesHandlerTest);
    CPPUNIT_TEST(testListActiveSchedules);
    CPPUNIT_TEST(testDeactivateAndActivate);
    CPPUNIT_TEST(testSchedulerErrors);
    CPPUNIT_TEST_SUITE_END();

public:
    void testListActiveSchedules() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpReply r = s.demo().get("/schedules");
            assertOk(r, "GET /schedules");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o, {"result", "schedules"});
            CPPUNIT_ASSERT_EQUAL(std::string("ok"), o->getValue<std::string>("result"));
            Poco::JSON::Object::Ptr schedules = o->getObject("schedules");
            CPPUNIT_ASSERT_MESSAGE(r.body, schedules->has("queue_scheduled_jobs"));
            Poco::JSON::Object::Ptr q = schedules->getObject("queue_scheduled_jobs");
            assertKeys(q, {"class", "every", "queue", "description"});
            CPPUNIT_ASSERT_EQUAL(std::string("QueueJobs"), q->getValue<std::string>("class"));
            CPPUNIT_ASSERT_EQUAL(std::string("scheduler"), q->getValue<std::string>("queue"));
            Poco::JSON::Array::Ptr every = q->getArray("every");
            CPPUNIT_ASSERT_EQUAL(std::size_t(2), every->size());
            CPPUNIT_ASSERT(every->get(0).isInteger());
            assertKeys(every->getObject(1), {"first_in"});
        });
    }

    void testDeactivateAndActivate() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            HttpReply r =
                demo.put("/scheduler", R"({"schedule": "queue_scheduled_jobs", "active": false})");
            assertOk(r, "deactivate");
            Poco::JSON::Object::Ptr o = r.object();
            assertKeys(o, {"result", "schedules"});
            CPPUNIT_ASSERT_EQUAL(std::string("ok"), o->getValue<std::string>("result"));
            CPPUNIT_ASSERT_MESSAGE(r.body,
                                   r.body.find("queue_scheduled_jobs") == std::string::npos);
            CPPUNIT_ASSERT(!demo.get("/schedules")
                                .object()
                                ->getObject("schedules")
                                ->has("queue_scheduled_jobs"));
            r = demo.put("/scheduler", R"({"schedule": "queue_scheduled_jobs", "active": true})");
            assertOk(r, "activate");
            bool listed = false;
            Poco::JSON::Array::Ptr names = r.object()->getArray("schedules");
            for (std::size_t i = 0; i < names->size(); ++i) {
                listed |= names->getElement<std::string>(static_cast<unsigned>(i)) ==
                          "queue_scheduled_jobs";
            }
            CPPUNIT_ASSERT_MESSAGE(r.body, listed);
            CPPUNIT_ASSERT(demo.get("/schedules")
                               .object()
                               ->getObject("schedules")
                               ->has("queue_scheduled_jobs"));
        });
    }

    void testSchedulerErrors() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            const std::vector<std::pair<std::string, std::string>> cases = {
                {R"({"schedule": "nope", "active": true})", "unknown schedule"},
                {R"({"schedule": "queue_scheduled_jobs", "active": "yes"})", "active"},
                {R"({"schedule": "queue_scheduled_jobs"})", "active is required"},
                {R"({"active": true})", "schedule is required"},
                {R"({"schedule": 1, "active": true})", "schedule must be a string"},
                {R"({"schedule": "queue_scheduled_jobs", "active": true, "x": 1})",
                 "unknown field x"},
                {"nope", "malformed JSON"},
            };
            for (const auto& [body, fragment] : cases) {
                assertError(demo.put("/scheduler", body), 400, fragment, body);
            }
            assertError(demo.raw("GET", "/schedules", "", {}), 401, "authentication");
            HttpReply r = demo.get("/scheduler");
            assertError(r, 405, "not allowed");
            CPPUNIT_ASSERT_EQUAL(std::string("PUT"), r.header("allow"));
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SchedulesHandlerTest);

}  // namespace te::test
