#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "server/http/ApiContext.h"

namespace te {

// The one routing table: maps a request's path and method to a new handler of its resource.
// Never returns nullptr (POCO would answer 501): unknown paths get a 404 handler, known paths
// with another method a 405 one. Called from the HTTP threads concurrently; stateless.
class RouterFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit RouterFactory(ApiContext& context);
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest& request) override;

private:
    ApiContext& _context;
};

}  // namespace te
