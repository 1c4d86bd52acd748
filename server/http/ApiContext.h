#pragma once

#include "server/http/Authenticator.h"
#include "server/http/JobWaits.h"
#include "shared/config/ServerConfig.h"

namespace te {

class Engine;

// What every handler needs, owned by HttpApi and shared (read-only) by all request threads.
// The Engine and the waits are thread-safe; the config and the authenticator are immutable
// after start.
struct ApiContext {
    const ServerConfig& config;
    Engine& engine;
    Authenticator authenticator;
    JobWaits& waits;
};

}  // namespace te
