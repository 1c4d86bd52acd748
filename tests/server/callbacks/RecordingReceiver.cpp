#include "tests/server/callbacks/RecordingReceiver.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <thread>
#include <utility>

namespace te::test {
namespace {

class RecordingHandler : public Poco::Net::HTTPRequestHandler {
public:
    explicit RecordingHandler(RecordingReceiver& owner) : _owner(owner) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        _owner.enter();
        RecordingReceiver::Request r;
        r.method = request.getMethod();
        r.path = request.getURI();
        for (const auto& [name, value] : request) r.headers[Poco::toLower(name)] = value;
        Poco::StreamCopier::copyToString(request.stream(), r.body);
        r.at = std::chrono::steady_clock::now();
        std::this_thread::sleep_for(_owner.delay());
        int status = _owner.answer(std::move(r));
        response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        response.setContentType("application/json");
        response.send() << "{}";
        _owner.leave();
    }

private:
    RecordingReceiver& _owner;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit Factory(RecordingReceiver& owner) : _owner(owner) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new RecordingHandler(_owner);
    }

private:
    RecordingReceiver& _owner;
};

}  // namespace

RecordingReceiver::RecordingReceiver(int port, std::string pemFile)
    : _port(port), _pemFile(std::move(pemFile)) {}

RecordingReceiver::~RecordingReceiver() { stop(); }

void RecordingReceiver::start() {
    Poco::Net::ServerSocket socket;
    if (!_pemFile.empty()) {
        Poco::Net::Context::Ptr tls =
            new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, _pemFile, _pemFile, "",
                                   Poco::Net::Context::VERIFY_NONE);
        socket = Poco::Net::SecureServerSocket(tls);
    }
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(_port)), true);
    socket.listen(64);
    _port = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(16);
    params->setKeepAlive(false);
    _server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    _server->start();
}

void RecordingReceiver::stop() {
    if (!_server) return;
    _server->stopAll(true);
    _server.reset();
}

std::string RecordingReceiver::url(const std::string& path) const {
    return (_pemFile.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(_port) +
           path;
}

void RecordingReceiver::script(const std::vector<int>& statuses) {
    std::lock_guard<std::mutex> lock(_mu);
    _script.insert(_script.end(), statuses.begin(), statuses.end());
}

void RecordingReceiver::setDefaultStatus(int status) {
    std::lock_guard<std::mutex> lock(_mu);
    _defaultStatus = status;
}

void RecordingReceiver::setDelay(std::chrono::milliseconds delay) {
    std::lock_guard<std::mutex> lock(_mu);
    _delay = delay;
}

std::chrono::milliseconds RecordingReceiver::delay() const {
    std::lock_guard<std::mutex> lock(_mu);
    return _delay;
}

int RecordingReceiver::answer(Request request) {
    std::lock_guard<std::mutex> lock(_mu);
    int status = _defaultStatus;
    if (!_script.empty()) {
        status = _script.front();
        _script.pop_front();
    }
    request.status = status;
    _requests.push_back(std::move(request));
    return status;
}

std::vector<RecordingReceiver::Request> RecordingReceiver::requests() const {
    std::lock_guard<std::mutex> lock(_mu);
    return _requests;
}

std::size_t RecordingReceiver::count() const {
    std::lock_guard<std::mutex> lock(_mu);
    return _requests.size();
}

}  // namespace te::test
