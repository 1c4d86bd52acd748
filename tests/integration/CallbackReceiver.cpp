#include "tests/integration/CallbackReceiver.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <thread>

#include "shared/util/Json.h"
#include "tests/support/TestUtil.h"

namespace te::test {
namespace {

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(CallbackReceiver& owner) : _owner(owner) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req,
                       Poco::Net::HTTPServerResponse& res) override {
        CallbackReceiver::Request r;
        r.method = req.getMethod();
        r.path = req.getURI();
        for (const auto& kv : req) r.headers[Poco::toLower(kv.first)] = kv.second;
        Poco::StreamCopier::copyToString(req.stream(), r.body);
        int status = _owner.handle(r);
        res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        res.setContentType("application/json");
        res.send() << "{}";
    }

private:
    CallbackReceiver& _owner;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(CallbackReceiver& owner) : _owner(owner) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new Handler(_owner);
    }

private:
    CallbackReceiver& _owner;
};

}  // namespace

Poco::JSON::Object::Ptr CallbackReceiver::Request::json() const {
    return te::json::parseObject(body, 1000);
}

CallbackReceiver::CallbackReceiver() : _port(freePort()) {}

CallbackReceiver::~CallbackReceiver() { stop(); }

void CallbackReceiver::start() {
    if (_server) return;
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(_port)), true);
    socket.listen(64);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(8);
    params->setKeepAlive(false);
    _server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    _server->start();
}

void CallbackReceiver::stop() {
    if (!_server) return;
    _server->stopAll(true);
    _server.reset();
}

std::string CallbackReceiver::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(_port) + path;
}

void CallbackReceiver::failNext(int n, int status) {
    std::lock_guard<std::mutex> lock(_mutex);
    _failLeft = n;
    _failStatus = status;
}

void CallbackReceiver::setDelay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(_mutex);
    _delay = delay;
}

int CallbackReceiver::handle(Request& r) {
    std::chrono::milliseconds delay;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        delay = _delay;
        if (_failLeft > 0) {
            --_failLeft;
            r.status = _failStatus;
        } else {
            r.status = 200;
        }
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    r.at = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(_mutex);
    _requests.push_back(r);
    return r.status;
}

std::vector<CallbackReceiver::Request> CallbackReceiver::requests() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _requests;
}

std::vector<CallbackReceiver::Request> CallbackReceiver::delivered() const {
    std::vector<Request> out;
    for (auto& r : requests()) {
        if (r.status >= 200 && r.status < 300) out.push_back(r);
    }
    return out;
}

std::size_t CallbackReceiver::deliveredCount() const { return delivered().size(); }

}  // namespace te::test
