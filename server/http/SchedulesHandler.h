#pragma once

#include "server/http/ApiHandler.h"

namespace te {

// GET /schedules (the active schedules) and PUT /scheduler {"schedule", "active"}.
class SchedulesHandler : public ApiHandler {
public:
    using ApiHandler::ApiHandler;

protected:
    void handle(Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response) override;
};

}  // namespace te
