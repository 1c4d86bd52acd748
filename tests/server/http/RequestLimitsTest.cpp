// The limits of HttpConfig: body size (413), JSON depth, header count, connection timeouts.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>

#include "tests/server/http/ApiAsserts.h"
#include "tests/server/http/ApiTestServer.h"

namespace te::test {
namespace {

std::string nested(int depth) {
    return R"({"job": {"workflow": "ping"}, "parameters": {"deep": )" + std::string(depth, '[') +
           std::string(depth, ']') + "}}";
}

}  // namespace

class RequestLimitsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RequestLimitsTest);
    CPPUNIT_TEST(testBodyTooLarge);
    CPPUNIT_TEST(testChunkedBodyTooLarge);
    CPPUNIT_TEST(testJsonDepth);
    CPPUNIT_TEST(testTooManyHeaders);
    CPPUNIT_TEST(testSlowClientIsCut);
    CPPUNIT_TEST(testShortBodyIsAnError);
    CPPUNIT_TEST_SUITE_END();

public:
    static void small(ServerConfig& c) {
        c.http.maxBodyBytes = 4096;
        c.http.maxJsonDepth = 16;
        c.http.maxHeaders = 20;
        c.http.timeoutSec = 1;
    }

    void testBodyTooLarge() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        std::string body = R"({"job": {"workflow": "ping"}, "parameters": {"x": ")" +
                           std::string(5000, 'a') + "\"}}";
        assertError(s.demo().post("/job", body), 413, "too large");
        // Just under the limit is fine.
        std::string fits = R"({"job": {"workflow": "ping"}, "parameters": {"x": ")" +
                           std::string(3000, 'a') + "\"}}";
        assertOk(s.demo().post("/job", fits), "under the limit");
        assertError(s.demo().put("/jobs/1", std::string(5000, ' ')), 413, "too large");
        assertError(s.demo().post("/settings", std::string(5000, ' ')), 413, "too large");
    }

    void testChunkedBodyTooLarge() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(s.port()));
        session.setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest request("POST", "/job", Poco::Net::HTTPMessage::HTTP_1_1);
        request.set("client", "demo-client");
        request.set("api-key", "demo-key");
        request.setChunkedTransferEncoding(true);
        std::ostream& out = session.sendRequest(request);
        out << R"({"job": {"workflow": "ping"}, "parameters": {"x": ")" << std::string(100000, 'b')
            << "\"}}";
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        std::string body;
        Poco::StreamCopier::copyToString(in, body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(body, 413, static_cast<int>(response.getStatus()));
        CPPUNIT_ASSERT_MESSAGE(body, body.find("too large") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.demo().get("/jobs").array()->size());
    }

    void testJsonDepth() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        assertOk(s.demo().post("/job", nested(10)), "depth 13 of 16");
        assertError(s.demo().post("/job", nested(20)), 400, "malformed JSON");
        HttpReply deep = s.demo().post("/job", std::string(4000, '['));
        assertError(deep, 400, "malformed JSON");
    }

    void testTooManyHeaders() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        HttpTestClient::Headers many;
        for (int i = 0; i < 25; ++i) many["X-Extra-" + std::to_string(i)] = "v";
        assertError(s.demo().get("/health", many), 400, "too many header fields");
        HttpTestClient::Headers some;
        for (int i = 0; i < 10; ++i) some["X-Extra-" + std::to_string(i)] = "v";
        assertOk(s.demo().get("/health", some), "under the limit");
        // Past POCO's own limit (100) the request is refused before it reaches a handler.
        std::string request = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 150; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
        std::string reply = rawExchange(s.port(), request + "\r\n");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reply, 400, rawStatus(reply));
    }

    void testSlowClientIsCut() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        // Half a request line, then silence: the server hangs up after its 1 s timeout.
        Poco::Net::StreamSocket socket(
            Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s.port())));
        socket.setReceiveTimeout(Poco::Timespan(10, 0));
        socket.sendBytes("GET /hea", 8);
        auto start = std::chrono::steady_clock::now();
        char buffer[512];
        int n = 0;
        try {
            n = socket.receiveBytes(buffer, sizeof buffer);
        } catch (const Poco::Exception&) {
            n = -1;  // a reset counts as hung up
        }
        auto waited = std::chrono::steady_clock::now() - start;
        std::string answer = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
        CPPUNIT_ASSERT_MESSAGE("hang up, or answer 400/408: " + answer,
                               n <= 0 || rawStatus(answer) == 408 || rawStatus(answer) == 400);
        CPPUNIT_ASSERT_MESSAGE("cut within a few seconds", waited < std::chrono::seconds(5));
        // Meanwhile and afterwards, others are served.
        assertOk(s.demo().raw("GET", "/", "", {}), "alive");
    }

    void testShortBodyIsAnError() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        // Announces 100 bytes, sends 20, stops sending: an answer, not a hang or a 500.
        std::string reply = rawExchange(
            s.port(),
            "POST /job HTTP/1.1\r\nHost: x\r\nclient: demo-client\r\napi-key: demo-key\r\n"
            "Content-Length: 100\r\n\r\n{\"job\": {\"workflow\":");
        int status = rawStatus(reply);
        CPPUNIT_ASSERT_MESSAGE(reply, status == 400);
        assertOk(s.demo().raw("GET", "/", "", {}), "alive");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RequestLimitsTest);

}  // namespace te::test
