// Builtin tasks (noop, sleep, http, copy, move) through a real WorkerRuntime.
#include <Poco/File.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>

#include "tests/worker/WorkerHarness.h"

// How many times slower the code runs: sanitizer builds set it (tests/CMakeLists.txt).
#ifndef TE_TEST_TIME_SCALE
#define TE_TEST_TIME_SCALE 1
#endif

namespace te::test {
namespace {

// Answers /status/N with status N, and records the last method.
class StatusHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        std::string uri = request.getURI();
        int status = uri.rfind("/status/", 0) == 0 ? std::stoi(uri.substr(8)) : 404;
        response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        response.setContentLength(request.getMethod().size());
        response.send() << request.getMethod();
    }
};

class StatusFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new StatusHandler;
    }
};

}  // namespace

class BuiltinsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(BuiltinsTest);
    CPPUNIT_TEST(testNoop);
    CPPUNIT_TEST(testSleep);
    CPPUNIT_TEST(testCopyAndMove);
    CPPUNIT_TEST(testHttp);
    CPPUNIT_TEST(testNoopThroughput);
    CPPUNIT_TEST_SUITE_END();

public:
    void testNoop() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN", AssignBuilder(1).builtin("noop").json());
        auto done = server.expect("DONE", 1);
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), json::stringify(done.body->getObject("output")));
        // An instant task's DONE comes alone: the server records the start with it.
        CPPUNIT_ASSERT(server.received("STARTED", 1).empty());
        std::vector<std::string> folders;
        Poco::File(dir.path() + "/work").list(folders);
        CPPUNIT_ASSERT(folders.empty());
    }

    void testSleep() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        auto start = std::chrono::steady_clock::now();
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(2).builtin("sleep", {"{s}"}).inputs({{"s", "0.3"}}).json());
        server.expect("DONE", 2);
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
        server.send(ready.identity, "ASSIGN", AssignBuilder(3).builtin("sleep", {"soon"}).json());
        auto failed = server.expect("FAILED", 3);
        CPPUNIT_ASSERT(failed.body->getValue<std::string>("error").find("soon") !=
                       std::string::npos);
    }

    void testCopyAndMove() {
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        writeFile(dir.file("a.txt"), "content");
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(4).builtin("copy", {dir.file("a.txt"), dir.file("x/y/b.txt")}).json());
        server.expect("DONE", 4);
        CPPUNIT_ASSERT_EQUAL(std::string("content"), readFile(dir.file("x/y/b.txt")));
        CPPUNIT_ASSERT(Poco::File(dir.file("a.txt")).exists());
        server.send(
            ready.identity, "ASSIGN",
            AssignBuilder(5).builtin("move", {dir.file("a.txt"), dir.file("m/c.txt")}).json());
        server.expect("DONE", 5);
        CPPUNIT_ASSERT_EQUAL(std::string("content"), readFile(dir.file("m/c.txt")));
        CPPUNIT_ASSERT(!Poco::File(dir.file("a.txt")).exists());
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(6).builtin("copy", {dir.file("missing"), dir.file("z")}).json());
        auto failed = server.expect("FAILED", 6);
        CPPUNIT_ASSERT_EQUAL("copy: source does not exist: " + dir.file("missing"),
                             failed.body->getValue<std::string>("error"));
    }

    void testHttp() {
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
        Poco::Net::HTTPServer http(new StatusFactory, socket, new Poco::Net::HTTPServerParams);
        http.start();
        std::string base = "http://127.0.0.1:" + std::to_string(socket.address().port());
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(7).builtin("http", {base + "/status/204", "POST"}).json());
        auto done = server.expect("DONE", 7);
        CPPUNIT_ASSERT_EQUAL(204, done.body->getObject("output")->getValue<int>("status"));
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(8).builtin("http", {base + "/status/503"}).json());
        auto failed = server.expect("FAILED", 8);
        CPPUNIT_ASSERT(failed.body->getValue<std::string>("error").find("503") !=
                       std::string::npos);
        server.send(ready.identity, "ASSIGN",
                    AssignBuilder(9).builtin("http", {"ftp://x/y"}).json());
        server.expect("FAILED", 9);
        http.stop();
    }

    // Not a benchmark: a floor that catches a per-noop thread, folder or fsync creeping in.
    // Under ThreadSanitizer, 10 times slower, it also caught 2,000 ASSIGNs overflowing the
    // worker's receive queue while its heartbeats were short: see WorkerRuntime's rcvhwm.
    void testNoopThroughput() {
        constexpr int scale = TE_TEST_TIME_SCALE;
        FakeServer server;
        TempDir dir;
        WorkerHarness worker(WorkerHarness::config(server, dir));
        auto ready = server.expect("READY");
        const int n = 2000;
        auto start = std::chrono::steady_clock::now();
        for (int id = 1000; id < 1000 + n; ++id) {
            server.send(ready.identity, "ASSIGN", AssignBuilder(id).builtin("noop").json());
        }
        server.expect("DONE", 1000 + n - 1, 10000 * scale);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
        CPPUNIT_ASSERT_EQUAL(std::size_t(n), server.received("DONE").size());
        CPPUNIT_ASSERT_MESSAGE("2000 noops took " + std::to_string(ms) + " ms", ms < 4000 * scale);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(BuiltinsTest);

}  // namespace te::test
