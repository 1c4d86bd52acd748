#pragma once

#include <Poco/Net/Context.h>

#include <string>

#include "shared/config/ServerConfig.h"
#include "shared/model/CallbackEvent.h"

namespace te {

// What one delivery attempt came to.
struct PostResult {
    bool delivered = false;  // the receiver answered 2xx
    int status = 0;          // HTTP status; 0 when there was no answer
    std::string error;       // "HTTP 500", "connection refused", "timeout", ...; empty if delivered
};

// Makes one POST of one outbox event: HTTP or HTTPS (certificates verified against the system
// CAs), the configured timeout for connect, send and receive, Content-Type application/json,
// the event's headers, and the signature header when the client has a secret. Never throws;
// every failure is a PostResult with an error. Thread-safe: each call uses its own session.
class CallbackPoster {
public:
    CallbackPoster(const ServerConfig& config);
    PostResult post(const CallbackEvent& event) const;

private:
    std::string secretOf(const std::string& client) const;

    CallbackConfig _config;
    std::vector<ClientConfig> _clients;
    Poco::Net::Context::Ptr _tls;
};

}  // namespace te
