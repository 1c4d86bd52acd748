#include "server/callbacks/CallbackPoster.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <memory>

#include "server/callbacks/CallbackSignature.h"
#include "shared/Version.h"
#include "shared/util/Json.h"

namespace te {
namespace {

constexpr std::size_t kMaxErrorLength = 300;
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

std::string clip(std::string s) {
    if (s.size() > kMaxErrorLength) s.resize(kMaxErrorLength);
    return s;
}

}  // namespace

CallbackPoster::CallbackPoster(const ServerConfig& config)
    : _config(config.callbacks), _clients(config.clients) {
    // Client context, verify peers against the system's CA store: a callback may carry
    // content ids and a signature, it must reach the host it names.
    _tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                  Poco::Net::Context::VERIFY_RELAXED, 9, true);
}

std::string CallbackPoster::secretOf(const std::string& client) const {
    for (const auto& c : _clients) {
        if (c.name == client) return c.callbackSecret;
    }
    return "";
}

PostResult CallbackPoster::post(const CallbackEvent& event) const {
    PostResult result;
    try {
        Poco::URI uri(event.url);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            session =
                std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), _tls);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        }
        session->setTimeout(Poco::Timespan(_config.timeoutSec, 0));
        session->setKeepAlive(false);

        std::string path = uri.getPathAndQuery();
        if (path.empty()) path = "/";
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType("application/json");
        request.setContentLength(static_cast<std::streamsize>(event.body.size()));
        request.set("User-Agent", std::string("TaskEngine/") + kVersion);
        for (const auto& [name, value] : json::toStringMap(json::objectOrEmpty(event.headers))) {
            request.set(name, value);
        }
        std::string secret = secretOf(event.client);
        if (!secret.empty()) {
            std::int64_t t = Poco::Timestamp().epochTime();
            request.set(_config.signatureHeader, CallbackSignature::header(secret, t, event.body));
        }

        session->sendRequest(request) << event.body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        // The answer's body means nothing to us; read a little so the receiver is not cut off
        // mid-write, but never let an endless answer hold a delivery thread.
        char buffer[4096];
        std::size_t total = 0;
        while (total < kMaxAnswerBytes && in.read(buffer, sizeof buffer)) total += sizeof buffer;

        result.status = static_cast<int>(response.getStatus());
        result.delivered = result.status >= 200 && result.status < 300;
        if (!result.delivered) result.error = "HTTP " + std::to_string(result.status);
    } catch (const Poco::Net::ConnectionRefusedException&) {
        result.error = "connection refused";
    } catch (const Poco::TimeoutException&) {
        result.error = "timeout after " + std::to_string(_config.timeoutSec) + " s";
    } catch (const Poco::Exception& e) {
        result.error = clip(e.displayText());
    } catch (const std::exception& e) {
        result.error = clip(e.what());
    }
    return result;
}

}  // namespace te
