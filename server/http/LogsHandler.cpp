#include "server/http/LogsHandler.h"

#include "server/engine/Engine.h"
#include "server/http/JsonViews.h"

namespace te {

void LogsHandler::handle(Poco::Net::HTTPServerRequest& request,
                         Poco::Net::HTTPServerResponse& response) {
    std::string client = authenticate(request);
    Poco::JSON::Array::Ptr entries = new Poco::JSON::Array;
    for (const LogEntry& e : _context.engine.logs(client, _route.jobId)) {
        entries->add(JsonViews::log(e));
    }
    send(response, entries);
}

}  // namespace te
