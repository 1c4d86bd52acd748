#include "bench/loadgen/ApiClient.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <stdexcept>

namespace te::bench {

ApiClient::ApiClient(const Target& target) : _target(target) {}

std::string ApiClient::request(const std::string& method, const std::string& path,
                               const std::string& body) {
    for (int attempt = 1;; ++attempt) {
        try {
            if (!_session) {
                _session = std::make_unique<Poco::Net::HTTPClientSession>(
                    _target.host, static_cast<Poco::UInt16>(_target.port));
                _session->setKeepAlive(true);
                _session->setTimeout(Poco::Timespan(30, 0));
            }
            Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
            req.setKeepAlive(true);
            req.set("client", _target.client);
            req.set("api-key", _target.apiKey);
            if (!body.empty()) {
                req.setContentType("application/json");
                req.setContentLength(static_cast<std::streamsize>(body.size()));
            }
            _session->sendRequest(req) << body;
            Poco::Net::HTTPResponse res;
            std::istream& in = _session->receiveResponse(res);
            std::string text;
            Poco::StreamCopier::copyToString(in, text);
            if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
                throw std::runtime_error(method + " " + path + ": HTTP " +
                                         std::to_string(static_cast<int>(res.getStatus())) + " " +
                                         text);
            }
            return text;
        } catch (const Poco::Exception& e) {
            _session.reset();
            if (attempt >= 2)
                throw std::runtime_error(method + " " + path + ": " + e.displayText());
        }
    }
}

std::int64_t ApiClient::submit(const std::string& workflow, const std::string& parametersJson) {
    std::string body = "{\"job\":{\"workflow\":\"" + workflow + "\"},\"parameters\":" +
                       (parametersJson.empty() ? std::string("{}") : parametersJson) + "}";
    std::string text = request("POST", "/job", body);
    Poco::JSON::Parser parser;
    auto obj = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    return obj->getValue<Poco::Int64>("id");
}

bool ApiClient::completed(std::int64_t id, bool* failed, int waitSec) {
    // A substring test, not a parse: the poll loop should cost the client as little as it can.
    std::string text = request(
        "GET",
        "/jobs/" + std::to_string(id) + (waitSec > 0 ? "?wait=" + std::to_string(waitSec) : ""),
        "");
    bool done = text.find("\"queue_state\":\"completed\"") != std::string::npos;
    if (done && failed) *failed = text.find("\"failed\":true") != std::string::npos;
    return done;
}

std::int64_t ApiClient::completedCount() {
    std::string text = request("GET", "/health", "");
    Poco::JSON::Parser parser;
    auto obj = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    return obj->getObject("jobs")->getValue<Poco::Int64>("completed");
}

bool ApiClient::anyUnfinished() {
    return request("GET", "/jobs?state=0,1&limit=1", "").find('{') != std::string::npos;
}

std::string ApiClient::get(const std::string& path) { return request("GET", path, ""); }

}  // namespace te::bench
