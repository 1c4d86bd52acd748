#include "server/http/RouterFactory.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/URI.h>

#include "server/http/JobsHandler.h"
#include "server/http/JsonResponse.h"
#include "server/http/LogsHandler.h"
#include "server/http/RouteErrorHandler.h"
#include "server/http/SchedulesHandler.h"
#include "server/http/SettingsHandler.h"
#include "server/http/StatusHandler.h"

namespace te {

RouterFactory::RouterFactory(ApiContext& context) : _context(context) {}

Poco::Net::HTTPRequestHandler* RouterFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest& request) {
    std::string path;
    try {
        path = Poco::URI(request.getURI()).getPath();
    } catch (const Poco::Exception&) {
        return new RouteErrorHandler(400, "malformed request URI");
    }
    Route route = Route::match(path);
    const std::string& method = request.getMethod();
    if (route.resource == Route::Resource::None) {
        return new RouteErrorHandler(404, "not found: " + JsonResponse::printable(method) + " " +
                                              JsonResponse::printable(path));
    }
    if (!route.allows(method)) {
        return new RouteErrorHandler(
            405, "method " + JsonResponse::printable(method) + " not allowed; use " + route.allow,
            route.allow);
    }
    using R = Route::Resource;
    switch (route.resource) {
        case R::Root:
        case R::Health:
        case R::Dashboard:
            return new StatusHandler(_context, route);
        case R::Logs:
            return new LogsHandler(_context, route);
        case R::Schedules:
        case R::Scheduler:
            return new SchedulesHandler(_context, route);
        case R::Settings:
            return new SettingsHandler(_context, route);
        default:
            return new JobsHandler(_context, route);
    }
}

}  // namespace te
