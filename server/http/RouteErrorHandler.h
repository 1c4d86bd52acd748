#pragma once

#include <Poco/Net/HTTPRequestHandler.h>

#include <string>

#include "server/http/ErrorMapping.h"

namespace te {

// Answers a request no resource handler takes: 404 for an unknown path, 405 (with Allow) for a
// known path and another method, 400 for a URI that cannot be parsed. The routing factory
// returns it instead of nullptr, for which POCO would answer 501.
class RouteErrorHandler : public Poco::Net::HTTPRequestHandler {
public:
    RouteErrorHandler(int status, std::string message, std::string allow = "");
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override;

private:
    int _status;
    std::string _message;
    std::string _allow;
};

}  // namespace te
