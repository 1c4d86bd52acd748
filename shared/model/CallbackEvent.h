#pragma once

#include <cstdint>
#include <string>

#include "shared/model/Time.h"

namespace te {

// One row of the durable callback outbox: one event for one endpoint.
struct CallbackEvent {
    enum class State { Pending, Delivered, Dead };
    std::int64_t id = 0;
    std::int64_t jobId = 0;
    std::int64_t taskId = 0;
    std::string url;
    std::string headers;  // JSON object of extra headers (Workflow-Id, ...)
    std::string body;     // the JSON body, fixed when the event is written
    std::string client;   // whose signing key applies
    State state = State::Pending;
    int attempts = 0;
    std::string lastError;
    TimeMs createdAt = 0;
    TimeMs nextAttemptAt = 0;
    TimeMs deliveredAt = 0;
};

const char* toString(CallbackEvent::State s);

}  // namespace te
