// Unit tests of server/http/Route: which path is which resource.
#include <cppunit/extensions/HelperMacros.h>

#include "server/http/Route.h"

namespace te::test {

class RouteTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RouteTest);
    CPPUNIT_TEST(testFixedPaths);
    CPPUNIT_TEST(testJobPaths);
    CPPUNIT_TEST(testUnknownPaths);
    CPPUNIT_TEST(testAllows);
    CPPUNIT_TEST_SUITE_END();

public:
    using R = Route::Resource;

    void testFixedPaths() {
        CPPUNIT_ASSERT(Route::match("/").resource == R::Root);
        CPPUNIT_ASSERT(Route::match("/health").resource == R::Health);
        CPPUNIT_ASSERT(Route::match("/dashboard").resource == R::Dashboard);
        CPPUNIT_ASSERT(Route::match("/job").resource == R::Job);
        CPPUNIT_ASSERT(Route::match("/jobs").resource == R::Jobs);
        CPPUNIT_ASSERT(Route::match("/jobs/").resource == R::Jobs);
        CPPUNIT_ASSERT(Route::match("/schedules").resource == R::Schedules);
        CPPUNIT_ASSERT(Route::match("/scheduler").resource == R::Scheduler);
        CPPUNIT_ASSERT(Route::match("/settings").resource == R::Settings);
    }

    void testJobPaths() {
        Route r = Route::match("/jobs/123");
        CPPUNIT_ASSERT(r.resource == R::JobItem);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(123), r.jobId);
        CPPUNIT_ASSERT(Route::match("/jobs/7/rerun").resource == R::JobRerun);
        CPPUNIT_ASSERT(Route::match("/jobs/7/tasks").resource == R::JobTasks);
        r = Route::match("/logs/42");
        CPPUNIT_ASSERT(r.resource == R::Logs);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(42), r.jobId);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(999999999999999999),
                             Route::match("/jobs/999999999999999999").jobId);
    }

    void testUnknownPaths() {
        for (const char* path :
             {"", "jobs", "/nope", "/jobs/abc", "/jobs/0", "/jobs/-1", "/jobs/1x",
              "/jobs/1234567890123456789", "/jobs/1/nope", "/jobs/1/rerun/x", "/logs", "/logs/x",
              "//jobs", "/job/1", "/health/x"}) {
            CPPUNIT_ASSERT_MESSAGE(path, Route::match(path).resource == R::None);
        }
    }

    void testAllows() {
        Route r = Route::match("/jobs/1");
        CPPUNIT_ASSERT_EQUAL(std::string("GET, PUT"), r.allow);
        CPPUNIT_ASSERT(r.allows("GET"));
        CPPUNIT_ASSERT(r.allows("PUT"));
        CPPUNIT_ASSERT(!r.allows("POST"));
        CPPUNIT_ASSERT(!r.allows("GE"));
        CPPUNIT_ASSERT(!r.allows("get"));
        CPPUNIT_ASSERT(Route::match("/job").allows("POST"));
        CPPUNIT_ASSERT(!Route::match("/job").allows("GET"));
        CPPUNIT_ASSERT(Route::match("/scheduler").allows("PUT"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RouteTest);

}  // namespace te::test
