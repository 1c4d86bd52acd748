#include "server/http/StatusHandler.h"

#include "server/engine/Engine.h"
#include "server/http/JsonViews.h"

namespace te {

void StatusHandler::handle(Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response) {
    if (_route.resource == Route::Resource::Root) {
        auto o = JsonViews::object();
        o->set("result", "alive");
        send(response, o);
        return;
    }
    std::string client = authenticate(request);
    if (_route.resource == Route::Resource::Health) {
        send(response, JsonViews::health(_context.engine.health()));
    } else {
        send(response, JsonViews::dashboard(_context.engine.dashboard(), client));
    }
}

}  // namespace te
