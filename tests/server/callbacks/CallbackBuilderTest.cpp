// Tests of server/callbacks/CallbackBuilder.cpp: which endpoints an event goes to, in what
// order, and the exact body and headers of the overview's "Rest Endpoint Callbacks".
#include <Poco/JSON/Object.h>
#include <cppunit/extensions/HelperMacros.h>

#include "server/callbacks/CallbackBuilder.h"
#include "shared/model/Time.h"
#include "shared/util/Json.h"

namespace {

using Strings = std::vector<std::string>;

te::ClientConfig client(const std::string& name) {
    te::ClientConfig c;
    c.name = name;
    c.callbackHeaders = {{"Workflow-Id", "52ec321b-8da3-4f5f-9cd3-749789577cd3"}};
    c.callbackEndpoints = {"http://client.example/cb", "http://shared.example/cb"};
    return c;
}

te::Job job(const std::string& parameters) {
    te::Job j;
    j.id = 42;
    j.client = "acme";
    j.workflow = "vod";
    j.contentId = "content-7";
    j.parameters = parameters;
    return j;
}

Strings urlsOf(const std::vector<te::CallbackEvent>& events) {
    Strings out;
    for (const auto& e : events) out.push_back(e.url);
    return out;
}

class CallbackBuilderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CallbackBuilderTest);
    CPPUNIT_TEST(testEndpointOrderAndDedup);
    CPPUNIT_TEST(testSingleStringEndpoint);
    CPPUNIT_TEST(testIgnoresNonStringsAndNonHttp);
    CPPUNIT_TEST(testAllowList);
    CPPUNIT_TEST(testBodyOfTaskEvent);
    CPPUNIT_TEST(testBodyOfJobEvent);
    CPPUNIT_TEST(testHeadersAndClient);
    CPPUNIT_TEST(testNoEndpointsNoEvents);
    CPPUNIT_TEST_SUITE_END();

