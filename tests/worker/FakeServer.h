#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <vector>
#include <zmq.hpp>

namespace te::test {

// The server's side of shared/protocol/Protocol.h for worker tests: a real ROUTER bound on
// 127.0.0.1 (a free port, or a given one to play a restarted server). Owned and used by the
// test's thread only. Every message received is kept, in order of arrival.
class FakeServer {
public:
    struct Message {
        std::string identity;
        std::string type;
        Poco::JSON::Object::Ptr body;
        long long taskId() const;  // -1 when the body has none
    };

    explicit FakeServer(int port = 0);
    std::string endpoint() const { return _endpoint; }
    int port() const { return _port; }

    void send(const std::string& identity, const std::string& type, const std::string& json);
    // The first message of `type` (for `taskId` when >= 0) not returned by expect() before,
    // receiving as needed; a CppUnit failure after timeoutMs.
    Message expect(const std::string& type, long long taskId = -1, int timeoutMs = 5000);
    // Receives for `ms` milliseconds.
    void pump(int ms);
    // Everything received so far (after pump(0)).
    const std::vector<Message>& received();
    std::vector<Message> received(const std::string& type, long long taskId = -1);

private:
    bool receiveOne(int timeoutMs);

    zmq::context_t _context;
    zmq::socket_t _router;
    std::string _endpoint;
    int _port = 0;
    std::vector<Message> _messages;
    std::vector<bool> _taken;
};

}  // namespace te::test
