// ErrorMapping: every exception kind becomes its status over real HTTP, with the generic text
// for faults (the reason is logged, never sent). A small POCO server whose handler throws
// what the request path names.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/ServerSocket.h>
#include <cppunit/extensions/HelperMacros.h>

#include "server/http/ErrorMapping.h"
#include "server/http/HttpError.h"
#include "server/http/JsonResponse.h"
#include "tests/server/http/ApiAsserts.h"

namespace te::test {
namespace {

class ThrowingHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        ErrorMapping::Context context;
        context.jobId = 42;
        context.internalMessage = "Unable to create job request";
        const std::string what = request.getURI();
        ErrorMapping::run(request, response, context, [&] {
            if (what == "/validation") throw ValidationError("bad field");
            if (what == "/notfound") throw NotFoundError("job 42 not found");
            if (what == "/conflict") throw ConflictError("job is completed");
            if (what == "/store") throw StoreError("connection refused at 10.0.0.5");
            if (what == "/std") throw std::runtime_error("secret detail");
            if (what == "/poco") throw Poco::NullPointerException("secret pointer");
            if (what == "/int") throw 7;
            if (what == "/http") throw HttpError(405, "no", "GET");
            JsonResponse::send(response, 200, Poco::Dynamic::Var("fine"));
        });
    }
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new ThrowingHandler;
    }
};

}  // namespace

class ErrorMappingTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ErrorMappingTest);
    CPPUNIT_TEST(testStatuses);
    CPPUNIT_TEST_SUITE_END();

public:
    void testStatuses() {
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
        Poco::Net::HTTPServer server(new Factory, socket, new Poco::Net::HTTPServerParams);
        server.start();
        HttpTestClient c(socket.address().port(), "", "");
        assertError(c.raw("GET", "/validation", "", {}), 400, "bad field");
        CPPUNIT_ASSERT_EQUAL(42, c.raw("GET", "/validation", "", {}).object()->getValue<int>("id"));
        HttpReply notFound = c.raw("GET", "/notfound", "", {});
        assertError(notFound, 404, "job 42 not found");
        CPPUNIT_ASSERT(!notFound.object()->has("id"));
        assertError(c.raw("GET", "/conflict", "", {}), 409, "job is completed");
        HttpReply store = c.raw("GET", "/store", "", {});
        assertError(store, 503, "database unavailable");
        CPPUNIT_ASSERT_MESSAGE(store.body, store.body.find("10.0.0.5") == std::string::npos);
        for (const char* path : {"/std", "/poco", "/int"}) {
            HttpReply r = c.raw("GET", path, "", {});
            assertError(r, 500, "Unable to create job request", path);
            CPPUNIT_ASSERT_MESSAGE(r.body, r.body.find("secret") == std::string::npos);
        }
        HttpReply http = c.raw("GET", "/http", "", {});
        assertError(http, 405, "no");
        CPPUNIT_ASSERT_EQUAL(std::string("GET"), http.header("allow"));
        CPPUNIT_ASSERT_EQUAL(200, c.raw("GET", "/", "", {}).status);
        server.stopAll(true);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ErrorMappingTest);

}  // namespace te::test
