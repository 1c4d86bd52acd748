#include "tests/server/http/HttpTestClient.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <cppunit/extensions/HelperMacros.h>

#include <sstream>

namespace te::test {

std::string HttpReply::header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? "" : it->second;
}

Poco::Dynamic::Var HttpReply::json() const {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(body);
    } catch (const Poco::Exception& e) {
        CPPUNIT_FAIL("status " + std::to_string(status) + ", body is not JSON (" + e.displayText() +
                     "): " + body.substr(0, 300));
    }
    return {};
}

Poco::JSON::Object::Ptr HttpReply::object() const {
    Poco::Dynamic::Var v = json();
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) {
        CPPUNIT_FAIL("status " + std::to_string(status) + ", expected a JSON object: " + body);
    }
    return v.extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr HttpReply::array() const {
    Poco::Dynamic::Var v = json();
    if (v.type() != typeid(Poco::JSON::Array::Ptr)) {
        CPPUNIT_FAIL("status " + std::to_string(status) + ", expected a JSON array: " + body);
    }
    return v.extract<Poco::JSON::Array::Ptr>();
}

std::string HttpReply::error() const {
    Poco::JSON::Object::Ptr o = object();
    return o->has("error") ? o->getValue<std::string>("error") : "";
}

HttpTestClient::HttpTestClient(int port, std::string client, std::string key)
    : _port(port), _client(std::move(client)), _key(std::move(key)) {}

HttpTestClient::Headers HttpTestClient::credentials(const Headers& extra) const {
    Headers h = {{"client", _client}, {"api-key", _key}};
    for (const auto& [name, value] : extra) h[name] = value;
    return h;
}

HttpReply HttpTestClient::get(const std::string& path, const Headers& extra) const {
    return raw("GET", path, "", credentials(extra));
}

HttpReply HttpTestClient::post(const std::string& path, const std::string& body,
                               const Headers& extra) const {
    return raw("POST", path, body, credentials(extra));
}

HttpReply HttpTestClient::put(const std::string& path, const std::string& body,
                              const Headers& extra) const {
    return raw("PUT", path, body, credentials(extra));
}

HttpReply HttpTestClient::raw(const std::string& method, const std::string& path,
                              const std::string& body, const Headers& headers) const {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(_port));
    session.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty()) {
        if (!request.has("Content-Type")) request.setContentType("application/json");
        request.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    std::ostream& out = session.sendRequest(request);
    out << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpReply reply;
    reply.status = response.getStatus();
    Poco::StreamCopier::copyToString(in, reply.body);
    for (const auto& [name, value] : response) reply.headers[Poco::toLower(name)] = value;
    return reply;
}

long long HttpTestClient::submit(const std::string& workflow, const std::string& parametersJson,
                                 const std::string& jobExtraJson) const {
    std::string body = R"({"job": {"workflow": ")" + workflow + "\"" +
                       (jobExtraJson.empty() ? "" : ", " + jobExtraJson) +
                       "}, \"parameters\": " + parametersJson + "}";
    HttpReply r = post("/job", body);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("POST /job " + body + " -> " + r.body, 200, r.status);
    Poco::JSON::Object::Ptr o = r.object();
    CPPUNIT_ASSERT_EQUAL(std::string("accepted"), o->getValue<std::string>("result"));
    CPPUNIT_ASSERT_MESSAGE("id must be an integer: " + r.body, o->get("id").isInteger());
    return o->getValue<long long>("id");
}

std::string rawExchange(int port, const std::string& bytes) {
    Poco::Net::StreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    socket.setReceiveTimeout(Poco::Timespan(10, 0));
    socket.setSendTimeout(Poco::Timespan(10, 0));
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        int n = socket.sendBytes(bytes.data() + sent, static_cast<int>(bytes.size() - sent));
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    socket.shutdownSend();
    std::string out;
    char buffer[4096];
    try {
        int n = 0;
        while ((n = socket.receiveBytes(buffer, sizeof buffer)) > 0) out.append(buffer, n);
    } catch (const Poco::TimeoutException&) {
        out += "\n<timeout>";
    }
    return out;
}

int rawStatus(const std::string& response) {
    // "HTTP/1.1 404 Not Found"
    if (response.compare(0, 5, "HTTP/") != 0) return 0;
    std::size_t space = response.find(' ');
    if (space == std::string::npos) return 0;
    return std::atoi(response.c_str() + space + 1);
}

}  // namespace te::test
