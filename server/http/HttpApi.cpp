#include "server/http/HttpApi.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <thread>

#include "server/http/ApiConnection.h"
#include "server/http/ApiContext.h"
#include "server/http/RouterFactory.h"
#include "shared/Errors.h"

namespace te {

struct HttpApi::Impl {
    Impl(const ServerConfig& config, Engine& engine, std::shared_ptr<JobWaits> w)
        : waits(std::move(w)), context{config, engine, Authenticator(config.clients), *waits} {}

    std::shared_ptr<JobWaits> waits;
    ApiContext context;
    std::unique_ptr<Poco::ThreadPool> pool;
    Poco::SharedPtr<ApiConnectionFactory> connections;
    // Poco::Net::HTTPServer's TCPServer, with our connection (ApiConnection) in place of its
    // HTTPServerConnection.
    std::unique_ptr<Poco::Net::TCPServer> server;
    int port = 0;

    // Stops accepting; open connections end after their running request (abortCurrent: at
    // once), as HTTPServer::stopAll.
    void stopAll(bool abortCurrent) {
        server->stop();
        connections->stopConnections(abortCurrent);
    }
};

HttpApi::HttpApi(const ServerConfig& config, Engine& engine, std::shared_ptr<JobWaits> waits)
    : _impl(std::make_unique<Impl>(config, engine, std::move(waits))) {}

HttpApi::~HttpApi() { stop(); }

void HttpApi::start() {
    if (_impl->server) return;
    const HttpConfig& http = _impl->context.config.http;
    Poco::Net::ServerSocket socket;
    try {
        // Reuse the address, so a restart binds while old connections sit in TIME_WAIT, but
        // not the port: POCO's bind(address, true) also sets SO_REUSEPORT, and then a second
        // server started on this port binds too and silently takes half the connections.
        socket.bind(Poco::Net::SocketAddress(http.host, static_cast<Poco::UInt16>(http.port)), true,
                    false);
        socket.listen(http.queue);
    } catch (const Poco::Exception& e) {
        throw ConfigError("http: cannot listen on " + http.host + ":" + std::to_string(http.port) +
                          ": " + e.displayText());
    }
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(http.threads);
    params->setMaxQueued(http.queue);
    // One timeout for a slow or silent client, whether mid-request or idle between requests,
    // so no thread waits on a client for longer.
    params->setTimeout(Poco::Timespan(http.timeoutSec, 0));
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(http.timeoutSec, 0));
    params->setMaxKeepAliveRequests(1000);
    params->setServerName("taskengine");
    _impl->pool = std::make_unique<Poco::ThreadPool>(2, http.threads, 60);
    _impl->connections = new ApiConnectionFactory(params, new RouterFactory(_impl->context));
    _impl->server =
        std::make_unique<Poco::Net::TCPServer>(_impl->connections, *_impl->pool, socket, params);
    _impl->server->start();
    _impl->port = socket.address().port();
    Poco::Logger::get("http").information("REST API listening on %s:%d", http.host, _impl->port);
}

void HttpApi::stop() {
    if (!_impl->server) return;
    // Requests waiting for a job answer now, with the job as it is.
    _impl->waits->stop();
    // Let running requests finish for a moment, then cut idle keep-alive connections.
    _impl->stopAll(false);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (_impl->server->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    _impl->stopAll(true);
    _impl->server.reset();
    _impl->connections = nullptr;
    _impl->pool->joinAll();
    _impl->pool.reset();
}

int HttpApi::port() const { return _impl->port; }

}  // namespace te
