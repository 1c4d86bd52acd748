#include "server/callbacks/CallbackSignature.h"

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StringTokenizer.h>

#include <cstdlib>

namespace te {
namespace {

// POCO 1.11's SHA2Engine lacks the BLOCK_SIZE/DIGEST_SIZE that HMACEngine needs (1.12 adds
// SHA2Engine256 for this); these are SHA-256's.
class Sha256Engine : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256Engine() : Poco::SHA2Engine(SHA_256) {}
};

// Compares in time independent of where the strings differ, so the digest cannot be probed.
bool constantTimeEqual(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
    return diff == 0;
}

}  // namespace

std::string CallbackSignature::digest(const std::string& secret, std::int64_t unixSeconds,
                                      const std::string& body) {
    Poco::HMACEngine<Sha256Engine> hmac(secret);
    hmac.update(std::to_string(unixSeconds));
    hmac.update('.');
    hmac.update(body);
    return Poco::DigestEngine::digestToHex(hmac.digest());
}

std::string CallbackSignature::header(const std::string& secret, std::int64_t unixSeconds,
                                      const std::string& body) {
    return "t=" + std::to_string(unixSeconds) + ",v1=" + digest(secret, unixSeconds, body);
}

bool CallbackSignature::verify(const std::string& headerValue, const std::string& secret,
                               const std::string& body, std::int64_t nowSeconds, int toleranceSec) {
    Poco::StringTokenizer parts(headerValue, ",", Poco::StringTokenizer::TOK_TRIM);
    std::string t, v1;
    for (const auto& part : parts) {
        if (part.rfind("t=", 0) == 0) t = part.substr(2);
        if (part.rfind("v1=", 0) == 0) v1 = part.substr(3);
    }
    Poco::Int64 ts = 0;
    if (t.empty() || v1.empty() || !Poco::NumberParser::tryParse64(t, ts)) return false;
    if (std::llabs(nowSeconds - ts) > toleranceSec) return false;
    return constantTimeEqual(digest(secret, ts, body), v1);
}

}  // namespace te
