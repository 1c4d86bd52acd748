#include "server/http/JobUpdateParser.h"

#include "server/http/FieldReader.h"
#include "shared/Errors.h"

namespace te {

JobUpdate JobUpdateParser::parse(const Poco::JSON::Object::Ptr& body, const std::string& client) {
    FieldReader fields(body);
    fields.rejectUnknown({"client", "queue_state", "run_at", "priority", "semaphore_url",
                          "sempahore_url", "persist"});
    std::optional<std::string> named = fields.string("client");
    if (named && *named != client) {
        throw ValidationError("client does not match the authenticated client");
    }
    JobUpdate u;
    if (std::optional<std::string> state = fields.string("queue_state")) {
        if (*state == "paused") {
            u.queueState = JobState::Paused;
        } else if (*state == "broken") {
            u.queueState = JobState::Broken;
        } else if (*state == "queued") {
            u.queueState = JobState::Queued;
        } else {
            throw ValidationError("queue_state must be paused, broken or queued");
        }
    }
    u.runAt = fields.time("run_at");
    u.priority = fields.integer("priority");
    u.semaphoreUrl = fields.url("semaphore_url");
    if (!u.semaphoreUrl) u.semaphoreUrl = fields.url("sempahore_url");
    u.persist = fields.boolean("persist");
    if (!u.queueState && !u.runAt && !u.priority && !u.semaphoreUrl && !u.persist) {
        throw ValidationError(
            "nothing to update: give queue_state, run_at, priority, semaphore_url or persist");
    }
    return u;
}

}  // namespace te
