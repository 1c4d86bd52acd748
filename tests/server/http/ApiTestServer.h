#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/Server.h"
#include "tests/server/http/HttpTestClient.h"
#include "tests/support/TestUtil.h"

namespace te::test {

// A real te::Server for the API tests: HTTP on a free port, dispatch on tcp://127.0.0.1:*,
// the workflows of tests/fixtures/http/workflows, and two clients:
//   demo-client  (api_key "demo-key")
//   other-client (api_key_sha256 of "other-key")
// No worker runs, so jobs stay queued or started. max_jobs is 2.
class ApiTestServer {
public:
    static constexpr const char* kDemoKey = "demo-key";
    static constexpr const char* kOtherKey = "other-key";

    ApiTestServer(const std::string& databaseUrl, const std::string& dir,
                  const std::function<void(ServerConfig&)>& adjust = {});
    ~ApiTestServer();

    int port() const;
    HttpTestClient demo() const;   // demo-client's credentials
    HttpTestClient other() const;  // other-client's credentials
    Server& server() { return *_server; }
    const std::string& databaseUrl() const { return _url; }

    static ServerConfig config(const std::string& databaseUrl, const std::string& dir);

    // Runs `body` against a fresh server on each backend (SQLite, then PostgreSQL); a failure
    // names the backend.
    static void forEachBackend(const std::function<void(ApiTestServer&)>& body,
                               const std::function<void(ServerConfig&)>& adjust = {});

private:
    std::string _url;
    std::unique_ptr<Server> _server;
};

}  // namespace te::test
