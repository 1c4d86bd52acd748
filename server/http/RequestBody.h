#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <string>

#include "shared/config/ServerConfig.h"

namespace te {

// Reads a request body under the limits of HttpConfig.
class RequestBody {
public:
    // The raw body. Throws HttpError 413 when Content-Length says more than maxBodyBytes, or
    // when a chunked body goes past it (at most maxBodyBytes + 1 bytes are read).
    static std::string read(Poco::Net::HTTPServerRequest& request, const HttpConfig& limits);
    // read() parsed as a JSON object no deeper than maxJsonDepth. Throws ValidationError for
    // malformed JSON, invalid UTF-8, too deep nesting or a non-object.
    static Poco::JSON::Object::Ptr readObject(Poco::Net::HTTPServerRequest& request,
                                              const HttpConfig& limits);
};

}  // namespace te
