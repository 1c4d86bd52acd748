#include "server/http/ApiConnection.h"

#include <Poco/Delegate.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include "server/http/JsonResponse.h"

namespace te {
namespace {

// HTTPSession keeps what it has read ahead to itself; the wait between requests needs it.
class Session : public Poco::Net::HTTPServerSession {
public:
    using HTTPServerSession::HTTPServerSession;
    int bytesBuffered() const { return buffered(); }
};

using Clock = std::chrono::steady_clock;

// Whether `fd` has something to read (data, end of file or an error) before `deadline`.
bool readableBy(int fd, Clock::time_point deadline) {
    pollfd p{fd, POLLIN, 0};
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        const int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left)));
        if (n > 0) return true;
        if (n == 0 || errno != EINTR) return false;
    }
}

// Bytes of a refused request read and dropped after the answer, at most, and for how long.
constexpr int kDrainBytes = 1 << 20;
constexpr int kDrainMs = 1000;

// Answers on a connection that will be closed: for what the parser or no handler refused.
// What the client sent past the point of refusal is read and dropped before the close: a
// socket closed with unread input sends a reset, and the client would lose the answer.
void sendError(Session& session, Poco::Net::HTTPResponse::HTTPStatus status,
               const std::string& message) {
    const std::string text = JsonResponse::errorText(message);
    {
        // Not JsonResponse::send: sendBuffer leaves out the body of a response that has no
        // request (here the request could not be read), and holds the header back until the
        // response is destroyed.
        Poco::Net::HTTPServerResponseImpl response(session);
        response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
        response.setKeepAlive(false);
        response.setStatusAndReason(status);
        response.setContentType("application/json");
        response.setContentLength64(static_cast<Poco::Int64>(text.size()));
        std::ostream& out = response.send();
        out << text;
        out.flush();
    }
    session.setKeepAlive(false);
    Poco::Net::StreamSocket& socket = session.socket();
    socket.shutdownSend();
    const int fd = socket.impl()->sockfd();
    char buffer[8192];
    const auto deadline = Clock::now() + std::chrono::milliseconds(kDrainMs);
    for (int dropped = 0; dropped < kDrainBytes && readableBy(fd, deadline);) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;  // the client has read the answer and closed
        dropped += static_cast<int>(n);
    }
}

}  // namespace

ApiConnection::ApiConnection(const Poco::Net::StreamSocket& socket,
                             Poco::Net::HTTPServerParams::Ptr params,
                             Poco::Net::HTTPRequestHandlerFactory::Ptr handlers,
                             std::shared_ptr<StopEvent> stopping)
    : TCPServerConnection(socket),
      _params(std::move(params)),
      _handlers(std::move(handlers)),
      _stopping(std::move(stopping)) {
    *_stopping += Poco::delegate(this, &ApiConnection::onServerStopped);
}

ApiConnection::~ApiConnection() {
    try {
        *_stopping -= Poco::delegate(this, &ApiConnection::onServerStopped);
    } catch (...) {
    }
}

bool ApiConnection::readable(int bufferedBytes, const Poco::Timespan& timeout) {
    // Data, end of file or an error: the read that follows tells.
    return bufferedBytes > 0 ||
           readableBy(socket().impl()->sockfd(),
                      Clock::now() + std::chrono::microseconds(timeout.totalMicroseconds()));
}

void ApiConnection::run() {
    const std::string server = _params->getSoftwareVersion();
    Session session(socket(), _params);
    const int maxRequests = _params->getMaxKeepAliveRequests();
    int served = 0;
    // The first request may take the whole timeout to arrive, the next ones the keep-alive's.
    bool more = readable(0, _params->getTimeout());
    while (more && !_stopped) {
        ++served;
        const bool canKeepAlive = maxRequests <= 0 || served < maxRequests;
        try {
            Poco::FastMutex::ScopedLock lock(_mutex);
            if (_stopped) break;
            Poco::Net::HTTPServerResponseImpl response(session);
            Poco::Net::HTTPServerRequestImpl request(response, session, _params);
            response.setDate(Poco::Timestamp());
            response.setVersion(request.getVersion());
            response.setKeepAlive(_params->getKeepAlive() && request.getKeepAlive() &&
                                  canKeepAlive);
            if (!server.empty()) response.set("Server", server);
            try {
                std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
                    _handlers->createRequestHandler(request));
                if (handler) {
                    if (request.getExpectContinue() &&
                        response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK) {
                        response.sendContinue();
                    }
                    handler->handleRequest(request, response);
                    session.setKeepAlive(_params->getKeepAlive() && response.getKeepAlive() &&
                                         canKeepAlive);
                } else {
                    sendError(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED,
                              "no handler for this request");
                }
            } catch (const Poco::Exception& e) {
                // The handlers answer their own errors: this is a fault past them, or the
                // client is gone. Either way the connection ends here.
                Poco::Logger::get("http").error("request failed: %s", e.displayText());
                if (!response.sent()) {
                    try {
                        sendError(session, Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR,
                                  "internal error");
                    } catch (...) {
                    }
                }
                return;
            }
        } catch (const Poco::Net::NoMessageException&) {
            break;  // the client closed the connection between requests
        } catch (const Poco::Net::MessageException& e) {
            sendError(
                session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST,
                "malformed HTTP request: " +
                    JsonResponse::printable(e.message().empty() ? e.displayText() : e.message()));
        } catch (const Poco::Exception&) {
            if (session.networkException()) session.networkException()->rethrow();
            throw;
        }
        more = session.getKeepAlive() && canKeepAlive &&
               readable(session.bytesBuffered(), _params->getKeepAliveTimeout());
    }
}

void ApiConnection::onServerStopped(const bool& abortCurrent) {
    _stopped = true;
    // A shutdown wakes the wait between requests (end of file), so the thread ends. Without
    // abortCurrent, only once the running request is answered.
    std::unique_ptr<Poco::FastMutex::ScopedLock> lock;
    if (!abortCurrent) lock = std::make_unique<Poco::FastMutex::ScopedLock>(_mutex);
    try {
        socket().shutdown();
    } catch (...) {
    }
}

}  // namespace te
