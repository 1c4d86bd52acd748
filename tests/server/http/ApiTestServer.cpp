#include "tests/server/http/ApiTestServer.h"

#include <cppunit/Exception.h>

#include "server/http/Authenticator.h"
#include "tests/support/PostgresFixture.h"

namespace te::test {
namespace {

std::string hex(const Authenticator::Digest& d) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : d) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

}  // namespace

ServerConfig ApiTestServer::config(const std::string& databaseUrl, const std::string& dir) {
    ServerConfig c;
    c.http.host = "127.0.0.1";
    c.http.port = 0;
    c.http.threads = 4;
    c.http.timeoutSec = 5;
    c.database = databaseUrl;
    c.dispatch.bind = "tcp://127.0.0.1:*";
    c.workflows = sourcePath("tests/fixtures/http/workflows");
    ClientConfig demo;
    demo.name = "demo-client";
    demo.apiKey = kDemoKey;
    ClientConfig other;
    other.name = "other-client";
    other.apiKeySha256 = hex(Authenticator::sha256(kOtherKey));
    c.clients = {demo, other};
    c.settings = {{"max_jobs", "2"}, {"priority_slots", "0"}};
    c.logLevel = "error";
    c.logFile = dir + "/server.log";
    return c;
}

ApiTestServer::ApiTestServer(const std::string& databaseUrl, const std::string& dir,
                             const std::function<void(ServerConfig&)>& adjust)
    : _url(databaseUrl) {
    ServerConfig c = config(databaseUrl, dir);
    if (adjust) adjust(c);
    _server = std::make_unique<Server>(c);
    _server->start();
}

ApiTestServer::~ApiTestServer() { _server->stop(); }

int ApiTestServer::port() const { return _server->httpPort(); }

HttpTestClient ApiTestServer::demo() const {
    return HttpTestClient(port(), "demo-client", kDemoKey);
}

HttpTestClient ApiTestServer::other() const {
    return HttpTestClient(port(), "other-client", kOtherKey);
}

void ApiTestServer::forEachBackend(const std::function<void(ApiTestServer&)>& body,
                                   const std::function<void(ServerConfig&)>& adjust) {
    TempDir dir;
    for (const std::string& url : backendUrls(dir.path())) {
        std::string backend = url.substr(0, url.find(':'));
        try {
            ApiTestServer server(url, dir.path(), adjust);
            body(server);
        } catch (const CppUnit::Exception& e) {
            CppUnit::Message m = e.message();
            m.addDetail("backend: " + backend);
            throw CppUnit::Exception(m, e.sourceLine());
        } catch (const std::exception& e) {
            throw CppUnit::Exception(CppUnit::Message("exception on " + backend, e.what()));
        }
    }
}

}  // namespace te::test
