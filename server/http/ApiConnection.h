#pragma once

#include <Poco/BasicEvent.h>
#include <Poco/Mutex.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>
#include <memory>

namespace te {

// One keep-alive HTTP connection of the REST API: POCO's HTTPServerConnection loop, with two
// differences that are why it exists.
// - A request POCO cannot parse (a bad request line, more than 100 header fields, a header
//   line too long, broken chunking) gets the API's JSON error, {"error": "..."} with 400,
//   where POCO answers a bare 400 with no body.
// - Between requests it waits with one poll(2). POCO 1.11's Socket::poll makes, waits on and
//   closes an epoll instance each time: four system calls a request, ~3% of the server's CPU
//   under load.
class ApiConnection : public Poco::Net::TCPServerConnection {
public:
    // Raised when the server stops (the argument: abort running requests too). POCO keeps
    // its own event of this kind for its own connection class.
    using StopEvent = Poco::BasicEvent<const bool>;

    ApiConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                  Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                  std::shared_ptr<StopEvent> stopping);
    ~ApiConnection() override;
    void run() override;

private:
    // The server stops: end after the running request (or at once, `abortCurrent`).
    void onServerStopped(const bool& abortCurrent);
    // Whether another request can be read within `timeout`: bytes already buffered by the
    // session count, and so does end of file or an error (reading then ends the loop).
    bool readable(int bufferedBytes, const Poco::Timespan& timeout);

    Poco::Net::HTTPServerParams::Ptr _params;
    Poco::Net::HTTPRequestHandlerFactory::Ptr _handlers;
    std::shared_ptr<StopEvent> _stopping;
    std::atomic<bool> _stopped{false};
    Poco::FastMutex _mutex;
};

class ApiConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
public:
    ApiConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                         Poco::Net::HTTPRequestHandlerFactory::Ptr handlers)
        : _params(std::move(params)), _handlers(std::move(handlers)) {}
    Poco::Net::TCPServerConnection* createConnection(
        const Poco::Net::StreamSocket& socket) override {
        return new ApiConnection(socket, _params, _handlers, _stopping);
    }
    // Ends the open connections: after their running request, or at once (abortCurrent).
    void stopConnections(bool abortCurrent) { (*_stopping)(this, abortCurrent); }

private:
    Poco::Net::HTTPServerParams::Ptr _params;
    Poco::Net::HTTPRequestHandlerFactory::Ptr _handlers;
    std::shared_ptr<ApiConnection::StopEvent> _stopping =
        std::make_shared<ApiConnection::StopEvent>();
};

}  // namespace te
