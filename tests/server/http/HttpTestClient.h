#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <map>
#include <string>

namespace te::test {

// One HTTP answer, read in full.
struct HttpReply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased

    std::string header(const std::string& lowerName) const;
    // The body parsed as JSON; CppUnit failure (with the body) when it is not JSON.
    Poco::Dynamic::Var json() const;
    Poco::JSON::Object::Ptr object() const;
    Poco::JSON::Array::Ptr array() const;
    // The "error" text of an error answer, "" when absent.
    std::string error() const;
};

// A client for the tests: real HTTP over 127.0.0.1 through Poco's HTTPClientSession, a new
// connection per request, 10 s timeouts so a hung server fails a test instead of hanging it.
class HttpTestClient {
public:
    using Headers = std::map<std::string, std::string>;

    HttpTestClient(int port, std::string client, std::string key);

    // With the client and api-key headers of this client added (unless `extra` sets them).
    HttpReply get(const std::string& path, const Headers& extra = {}) const;
    HttpReply post(const std::string& path, const std::string& body,
                   const Headers& extra = {}) const;
    HttpReply put(const std::string& path, const std::string& body,
                  const Headers& extra = {}) const;
    // Exactly these headers, no credentials added. body "" sends no body.
    HttpReply raw(const std::string& method, const std::string& path, const std::string& body,
                  const Headers& headers) const;

    // POST /job of {"job": {"workflow": workflow}, "parameters": parameters}; asserts a 200 and
    // returns the new id.
    long long submit(const std::string& workflow, const std::string& parametersJson = "{}",
                     const std::string& jobExtraJson = "") const;

    const std::string& client() const { return _client; }
    const std::string& key() const { return _key; }
    int port() const { return _port; }

private:
    Headers credentials(const Headers& extra) const;
    int _port;
    std::string _client;
    std::string _key;
};

// Sends `bytes` as they are over a plain TCP connection and returns what comes back until the
// server closes or 10 s pass. For requests HTTPClientSession will not send (bad encodings,
// broken chunking, hundreds of headers).
std::string rawExchange(int port, const std::string& bytes);
// The status code of the first response line of rawExchange's result; 0 when none.
int rawStatus(const std::string& response);

}  // namespace te::test
