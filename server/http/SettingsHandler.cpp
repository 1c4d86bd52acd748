#include "server/http/SettingsHandler.h"

#include "server/engine/Engine.h"
#include "server/http/FieldReader.h"
#include "server/http/JsonViews.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te {
namespace {

// Setting names become keys in the store and in /health: keep them plain.
bool validName(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

void SettingsHandler::handle(Poco::Net::HTTPServerRequest& request,
                             Poco::Net::HTTPServerResponse& response) {
    authenticate(request);
    Poco::JSON::Object::Ptr body = readObject(request);
    FieldReader fields(body);
    fields.rejectUnknown({"name", "setting"});
    std::optional<std::string> name = fields.string("name");
    if (!name || !validName(*name)) {
        throw ValidationError("name must be a setting name of letters, digits, _ - or .");
    }
    if (!body->has("setting")) throw ValidationError("setting is required");
    Poco::Dynamic::Var value = body->get("setting");
    // The reference's sample sends "4"; a number works too.
    std::string text;
    if (value.isString()) {
        text = fields.string("setting").value();
    } else if (value.isNumeric() && !value.isBoolean()) {
        text = json::toArgString(value);
    } else {
        throw ValidationError("setting must be a string or a number");
    }
    if (text.size() > 1024) throw ValidationError("setting must be at most 1024 characters");
    _context.engine.putSetting(*name, text);
    auto o = JsonViews::object();
    o->set("result", "ok");
    o->set("message", *name + " setting created/updated");
    send(response, o);
}

}  // namespace te
