#pragma once

#include "server/http/ApiHandler.h"

namespace te {

// POST /settings {"name", "setting"}: creates or updates one engine setting.
class SettingsHandler : public ApiHandler {
public:
    using ApiHandler::ApiHandler;

protected:
    void handle(Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response) override;
};

}  // namespace te
