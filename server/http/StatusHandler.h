#pragma once

#include "server/http/ApiHandler.h"

namespace te {

// GET / (alive, no authentication), GET /health and GET /dashboard.
class StatusHandler : public ApiHandler {
public:
    using ApiHandler::ApiHandler;

protected:
    void handle(Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response) override;
};

}  // namespace te
