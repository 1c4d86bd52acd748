#include "worker/Assignment.h"

#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te {
namespace {

Poco::JSON::Object::Ptr objectField(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
    if (!obj->has(key) || obj->isNull(key)) return new Poco::JSON::Object;
    auto value = obj->getObject(key);
    if (!value) throw ValidationError("ASSIGN: " + key + " must be an object");
    return value;
}

Poco::JSON::Array::Ptr arrayField(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
    if (!obj->has(key) || obj->isNull(key)) return new Poco::JSON::Array;
    auto value = obj->getArray(key);
    if (!value) throw ValidationError("ASSIGN: " + key + " must be an array");
    return value;
}

std::string stringField(const Poco::JSON::Object::Ptr& obj, const std::string& key) {
    if (!obj->has(key) || obj->isNull(key)) return "";
    return obj->get(key).convert<std::string>();
}

}  // namespace

Assignment Assignment::parse(const std::string& text) {
    auto obj = json::parseObject(text);
    Assignment a;
    try {
        if (!obj->has("task_id")) throw ValidationError("ASSIGN: task_id is missing");
        a.taskId = obj->get("task_id").convert<long long>();
        if (obj->has("job_id") && !obj->isNull("job_id"))
            a.jobId = obj->get("job_id").convert<long long>();
        a.name = stringField(obj, "name");
        a.queue = stringField(obj, "queue");
        a.builtin = stringField(obj, "builtin");
        a.command = stringField(obj, "command");
        a.args = json::toStringList(arrayField(obj, "args"));
        a.inputs = json::toStringMap(objectField(obj, "inputs"));
        a.envInputs = json::toStringList(arrayField(obj, "env_inputs"));
        a.env = json::toStringMap(objectField(obj, "env"));
        if (obj->has("timeout") && !obj->isNull("timeout"))
            a.timeoutSec = obj->get("timeout").convert<int>();
    } catch (const Poco::Exception& e) {
        throw ValidationError("ASSIGN: " + e.displayText());
    }
    return a;
}

}  // namespace te
