#include "server/http/Authenticator.h"

#include <Poco/Logger.h>
#include <Poco/SHA2Engine.h>

namespace te {

Authenticator::Authenticator(const std::vector<ClientConfig>& clients) {
    for (const auto& c : clients) {
        Digest d{};
        if (!c.apiKeySha256.empty()) {
            if (!fromHex(c.apiKeySha256, d)) {
                Poco::Logger::get("http").warning(
                    "client %s: api_key_sha256 is not 64 hex digits; "
                    "it cannot authenticate",
                    c.name);
                continue;
            }
        } else if (!c.apiKey.empty()) {
            d = sha256(c.apiKey);
        } else {
            continue;
        }
        _digests[c.name] = d;
    }
    // Compared against when the client is unknown, so that path costs the same.
    _dummy = sha256("no such client");
}

bool Authenticator::verify(const std::string& client, const std::string& key) const {
    Digest given = sha256(key);
    auto it = _digests.find(client);
    const Digest& expected = it == _digests.end() ? _dummy : it->second;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ expected[i];
    return it != _digests.end() && !key.empty() && diff == 0;
}

Authenticator::Digest Authenticator::sha256(const std::string& text) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(text);
    const Poco::DigestEngine::Digest& d = engine.digest();
    Digest out{};
    for (std::size_t i = 0; i < out.size() && i < d.size(); ++i) out[i] = d[i];
    return out;
}

bool Authenticator::fromHex(const std::string& hex, Digest& out) {
    if (hex.size() != out.size() * 2) return false;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return true;
}

}  // namespace te
