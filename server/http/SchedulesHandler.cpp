#include "server/http/SchedulesHandler.h"

#include "server/engine/Engine.h"
#include "server/http/FieldReader.h"
#include "server/http/JsonViews.h"
#include "shared/Errors.h"

namespace te {

void SchedulesHandler::handle(Poco::Net::HTTPServerRequest& request,
                              Poco::Net::HTTPServerResponse& response) {
    authenticate(request);
    auto o = JsonViews::object();
    o->set("result", "ok");
    if (_route.resource == Route::Resource::Schedules) {
        auto schedules = JsonViews::object();
        for (const Schedule& s : _context.engine.schedules()) {
            if (s.active) schedules->set(s.name, JsonViews::schedule(s));
        }
        o->set("schedules", schedules);
        send(response, o);
        return;
    }
    FieldReader fields(readObject(request));
    fields.rejectUnknown({"schedule", "active"});
    std::optional<std::string> name = fields.string("schedule");
    std::optional<bool> active = fields.boolean("active");
    if (!name || name->empty()) throw ValidationError("schedule is required");
    if (!active) throw ValidationError("active is required: true or false");
    std::vector<std::string> names;
    try {
        names = _context.engine.setScheduleActive(*name, *active);
    } catch (const NotFoundError&) {
        // The schedule is a body field, not the resource: the reference answers 400.
        throw ValidationError("unknown schedule " + *name);
    }
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& n : names) list->add(n);
    o->set("schedules", list);
    send(response, o);
}

}  // namespace te
