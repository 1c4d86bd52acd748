#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <string>

namespace te {

// Sends a JSON value with Content-Type application/json and Content-Length, in one write.
class JsonResponse {
public:
    static void send(Poco::Net::HTTPServerResponse& response, int status,
                     const Poco::Dynamic::Var& body);
    // {"error": message} plus "id" when idOrZero is non-zero.
    static void sendError(Poco::Net::HTTPServerResponse& response, int status,
                          const std::string& message, long long idOrZero = 0);
    // That body as text, for a connection that answers without a handler (ApiConnection).
    static std::string errorText(const std::string& message, long long idOrZero = 0);
    // Makes text safe to echo in a message: printable ASCII only, at most 80 characters.
    // Query strings and header values may hold anything, including invalid UTF-8.
    static std::string printable(const std::string& text);

private:
    static void sendText(Poco::Net::HTTPServerResponse& response, int status,
                         const std::string& text);
};

}  // namespace te
