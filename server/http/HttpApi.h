#pragma once

#include <memory>

#include "shared/config/ServerConfig.h"

namespace te {

class Engine;
class JobWaits;

// The REST API of the reference on POCO's TCPServer and HTTP parsing (ApiConnection): one handler
// per resource, one routing factory, errors mapped to status codes in one place.
class HttpApi {
public:
    // `waits`: GET /jobs/<id>?wait=; the engine's jobsEnded hook feeds it.
    HttpApi(const ServerConfig& config, Engine& engine, std::shared_ptr<JobWaits> waits);
    ~HttpApi();
    void start();  // binds config.http.host:port (port 0: a free one)
    void stop();   // ends the waits; stops accepting; waits for running requests briefly
    int port() const;

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace te
