#pragma once

#include <cstdint>
#include <vector>

#include "server/engine/EngineImpl.h"

namespace te {

// What one engine transaction decided that the rest of the server must act on after commit.
struct EngineImpl::Effects {
    bool tasksReady = false;
    bool callbacksReady = false;
    bool slotFreed = false;  // a started job ended or stepped aside: run admission again
    std::vector<std::int64_t> cancel;
};

}  // namespace te
