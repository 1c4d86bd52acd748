#pragma once

#include <memory>

#include "shared/config/ServerConfig.h"

namespace te {

class Engine;

// The REST API of the reference on POCO's TCPServer and HTTP parsing (ApiConnection): one handler
// per resource, one routing factory, errors mapped to status codes in one place.
class HttpApi {
public:
    HttpApi(const ServerConfig& config, Engine& engine);
    ~HttpApi();
    void start();  // binds config.http.host:port (port 0: a free one)
    void stop();   // stops accepting; waits for running requests briefly
    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace te
