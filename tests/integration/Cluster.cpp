#include "tests/integration/Cluster.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <cppunit/extensions/HelperMacros.h>

#include <csignal>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "server/dispatch/Dispatcher.h"
#include "shared/util/Json.h"
#include "tests/support/PostgresFixture.h"

namespace te::test {

std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    return o->has(key) && !o->get(key).isEmpty() ? o->get(key).convert<std::string>() : "";
}

Poco::JSON::Object::Ptr HttpResult::object() const { return json::parseObject(body, 1000); }

Poco::JSON::Array::Ptr HttpResult::array() const {
    auto v = json::parse(body, 1000);
    if (v.type() != typeid(Poco::JSON::Array::Ptr))
        throw std::runtime_error("not an array: " + body);
    return v.extract<Poco::JSON::Array::Ptr>();
}

Cluster::Cluster(Options options)
    : _options(std::move(options)), _httpPort(freePort()), _dispatchPort(freePort()) {
    if (_options.clients.empty()) {
        ClientConfig c;
        c.name = "test";
        c.apiKey = "secret";
        _options.clients.push_back(c);
    }
    if (_options.database.empty()) {
        // TE_TEST_BACKEND=postgresql runs the same end-to-end suite on a throwaway PostgreSQL.
        const char* backend = std::getenv("TE_TEST_BACKEND");
        if (backend && std::string(backend) == "postgresql") {
            _options.database = PostgresFixture::instance().freshDatabase();
        } else {
            _options.database = "sqlite3://db=" + _dir.file("te.db");
        }
    }
}

Cluster::~Cluster() {
    for (auto& [name, handle] : _workers) {
        try {
            Poco::Process::kill(handle);
            handle.wait();
        } catch (...) {
            // Already gone: nothing to clean.
        }
    }
    if (_serverProcess) {
        try {
            Poco::Process::kill(*_serverProcess);
            _serverProcess->wait();
        } catch (...) {
        }
    }
    stopServer();
}

ServerConfig Cluster::config() const {
    ServerConfig c;
    c.file = "(test)";
    c.http.host = "127.0.0.1";
    c.http.port = _httpPort;
    c.http.threads = 8;
    c.database = _options.database;
    c.dispatch.bind = "tcp://127.0.0.1:" + std::to_string(_dispatchPort);
    c.dispatch.heartbeatMs = _options.heartbeatMs;
    c.dispatch.liveness = _options.liveness;
    c.dispatch.leaseMs = _options.leaseMs;
    c.dispatch.waitForEndpointsTimeoutSec = _options.waitForEndpointsSec;
    c.workflows = _options.workflows;
    c.clients = _options.clients;
    c.settings = _options.settings;
    c.callbacks.backoffBaseMs = 200;
    c.callbacks.backoffMaxMs = 1000;
    c.logLevel = "warning";
    return c;
}

void Cluster::startServer() {
    _server = std::make_unique<Server>(config());
    _server->start();
}

void Cluster::stopServer() {
    if (_server) _server->stop();
    _server.reset();
}

Server& Cluster::server() { return *_server; }
Engine& Cluster::engine() { return _server->engine(); }

std::string Cluster::dispatchEndpoint() const {
    return "tcp://127.0.0.1:" + std::to_string(_dispatchPort);
}

int Cluster::serverProcessId() const {
    CPPUNIT_ASSERT(_serverProcess);
    return _serverProcess->id();
}

void Cluster::startServerProcess(bool waitUntilServing) {
    ServerConfig c = config();
    std::ostringstream y;
    y << "http: {host: 127.0.0.1, port: " << c.http.port << ", threads: 8}\n"
      << "database: \"" << c.database << "\"\n"
      << "dispatch: {bind: \"" << c.dispatch.bind << "\", heartbeat_ms: " << c.dispatch.heartbeatMs
      << ", liveness: " << c.dispatch.liveness << ", lease_ms: " << c.dispatch.leaseMs
      << ", wait_for_endpoints_timeout: " << c.dispatch.waitForEndpointsTimeoutSec << "}\n"
      << "callbacks: {backoff_base_ms: 200, backoff_max_ms: 1000}\n"
      << "workflows: \"" << c.workflows << "\"\n"
      << "log_level: warning\n"
      << "settings:\n";
    for (const auto& [k, v] : c.settings) y << "  " << k << ": \"" << v << "\"\n";
    y << "clients:\n";
    for (const auto& cl : c.clients) {
        y << "  - name: \"" << cl.name << "\"\n    api_key: \"" << cl.apiKey << "\"\n";
        if (!cl.callbackHeaders.empty()) {
            y << "    callback_headers:\n";
            for (const auto& [k, v] : cl.callbackHeaders)
                y << "      " << k << ": \"" << v << "\"\n";
        }
    }
    std::string file = _dir.file("server.yaml");
    writeFile(file, y.str());
    _serverProcess = Poco::Process::launch(binaryPath("taskengine-server"), {"--config", file}, "",
                                           nullptr, nullptr, nullptr, _options.processEnv);
    if (!waitUntilServing) return;
    bool up = waitUntil(
        [&] {
            try {
                return request("GET", "/").status == 200;
            } catch (...) {
                return false;
            }
        },
        std::chrono::seconds(20));
    CPPUNIT_ASSERT_MESSAGE("taskengine-server did not answer on its port; sockets on its ports:\n" +
                               socketsOnPort(_httpPort) + socketsOnPort(_dispatchPort),
                           up);
}

void Cluster::killServerProcess() {
    CPPUNIT_ASSERT(_serverProcess);
    ::kill(_serverProcess->id(), SIGKILL);
    _serverProcess->wait();
    _serverProcess.reset();
}

