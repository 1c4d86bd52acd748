// The limits of HttpConfig: body size (413), JSON depth, header count, connection timeouts;
// and what POCO's parser refuses, or a connection's end.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <memory>

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
    CPPUNIT_TEST(testMalformedRequestsGetJsonErrors);
    CPPUNIT_TEST(testKeepAliveEndsAfterItsLimit);
    CPPUNIT_TEST(testStopEndsIdleConnections);
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
        // Past POCO's own limit (100) the request is refused before it reaches a handler,
        // still with the API's JSON error.
        std::string request = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 150; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
        assertRefused(rawExchange(s.port(), request + "\r\n"), "Too many header fields");
    }

    // What POCO's parser refuses gets the API's JSON error too (ApiConnection), and the
    // answer arrives whole although the request was not read to its end.
    void testMalformedRequestsGetJsonErrors() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        assertRefused(rawExchange(s.port(), "GARBAGE\r\n\r\n"), "URI invalid");
        assertRefused(rawExchange(s.port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Long: " +
                                                std::string(20000, 'a') + "\r\n\r\n"),
                      "Field value too long");
        assertRefused(rawExchange(s.port(), "GET / HTTP/1.1\r\nHost: x\r\n" +
                                                std::string(10000, 'n') + ": v\r\n\r\n"),
                      "Field name too long");
        assertRefused(
            rawExchange(s.port(), "GET /" + std::string(20000, 'u') + " HTTP/1.1\r\n\r\n"),
            "URI invalid or too long");
        assertOk(s.demo().raw("GET", "/", "", {}), "alive");
    }

    // A connection serves at most 1,000 requests (HttpApi), then says so and closes.
    void testKeepAliveEndsAfterItsLimit() {
        TempDir dir;
        ApiTestServer s("sqlite3://db=" + dir.file("l.db"), dir.path(), small);
        std::string requests;
        for (int i = 0; i < 1005; ++i) requests += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        const std::string reply = rawExchange(s.port(), requests);
        size_t answers = 0, closes = 0;
        for (auto p = reply.find("HTTP/1.1 200 OK"); p != std::string::npos;
             p = reply.find("HTTP/1.1 200 OK", p + 1)) {
            ++answers;
        }
        for (auto p = reply.find("Connection: Close"); p != std::string::npos;
             p = reply.find("Connection: Close", p + 1)) {
            ++closes;
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(1000), answers);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), closes);
        CPPUNIT_ASSERT(reply.rfind("Connection: Close") > reply.rfind("HTTP/1.1 200 OK"));
    }

    // A server that stops cuts its idle keep-alive connections, and stops at once.
    void testStopEndsIdleConnections() {
        TempDir dir;
        auto s = std::make_unique<ApiTestServer>("sqlite3://db=" + dir.file("l.db"), dir.path());
        Poco::Net::StreamSocket idle(
            Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(s->port())));
        idle.setReceiveTimeout(Poco::Timespan(10, 0));
        const std::string ask = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        idle.sendBytes(ask.data(), static_cast<int>(ask.size()));
        char buffer[4096];
        CPPUNIT_ASSERT(idle.receiveBytes(buffer, sizeof buffer) > 0);  // answered, kept open
        auto start = std::chrono::steady_clock::now();
        s.reset();
        CPPUNIT_ASSERT_MESSAGE("stopped within 3 s",
                               std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
        int n = -1;
        try {
            n = idle.receiveBytes(buffer, sizeof buffer);
        } catch (const Poco::Net::ConnectionResetException&) {
            n = 0;
        }
        CPPUNIT_ASSERT_EQUAL(0, n);  // closed by the server, not left to time out
    }

private:
    static void assertRefused(const std::string& reply, const std::string& reason) {
        CPPUNIT_ASSERT_EQUAL_MESSAGE(reply, 400, rawStatus(reply));
        CPPUNIT_ASSERT_MESSAGE(reply,
                               reply.find("Content-Type: application/json") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(
            reply, reply.find("{\"error\":\"malformed HTTP request: ") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(reply, reply.find(reason) != std::string::npos);
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