public:
    void testEndpointOrderAndDedup() {
        te::JobDef wf;
        wf.callbackEndpoints = {"https://wf.example/hook", "http://job.example/a"};
        te::CallbackBuilder b({client("acme")}, te::CallbackConfig{});
        auto events = b.build(job(R"({"rest_endpoints": ["http://job.example/a",
                                   "http://job.example/b", "http://job.example/a",
                                   "http://shared.example/cb"]})"),
                              nullptr, &wf, "start", "", te::nowMs());
        CPPUNIT_ASSERT(
            urlsOf(events) ==
            (Strings{"http://job.example/a", "http://job.example/b", "http://shared.example/cb",
                     "https://wf.example/hook", "http://client.example/cb"}));
    }

    void testSingleStringEndpoint() {
        te::CallbackBuilder b({}, te::CallbackConfig{});
        auto events = b.build(job(R"({"rest_endpoints": "http://one.example/x?y=1"})"), nullptr,
                              nullptr, "start", "", te::nowMs());
        CPPUNIT_ASSERT(urlsOf(events) == (Strings{"http://one.example/x?y=1"}));
    }

    void testIgnoresNonStringsAndNonHttp() {
        te::CallbackBuilder b({}, te::CallbackConfig{});
        auto events = b.build(
            job(R"({"rest_endpoints": [1, null, {"u": "http://x.example"}, "ftp://f.example/a",
                   "file:///etc/passwd", "not a url", "", "HTTP://UPPER.example/ok",
                   "http://ok.example/"]})"),
            nullptr, nullptr, "start", "", te::nowMs());
        CPPUNIT_ASSERT(urlsOf(events) ==
                       (Strings{"HTTP://UPPER.example/ok", "http://ok.example/"}));
        // rest_endpoints of a wrong type, or parameters that are not an object: no endpoint.
        CPPUNIT_ASSERT(
            b.build(job(R"({"rest_endpoints": 5})"), nullptr, nullptr, "start", "", 0).empty());
        CPPUNIT_ASSERT(b.build(job("[1]"), nullptr, nullptr, "start", "", 0).empty());
        CPPUNIT_ASSERT(b.build(job("{bad json"), nullptr, nullptr, "start", "", 0).empty());
    }

    void testAllowList() {
        te::CallbackConfig config;
        config.allowedHosts = {"Allowed.example", "client.example"};
        te::CallbackBuilder b({client("acme")}, config);
        Strings rejected;
        auto events = b.build(job(R"({"rest_endpoints": ["http://allowed.example/a",
                                   "http://evil.example/b", "http://127.0.0.1:9/x",
                                   "http://evil.example/b"]})"),
                              nullptr, nullptr, "complete", "", te::nowMs(), &rejected);
        CPPUNIT_ASSERT(urlsOf(events) ==
                       (Strings{"http://allowed.example/a", "http://client.example/cb"}));
        CPPUNIT_ASSERT(rejected == (Strings{"http://evil.example/b", "http://127.0.0.1:9/x",
                                            "http://shared.example/cb"}));
        // Without the out-parameter the same URLs are dropped all the same.
        auto quiet = b.build(job(R"({"rest_endpoints": "http://evil.example/"})"), nullptr, nullptr,
                             "start", "", 0);
        CPPUNIT_ASSERT(urlsOf(quiet) == (Strings{"http://client.example/cb"}));
    }

    void testBodyOfTaskEvent() {
        te::Task task;
        task.id = 9001;
        task.name = "transcode";
        te::TimeMs at = *te::parseIso("2020-09-24T11:55:33.755Z");
        te::CallbackBuilder b({}, te::CallbackConfig{});
        auto events = b.build(job(R"({"rest_endpoints": "http://h.example/"})"), &task, nullptr,
                              "complete", "x_drm_57d8.ism \"quoted\"", at);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"job_id":42,"task_id":9001,"task_name":"transcode",)"
                R"("content_id":"content-7","event":"complete",)"
                R"("message":"x_drm_57d8.ism \"quoted\"","datetime":"2020-09-24T11:55:33Z"})"),
            events[0].body);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(42), events[0].jobId);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(9001), events[0].taskId);
        CPPUNIT_ASSERT(events[0].state == te::CallbackEvent::State::Pending);
        CPPUNIT_ASSERT_EQUAL(0, events[0].attempts);
    }

    void testBodyOfJobEvent() {
        te::CallbackBuilder b({}, te::CallbackConfig{});
        auto events = b.build(job(R"({"rest_endpoints": "http://h.example/"})"), nullptr, nullptr,
                              "fail", "stage 2 failed", 0);
        auto body = te::json::parseObject(events.at(0).body);
        CPPUNIT_ASSERT_EQUAL(0, body->getValue<int>("task_id"));
        CPPUNIT_ASSERT_EQUAL(std::string("vod"), body->getValue<std::string>("task_name"));
        CPPUNIT_ASSERT_EQUAL(std::string("fail"), body->getValue<std::string>("event"));
        CPPUNIT_ASSERT_EQUAL(std::string("stage 2 failed"), body->getValue<std::string>("message"));
        CPPUNIT_ASSERT_EQUAL(std::string("1970-01-01T00:00:00Z"),
                             body->getValue<std::string>("datetime"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), body->size());
    }

    void testHeadersAndClient() {
        te::CallbackBuilder b({client("other"), client("acme")}, te::CallbackConfig{});
        auto events = b.build(job("{}"), nullptr, nullptr, "start", "", 0);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), events.size());
        for (const auto& e : events) {
            CPPUNIT_ASSERT_EQUAL(std::string("acme"), e.client);
            auto headers = te::json::parseObject(e.headers);
            CPPUNIT_ASSERT_EQUAL(std::string("52ec321b-8da3-4f5f-9cd3-749789577cd3"),
                                 headers->getValue<std::string>("Workflow-Id"));
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), headers->size());
        }
        // An unknown client: no client endpoints and no headers, but the job's own endpoints.
        te::Job j = job(R"({"rest_endpoints": "http://h.example/"})");
        j.client = "nobody";
        events = b.build(j, nullptr, nullptr, "start", "", 0);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), events[0].headers);
    }

    void testNoEndpointsNoEvents() {
        te::CallbackBuilder b({}, te::CallbackConfig{});
        CPPUNIT_ASSERT(b.build(job("{}"), nullptr, nullptr, "start", "", 0).empty());
        CPPUNIT_ASSERT(b.build(job(""), nullptr, nullptr, "start", "", 0).empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CallbackBuilderTest);

}  // namespace
