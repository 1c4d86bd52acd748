// POST /settings against a real server, on both backends.
#include <cppunit/extensions/HelperMacros.h>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {

class SettingsHandlerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SettingsHandlerTest);
    CPPUNIT_TEST(testUpdateTakesEffect);
    CPPUNIT_TEST(testNewSetting);
    CPPUNIT_TEST(testErrors);
    CPPUNIT_TEST_SUITE_END();

public:
    void testUpdateTakesEffect() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            for (int i = 0; i < 3; ++i) demo.submit("ping");
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), demo.get("/jobs?state=0").array()->size());
            HttpReply r = demo.post("/settings", R"({"name": "max_jobs", "setting": "4"})");
            assertOk(r, "POST /settings");
            CPPUNIT_ASSERT_EQUAL(
                std::string(R"({"result":"ok","message":"max_jobs setting created/updated"})"),
                r.body);
            Poco::JSON::Object::Ptr jobs = demo.get("/health").object()->getObject("jobs");
            CPPUNIT_ASSERT_EQUAL(4, jobs->getValue<int>("max_jobs"));
            // A larger max_jobs admits the queued job at once.
            CPPUNIT_ASSERT_EQUAL(3, jobs->getValue<int>("started"));
            assertOk(demo.post("/settings", R"({"name": "priority_slots", "setting": 1})"),
                     "number");
            CPPUNIT_ASSERT_EQUAL(1,
                                 demo.get("/dashboard").object()->getValue<int>("priority_slots"));
        });
    }

    void testNewSetting() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpReply r = s.demo().post(
                "/settings",
                R"({"name": "my_setting", "setting": "it's; DROP TABLE settings; --"})");
            assertOk(r, "new setting");
            CPPUNIT_ASSERT_EQUAL(std::string("my_setting setting created/updated"),
                                 r.object()->getValue<std::string>("message"));
            assertOk(s.demo().get("/health"), "still healthy");
        });
    }

    void testErrors() {
        ApiTestServer::forEachBackend([](ApiTestServer& s) {
            HttpTestClient demo = s.demo();
            const std::vector<std::pair<std::string, std::string>> cases = {
                {R"({"name": "max_jobs", "setting": "abc"})", "max_jobs"},
                {R"({"name": "max_jobs", "setting": "-1"})", "max_jobs"},
                {R"({"setting": "4"})", "name"},
                {R"({"name": "max_jobs"})", "setting is required"},
                {R"({"name": "a b; DROP TABLE settings", "setting": "1"})", "name"},
                {R"({"name": "", "setting": "1"})", "name"},
                {R"({"name": "max_jobs", "setting": true})",
                 "setting must be a string or a number"},
                {R"({"name": "max_jobs", "setting": {"a": 1}})",
                 "setting must be a string or a number"},
                {R"({"name": "max_jobs", "setting": null})",
                 "setting must be a string or a number"},
                {R"({"name": "max_jobs", "setting": "4", "other": 1})", "unknown field other"},
                {"[]", "JSON object"},
            };
            for (const auto& [body, fragment] : cases) {
                assertError(demo.post("/settings", body), 400, fragment, body);
            }
            assertError(demo.raw("POST", "/settings", R"({"name": "max_jobs", "setting": "9"})",
                                 {{"client", "demo-client"}}),
                        401, "authentication");
            CPPUNIT_ASSERT_EQUAL(
                2, demo.get("/health").object()->getObject("jobs")->getValue<int>("max_jobs"));
        });
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SettingsHandlerTest);

}  // namespace te::test
