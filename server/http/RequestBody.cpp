#include "server/http/RequestBody.h"

#include <algorithm>
#include <istream>

#include "server/http/HttpError.h"
#include "shared/util/Json.h"

namespace te {
namespace {

HttpError tooLarge(const HttpConfig& limits) {
    return HttpError(413, "request body too large: the limit is " +
                              std::to_string(limits.maxBodyBytes) + " bytes");
}

}  // namespace

std::string RequestBody::read(Poco::Net::HTTPServerRequest& request, const HttpConfig& limits) {
    const auto max = static_cast<std::size_t>(limits.maxBodyBytes);
    if (request.hasContentLength() &&
        request.getContentLength64() > static_cast<Poco::Int64>(max)) {
        throw tooLarge(limits);
    }
    std::string body;
    std::istream& in = request.stream();
    char buffer[8192];
    // Never more than max + 1 bytes: enough to tell a chunked body is too large.
    while (true) {
        std::size_t want = std::min(sizeof buffer, max + 1 - body.size());
        if (in.read(buffer, static_cast<std::streamsize>(want)).gcount() <= 0) break;
        body.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (body.size() > max) throw tooLarge(limits);
    }
    return body;
}

Poco::JSON::Object::Ptr RequestBody::readObject(Poco::Net::HTTPServerRequest& request,
                                                const HttpConfig& limits) {
    std::string text = read(request, limits);
    // Say so plainly for a scalar or an array (POCO's parser has odd words for a top-level
    // scalar); syntax errors inside an object still come from the parser.
    std::size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') {
        throw ValidationError("malformed JSON: the body must be a JSON object");
    }
    return json::parseObject(text, static_cast<std::size_t>(limits.maxJsonDepth));
}

}  // namespace te
