#include "tests/worker/FakeServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <array>
#include <chrono>
#include <zmq_addon.hpp>

#include "shared/util/Json.h"

namespace te::test {

using Clock = std::chrono::steady_clock;

long long FakeServer::Message::taskId() const {
    if (!body || !body->has("task_id")) return -1;
    return body->get("task_id").convert<long long>();
}

FakeServer::FakeServer(int port) : _router(_context, zmq::socket_type::router) {
    _router.set(zmq::sockopt::linger, 0);
    // A ROUTER silently drops what exceeds its high-water mark; tests send bursts.
    _router.set(zmq::sockopt::sndhwm, 0);
    _router.set(zmq::sockopt::rcvhwm, 0);
    _router.bind("tcp://127.0.0.1:" + (port > 0 ? std::to_string(port) : std::string("*")));
    _endpoint = _router.get(zmq::sockopt::last_endpoint);
    _port = std::stoi(_endpoint.substr(_endpoint.rfind(':') + 1));
}

void FakeServer::send(const std::string& identity, const std::string& type,
                      const std::string& json) {
    std::array<zmq::const_buffer, 3> frames = {zmq::buffer(identity), zmq::buffer(type),
                                               zmq::buffer(json)};
    zmq::send_multipart(_router, frames);
}

bool FakeServer::receiveOne(int timeoutMs) {
    zmq::pollitem_t item{_router.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(timeoutMs));
    if (!(item.revents & ZMQ_POLLIN)) return false;
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(_router, std::back_inserter(frames), zmq::recv_flags::dontwait))
        return false;
    CPPUNIT_ASSERT_EQUAL_MESSAGE("frames: [identity][type][json]", std::size_t(3), frames.size());
    Message m;
    m.identity = frames[0].to_string();
    m.type = frames[1].to_string();
    m.body = json::parseObject(frames[2].to_string());
    _messages.push_back(m);
    _taken.push_back(false);
    return true;
}

FakeServer::Message FakeServer::expect(const std::string& type, long long taskId, int timeoutMs) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    std::size_t scanned = 0;
    for (;;) {
        for (; scanned < _messages.size(); ++scanned) {
            const Message& m = _messages[scanned];
            if (_taken[scanned] || m.type != type) continue;
            if (taskId >= 0 && m.taskId() != taskId) continue;
            _taken[scanned] = true;
            return m;
        }
        auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) break;
        receiveOne(static_cast<int>(std::min<long long>(left, 50)));
    }
    std::string seen;
    for (const auto& m : _messages) {
        if (m.type != "HEARTBEAT") seen += " " + m.type + json::stringify(m.body);
    }
    CPPUNIT_FAIL("no " + type + " for task " + std::to_string(taskId) + " within " +
                 std::to_string(timeoutMs) + " ms; seen:" + seen.substr(0, 3000));
    return {};
}

void FakeServer::pump(int ms) {
    auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (receiveOne(0)) {
    }
    while (Clock::now() < deadline) receiveOne(10);
}

const std::vector<FakeServer::Message>& FakeServer::received() {
    pump(0);
    return _messages;
}

std::vector<FakeServer::Message> FakeServer::received(const std::string& type, long long taskId) {
    std::vector<Message> out;
    for (const auto& m : received()) {
        if (m.type == type && (taskId < 0 || m.taskId() == taskId)) out.push_back(m);
    }
    return out;
}

}  // namespace te::test
