#pragma once

#include "server/http/Authenticator.h"
#include "shared/config/ServerConfig.h"

namespace te {

class Engine;

// What every handler needs, owned by HttpApi and shared (read-only) by all request threads.
// The Engine is thread-safe; the config and the authenticator are immutable after start.
struct ApiContext {
    const ServerConfig& config;
    Engine& engine;
    Authenticator authenticator;
};

}  // namespace te
