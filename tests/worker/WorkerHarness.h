#pragma once

#include <Poco/JSON/Object.h>

#include <atomic>
#include <exception>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "shared/util/Json.h"
#include "tests/support/TestUtil.h"
#include "tests/worker/FakeServer.h"
#include "worker/WorkerRuntime.h"

namespace te::test {

// A WorkerRuntime running on its own thread against a FakeServer, with fast heartbeats.
// The destructor stops it and waits for run() to return.
class WorkerHarness {
public:
    static WorkerConfig config(const FakeServer& server, const TempDir& dir) {
        WorkerConfig c;
        c.file = "test";
        c.server = server.endpoint();
        c.name = "test-worker";
        c.slots = 2;
        c.workDir = dir.path() + "/work";
        c.minFreeDiskMb = 0;
        c.heartbeatMs = 100;
        c.liveness = 3;
        c.graceSec = 2;
        return c;
    }

    explicit WorkerHarness(const WorkerConfig& config) : _runtime(config) {
        _thread = std::thread([this] {
            try {
                _runtime.run();
            } catch (const std::exception& e) {
                _error = e.what();
            }
            _returned = true;
        });
    }
    ~WorkerHarness() { stop(); }

    void stop() {
        _runtime.stop();
        if (_thread.joinable()) _thread.join();
    }
    bool returned() const { return _returned; }
    const std::string& error() const { return _error; }

private:
    WorkerRuntime _runtime;
    std::thread _thread;
    std::atomic<bool> _returned{false};
    std::string _error;
};

// Builds an ASSIGN body.
class AssignBuilder {
public:
    explicit AssignBuilder(long long taskId) : _body(new Poco::JSON::Object) {
        _body->set("task_id", taskId);
        _body->set("job_id", 1);
        _body->set("name", "t" + std::to_string(taskId));
        _body->set("queue", "work");
        _body->set("builtin", "");
        _body->set("command", "");
        _body->set("args", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
        _body->set("inputs", Poco::JSON::Object::Ptr(new Poco::JSON::Object));
        _body->set("env_inputs", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
        _body->set("env", Poco::JSON::Object::Ptr(new Poco::JSON::Object));
        _body->set("timeout", 0);
    }
    AssignBuilder& command(const std::string& c, std::vector<std::string> args = {}) {
        _body->set("command", c);
        return this->args(args);
    }
    AssignBuilder& builtin(const std::string& b, std::vector<std::string> args = {}) {
        _body->set("builtin", b);
        return this->args(args);
    }
    AssignBuilder& args(const std::vector<std::string>& a) {
        _body->set("args", json::fromStringList(a));
        return *this;
    }
    AssignBuilder& inputs(const std::map<std::string, std::string>& m) {
        _body->set("inputs", json::fromStringMap(m));
        return *this;
    }
    AssignBuilder& envInputs(const std::vector<std::string>& names) {
        _body->set("env_inputs", json::fromStringList(names));
        return *this;
    }
    AssignBuilder& env(const std::map<std::string, std::string>& m) {
        _body->set("env", json::fromStringMap(m));
        return *this;
    }
    AssignBuilder& timeout(int seconds) {
        _body->set("timeout", seconds);
        return *this;
    }
    std::string json() const { return json::stringify(_body); }

private:
    Poco::JSON::Object::Ptr _body;
};

}  // namespace te::test
