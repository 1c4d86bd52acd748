// The HTTP port, the dispatch endpoint and the database are the server's alone: a second
// server started on any of them stops with an error.
#include <cppunit/extensions/HelperMacros.h>

#include "shared/Errors.h"
#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {
namespace {

// Starts a second server beside `dir`'s first one, on its own database unless told which,
// changed by `adjust`; returns the error it stopped with ("" if it started).
std::string secondServerError(const TempDir& dir, const std::function<void(ServerConfig&)>& adjust,
                              const std::string& database = "") {
    try {
        ApiTestServer second(database.empty() ? "sqlite3://db=" + dir.file("b.db") : database,
                             dir.path(), adjust);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

class ListenTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ListenTest);
    CPPUNIT_TEST(testSecondServerOnThePortIsRefused);
    CPPUNIT_TEST(testSecondServerOnTheDispatchEndpointIsRefused);
    CPPUNIT_TEST(testSecondServerOnTheDatabaseIsRefused);
    CPPUNIT_TEST_SUITE_END();

public:
    void testSecondServerOnThePortIsRefused() {
        TempDir dir;
        ApiTestServer first("sqlite3://db=" + dir.file("a.db"), dir.path());
        const int port = first.port();
        const std::string error =
            secondServerError(dir, [port](ServerConfig& c) { c.http.port = port; });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("http: cannot listen on 127.0.0.1:" +
                                                 std::to_string(port)) != std::string::npos);
        // Every request still reaches the first server: none went to a second listener.
        for (int i = 0; i < 20; ++i) assertOk(first.demo().get("/"), "status");
    }

    void testSecondServerOnTheDispatchEndpointIsRefused() {
        TempDir dir;
        ApiTestServer first("sqlite3://db=" + dir.file("a.db"), dir.path());
        const std::string endpoint = first.server().dispatchEndpoint();
        const std::string error =
            secondServerError(dir, [endpoint](ServerConfig& c) { c.dispatch.bind = endpoint; });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("dispatch.bind: cannot bind '" + endpoint + "'") !=
                                          std::string::npos);
    }

    // Its rows and counts kept between transactions would go stale under a second writer.
    void testSecondServerOnTheDatabaseIsRefused() {
        TempDir dir;
        const std::string database = "sqlite3://db=" + dir.file("a.db");
        ApiTestServer first(database, dir.path());
        const std::string error = secondServerError(
            dir, [](ServerConfig&) {}, database);
        CPPUNIT_ASSERT_MESSAGE(
            error, error.find("database " + database + " is in use by another taskengine-server") !=
                       std::string::npos);
        assertOk(first.demo().get("/"), "status");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ListenTest);

}  // namespace te::test
