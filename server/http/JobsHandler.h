#pragma once

#include "server/http/ApiHandler.h"

namespace te {

// POST /job, GET /jobs, GET and PUT /jobs/<id>, POST /jobs/<id>/rerun and the extensions
// GET /jobs/<id>/tasks and GET /jobs/<id>?wait=. Every one authenticates, and a client reaches only
// its own jobs: another client's id is a 404 exactly like a missing one (the Engine checks the
// owner).
class JobsHandler : public ApiHandler {
public:
    using ApiHandler::ApiHandler;

protected:
    void handle(Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response) override;

private:
    void submit(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
    void list(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
    void update(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
    void show(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
};

}  // namespace te
