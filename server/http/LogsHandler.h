#pragma once

#include "server/http/ApiHandler.h"

namespace te {

// GET /logs/<job id>: the job's log entries, oldest first, in the reference's shape.
class LogsHandler : public ApiHandler {
public:
    using ApiHandler::ApiHandler;

protected:
    void handle(Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response) override;
};

}  // namespace te
