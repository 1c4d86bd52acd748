#include "server/http/RouteErrorHandler.h"

#include <Poco/Logger.h>

namespace te {

RouteErrorHandler::RouteErrorHandler(int status, std::string message, std::string allow)
    : _status(status), _message(std::move(message)), _allow(std::move(allow)) {}

void RouteErrorHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                                      Poco::Net::HTTPServerResponse& response) {
    try {
        ErrorMapping::sendError(request, response, ErrorMapping::Context(), _status, _message, 0,
                                _allow);
    } catch (const std::exception& e) {
        Poco::Logger::get("http").debug("cannot send a response: %s", std::string(e.what()));
    }
}

}  // namespace te
