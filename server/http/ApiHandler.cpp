#include "server/http/ApiHandler.h"

#include <Poco/Logger.h>
#include <Poco/URI.h>

#include <algorithm>

#include "server/http/HttpError.h"
#include "server/http/JsonResponse.h"
#include "server/http/RequestBody.h"

namespace te {
namespace {

const char* const kAuthFailed =
    "authentication failed: send the client and api-key headers of a configured client";

}  // namespace

ApiHandler::ApiHandler(ApiContext& context, Route route)
    : _context(context), _route(std::move(route)) {
    _errors.jobId = _route.jobId;
    _errors.drainCap = std::max<std::size_t>(16u << 20, 4u * context.config.http.maxBodyBytes);
}

void ApiHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                               Poco::Net::HTTPServerResponse& response) {
    try {
        ErrorMapping::run(request, response, _errors, [&] {
            if (static_cast<int>(request.size()) > _context.config.http.maxHeaders) {
                throw HttpError(400, "too many header fields: the limit is " +
                                         std::to_string(_context.config.http.maxHeaders));
            }
            handle(request, response);
        });
    } catch (const std::exception& e) {
        // Only sending the error itself can get here: the client is gone.
        Poco::Logger::get("http").debug("cannot send a response: %s", std::string(e.what()));
    }
}

std::string ApiHandler::authenticate(const Poco::Net::HTTPServerRequest& request) const {
    return authenticate(request.get("client", ""), request);
}

std::string ApiHandler::authenticate(const std::string& client,
                                     const Poco::Net::HTTPServerRequest& request) const {
    // A copy: get() returns its default by reference, here a temporary gone after this line.
    const std::string key = request.get("api-key", "");
    if (client.empty() || key.empty() || !_context.authenticator.verify(client, key)) {
        throw HttpError(401, kAuthFailed);
    }
    return client;
}

Poco::JSON::Object::Ptr ApiHandler::readObject(Poco::Net::HTTPServerRequest& request) const {
    return RequestBody::readObject(request, _context.config.http);
}

std::map<std::string, std::string> ApiHandler::query(const Poco::Net::HTTPServerRequest& request) {
    Poco::URI::QueryParameters pairs;
    try {
        pairs = Poco::URI(request.getURI()).getQueryParameters();
    } catch (const Poco::Exception&) {
        throw HttpError(400, "malformed query string");
    }
    std::map<std::string, std::string> out;
    for (const auto& [name, value] : pairs) {
        if (!out.emplace(name, value).second) {
            throw HttpError(
                400, "query parameter " + JsonResponse::printable(name) + " given more than once");
        }
    }
    return out;
}

void ApiHandler::send(Poco::Net::HTTPServerResponse& response, const Poco::Dynamic::Var& body,
                      int status) {
    JsonResponse::send(response, status, body);
}

}  // namespace te
