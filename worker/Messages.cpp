#include "worker/Messages.h"

#include "shared/Version.h"
#include "shared/protocol/Protocol.h"
#include "shared/util/Json.h"
#include "worker/Platform.h"

namespace te::messages {

std::string ready(const WorkerConfig& config, const std::string& name,
                  const std::vector<long long>& running) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("name", name);
    body->set("host", platform::hostName());
    body->set("platform", std::string(platform::platformName()));
    body->set("queues", json::fromStringList(config.queues));
    body->set("slots", config.slots);
    body->set("version", std::string(kVersion));
    Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
    for (long long id : running) ids->add(id);
    body->set("running", ids);
    return json::stringify(body);
}

std::string started(long long taskId) { return "{\"task_id\":" + std::to_string(taskId) + "}"; }

std::string log(long long taskId, int severity, const std::string& message) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("task_id", taskId);
    body->set("severity", severity);
    body->set("message", message);
    return json::stringify(body);
}

const char* resultType(const TaskOutcome& outcome) {
    return outcome.ok ? protocol::kDone : protocol::kFailed;
}

std::string result(long long taskId, const TaskOutcome& outcome) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("task_id", taskId);
    Poco::Dynamic::Var code;
    if (outcome.exitCode) code = *outcome.exitCode;
    if (outcome.ok) {
        body->set("output", outcome.output ? outcome.output
                                           : Poco::JSON::Object::Ptr(new Poco::JSON::Object));
        body->set("spawn", outcome.spawn);
        body->set("exit_code", outcome.exitCode ? code : Poco::Dynamic::Var(0));
    } else {
        body->set("error", outcome.error);
        body->set("exit_code", code);
        body->set("requeue", outcome.requeue);
    }
    return json::stringify(body);
}

}  // namespace te::messages
