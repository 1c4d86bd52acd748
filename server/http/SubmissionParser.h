#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <string>

#include "server/engine/Engine.h"

namespace te {

// Turns a POST /job body into a Submission:
//   {"client"?: str, "job": {"workflow": str, "priority"?: int, "run_at"?: iso,
//    "semaphore_url"?: url, "persist"?: bool}, "parameters"?: {...}}
// Throws ValidationError naming the first field with a wrong type or an unknown name. Whether
// the workflow exists and has its inputs is the Engine's check.
class SubmissionParser {
public:
    static Submission parse(const Poco::JSON::Object::Ptr& body, const std::string& client,
                            const Poco::Net::HTTPServerRequest& request);

    // The reference's "job_created" api log message: path, remote_addr, the headers in Rack's
    // HTTP_X form with secrets masked, the body as parameters.
    static std::string requestLog(const Poco::JSON::Object::Ptr& body,
                                  const Poco::Net::HTTPServerRequest& request);

    // "********3e2d": all but the last 4 characters hidden (all of a short value).
    static std::string mask(const std::string& secret);
    // Invalid UTF-8 bytes replaced by U+FFFD, so header text can be stored and printed.
    static std::string validUtf8(const std::string& text);
};

}  // namespace te
