#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <map>
#include <string>

#include "server/http/ApiContext.h"
#include "server/http/ErrorMapping.h"
#include "server/http/Route.h"

namespace te {

// The base of every resource handler: checks the header limit, runs handle() under
// ErrorMapping, and offers authentication, body and query helpers. One instance per request
// (POCO's factory creates it), so members need no locking.
class ApiHandler : public Poco::Net::HTTPRequestHandler {
public:
    ApiHandler(ApiContext& context, Route route);
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) final;

protected:
    // Handles an allowed method of the route. Throws te::Error subclasses / HttpError.
    virtual void handle(Poco::Net::HTTPServerRequest& request,
                        Poco::Net::HTTPServerResponse& response) = 0;

    // The client of the `client` and `api-key` headers. Throws HttpError 401 when either is
    // missing or they do not match a configured client (the message does not say which).
    std::string authenticate(const Poco::Net::HTTPServerRequest& request) const;
    // The same with the client name given (POST /job may name it in the body).
    std::string authenticate(const std::string& client,
                             const Poco::Net::HTTPServerRequest& request) const;

    Poco::JSON::Object::Ptr readObject(Poco::Net::HTTPServerRequest& request) const;

    // Decoded query parameters. Throws HttpError 400 for a malformed query string or a name
    // given twice.
    static std::map<std::string, std::string> query(const Poco::Net::HTTPServerRequest& request);

    static void send(Poco::Net::HTTPServerResponse& response, const Poco::Dynamic::Var& body,
                     int status = 200);

    ApiContext& _context;
    const Route _route;
    ErrorMapping::Context _errors;  // handlers may set the 500 message
};

}  // namespace te