std::optional<int> Cluster::waitServerProcess(std::chrono::milliseconds timeout) {
    CPPUNIT_ASSERT(_serverProcess);
    std::optional<int> code;
    waitUntil(
        [&] {
            const int rc = _serverProcess->tryWait();
            if (rc != -1) code = rc;
            return code.has_value();
        },
        timeout);
    // Collected once: a second waitpid on the process would fail.
    if (code) _serverProcess.reset();
    return code;
}

std::optional<int> Cluster::stopServerProcess(std::chrono::milliseconds timeout) {
    CPPUNIT_ASSERT(_serverProcess);
    ::kill(_serverProcess->id(), SIGTERM);
    auto code = waitServerProcess(timeout);
    if (!code) killServerProcess();
    return code;
}

void Cluster::startWorker(const std::string& name, const std::string& queues, int slots) {
    std::string work = _dir.file("work-" + name);
    std::ostringstream y;
    y << "server: \"" << dispatchEndpoint() << "\"\n"
      << "name: \"" << name << "\"\n"
      << "queues: [" << queues << "]\n"
      << "slots: " << slots << "\n"
      << "work_dir: \"" << work << "\"\n"
      << "heartbeat_ms: " << _options.heartbeatMs << "\n"
      << "liveness: " << _options.liveness << "\n"
      << "min_free_disk_mb: 1\n"
      << "grace: 5\n"
      << "log_level: warning\n"
      << "env: {WORKER_TAG: \"" << name << "\", WORKFLOW_BIN: \""
      << sourcePath("config/workflows/bin") << "\"}\n";
    std::string file = _dir.file("worker-" + name + ".yaml");
    writeFile(file, y.str());
    auto handle = Poco::Process::launch(binaryPath("taskengine-worker"), {"--config", file}, "",
                                        nullptr, nullptr, nullptr, _options.processEnv);
    _workers.erase(name);
    _workers.emplace(name, handle);
}

void Cluster::killWorker(const std::string& name) {
    auto it = _workers.find(name);
    CPPUNIT_ASSERT(it != _workers.end());
    ::kill(it->second.id(), SIGKILL);
    it->second.wait();
    _workers.erase(it);
}

void Cluster::terminateWorker(const std::string& name) {
    auto it = _workers.find(name);
    CPPUNIT_ASSERT(it != _workers.end());
    ::kill(it->second.id(), SIGTERM);
    it->second.wait();
    _workers.erase(it);
}

bool Cluster::workerConnected(const std::string& name) {
    for (const auto& w : _server->dispatcher().workers()) {
        if (w.name == name) return true;
    }
    return false;
}

HttpResult Cluster::request(const std::string& method, const std::string& path,
                            const std::string& body,
                            const std::map<std::string, std::string>& headers) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(_httpPort));
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("client", _options.clients.front().name);
    req.set("api-key", _options.clients.front().apiKey);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
        req.setContentType("application/json");
        req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(req) << body;
    Poco::Net::HTTPResponse res;
    std::istream& in = session.receiveResponse(res);
    HttpResult r;
    r.status = static_cast<int>(res.getStatus());
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
}

std::int64_t Cluster::submit(const std::string& workflow, const std::string& parametersJson,
                             const std::string& jobExtrasJson) {
    std::string job = "{\"workflow\": " + json::stringify(Poco::Dynamic::Var(workflow));
    if (!jobExtrasJson.empty()) job += ", " + jobExtrasJson;
    job += "}";
    std::string body = "{\"job\": " + job + ", \"parameters\": " + parametersJson + "}";
    HttpResult r = request("POST", "/job", body);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("POST /job " + body + " -> " + r.body, 200, r.status);
    return r.object()->getValue<std::int64_t>("id");
}

Poco::JSON::Object::Ptr Cluster::job(std::int64_t id) {
    HttpResult r = request("GET", "/jobs/" + std::to_string(id));
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    return r.object();
}

Poco::JSON::Array::Ptr Cluster::tasks(std::int64_t id) {
    HttpResult r = request("GET", "/jobs/" + std::to_string(id) + "/tasks");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    return r.array();
}

Poco::JSON::Array::Ptr Cluster::logs(std::int64_t id) {
    HttpResult r = request("GET", "/logs/" + std::to_string(id));
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
    return r.array();
}

std::string Cluster::logText(std::int64_t id) {
    std::string out;
    auto entries = logs(id);
    for (size_t i = 0; i < entries->size(); ++i) {
        out += entries->getObject(i)->getValue<std::string>("message") + "\n";
    }
    return out;
}

bool Cluster::waitState(std::int64_t id, const std::string& state, std::chrono::seconds timeout) {
    return waitUntil([&] { return job(id)->getValue<std::string>("queue_state") == state; },
                     timeout);
}

Poco::JSON::Object::Ptr Cluster::waitFinished(std::int64_t id, std::chrono::seconds timeout) {
    Poco::JSON::Object::Ptr last;
    bool done = waitUntil(
        [&] {
            last = job(id);
            std::string s = last->getValue<std::string>("queue_state");
            return s == "completed" || s == "broken";
        },
        timeout);
    CPPUNIT_ASSERT_MESSAGE("job " + std::to_string(id) + " did not finish: " +
                               json::stringify(last) + "\nlog:\n" + logText(id),
                           done);
    return last;
}

void Cluster::setSetting(const std::string& name, const std::string& value) {
    HttpResult r = request("POST", "/settings",
                           "{\"name\": \"" + name + "\", \"setting\": \"" + value + "\"}");
    CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
}

}  // namespace te::test
