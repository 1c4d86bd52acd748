#pragma once

#include <memory>
#include <string>

#include "shared/config/ServerConfig.h"

namespace te {

class Engine;
class Store;
class Dispatcher;

// The whole server in one object: store, workflows, engine, dispatcher, scheduler, callback
// sender and HTTP API. ServerApp (the executable) and the tests both use it. start() throws
// ConfigError / ValidationError / StoreError with one clear line when something is wrong.
class Server {
public:
    explicit Server(ServerConfig config);
    ~Server();  // stops if running

    void start();
    void stop();  // idempotent; stops in reverse order of start

    // After start(): the port HTTP really listens on (config port 0 picks a free one), and
    // the endpoint workers connect to ("tcp://127.0.0.1:N"; config "tcp://127.0.0.1:*" picks).
    int httpPort() const;
    std::string dispatchEndpoint() const;

    Engine& engine();
    Store& store();
    Dispatcher& dispatcher();
    const ServerConfig& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace te
