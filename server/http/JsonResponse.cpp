#include "server/http/JsonResponse.h"

#include <Poco/JSON/Object.h>

#include "shared/util/Json.h"

namespace te {

void JsonResponse::send(Poco::Net::HTTPServerResponse& response, int status,
                        const Poco::Dynamic::Var& body) {
    sendText(response, status, json::stringify(body));
}

void JsonResponse::sendText(Poco::Net::HTTPServerResponse& response, int status,
                            const std::string& text) {
    // setStatus alone would leave the reason phrase "OK" on an error.
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("application/json");
    response.setContentLength64(static_cast<Poco::Int64>(text.size()));
    response.sendBuffer(text.data(), text.size());
}

void JsonResponse::sendError(Poco::Net::HTTPServerResponse& response, int status,
                             const std::string& message, long long idOrZero) {
    sendText(response, status, errorText(message, idOrZero));
}

std::string JsonResponse::errorText(const std::string& message, long long idOrZero) {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    if (idOrZero != 0) body->set("id", static_cast<Poco::Int64>(idOrZero));
    body->set("error", message);
    return json::stringify(body);
}

std::string JsonResponse::printable(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (out.size() >= 80) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    return out;
}

}  // namespace te
