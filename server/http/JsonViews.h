#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <string>

#include "server/engine/Engine.h"

namespace te {

// The response shapes of the API reference, field by field and in its order.
class JsonViews {
public:
    enum class JobFields {
        Summary,  // /dashboard: no parameters (the dashboard is about the queue)
        Listed,   // GET /jobs: with parameters
        Full,     // GET /jobs/<id>: with top_of_queue and parameters
    };

    static Poco::JSON::Object::Ptr job(const JobView& view, JobFields fields);
    static Poco::JSON::Object::Ptr log(const LogEntry& entry);
    static Poco::JSON::Object::Ptr task(const Task& task);
    // {"class", "every": [N, {"first_in": M}], "queue", "description"}
    static Poco::JSON::Object::Ptr schedule(const Schedule& schedule);
    static Poco::JSON::Object::Ptr health(const HealthReport& report);
    static Poco::JSON::Object::Ptr dashboard(const Dashboard& dashboard, const std::string& client);

    // An object that keeps the order fields are set in.
    static Poco::JSON::Object::Ptr object();
};

}  // namespace te
