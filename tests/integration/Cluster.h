#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Process.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/Server.h"
#include "server/engine/Engine.h"
#include "shared/config/ServerConfig.h"
#include "tests/support/TestUtil.h"

namespace te::test {

// A field of a JSON object as text ("" when absent or null): what the tests compare.
std::string str(const Poco::JSON::Object::Ptr& object, const std::string& key);

struct HttpResult {
    int status = 0;
    std::string body;
    Poco::JSON::Object::Ptr object() const;  // throws if the body is not an object
    Poco::JSON::Array::Ptr array() const;
};

// A real server and real worker processes on 127.0.0.1 for end-to-end tests. The server runs
// in this process (te::Server) or, for kill -9 tests, as the real taskengine-server binary.
// Workers are always real taskengine-worker processes. Everything stops in the destructor.
class Cluster {
public:
    struct Options {
        std::string database;  // empty: a SQLite file in the cluster's temp folder
        std::string workflows = sourcePath("tests/fixtures/integration/workflows");
        int heartbeatMs = 200;
        int liveness = 3;
        int leaseMs = 3000;
        int waitForEndpointsSec = 2;
        std::map<std::string, std::string> settings = {{"max_jobs", "50"}, {"retry_delay", "1"}};
        std::vector<ClientConfig> clients;  // empty: one client "test" with key "secret"
        // Added to the environment of the server and worker processes (NOTIFY_SOCKET).
        std::map<std::string, std::string> processEnv;
    };

    explicit Cluster(Options options);
    Cluster() : Cluster(Options{}) {}
    ~Cluster();

    // In-process server.
    void startServer();
    void stopServer();
    Server& server();
    Engine& engine();

    // The real binary with a config file (ports fixed at construction, so a restart keeps them).
    // Waits until it answers on its port unless told not to.
    void startServerProcess(bool waitUntilServing = true);
    void killServerProcess();  // SIGKILL, no clean-up
    int serverProcessId() const;
    // Its exit code once it has exited by itself, or nullopt if it still runs after `timeout`.
    std::optional<int> waitServerProcess(std::chrono::milliseconds timeout);
    // SIGTERM, then its exit code; nullopt if it still runs after `timeout` (then SIGKILL).
    std::optional<int> stopServerProcess(std::chrono::milliseconds timeout);

    // A worker process serving `queues` (comma-separated), its env WORKER_TAG=<name>.
    void startWorker(const std::string& name, const std::string& queues = "work", int slots = 2);
    void killWorker(const std::string& name);       // SIGKILL
    void terminateWorker(const std::string& name);  // SIGTERM and wait
    bool workerConnected(const std::string& name);

    // HTTP against the running server, authenticated as the first client.
    HttpResult request(const std::string& method, const std::string& path,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
    // POST /job; returns the id or fails the test.
    std::int64_t submit(const std::string& workflow, const std::string& parametersJson = "{}",
                        const std::string& jobExtrasJson = "");
    Poco::JSON::Object::Ptr job(std::int64_t id);
    Poco::JSON::Array::Ptr tasks(std::int64_t id);
    Poco::JSON::Array::Ptr logs(std::int64_t id);
    std::string logText(std::int64_t id);  // every message, one per line
    // Waits until the job is completed (or broken) and returns it; fails the test on timeout.
    Poco::JSON::Object::Ptr waitFinished(std::int64_t id,
                                         std::chrono::seconds timeout = std::chrono::seconds(30));
    bool waitState(std::int64_t id, const std::string& state,
                   std::chrono::seconds timeout = std::chrono::seconds(30));
    void setSetting(const std::string& name, const std::string& value);

    const TempDir& dir() const { return _dir; }
    const std::string& database() const { return _options.database; }
    int httpPort() const { return _httpPort; }
    std::string dispatchEndpoint() const;

private:
    ServerConfig config() const;
    Options _options;
    TempDir _dir;
    int _httpPort;
    int _dispatchPort;
    std::unique_ptr<Server> _server;
    std::optional<Poco::ProcessHandle> _serverProcess;
    std::map<std::string, Poco::ProcessHandle> _workers;
};

}  // namespace te::test
