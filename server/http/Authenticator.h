#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "shared/config/ServerConfig.h"

namespace te {

// Checks a client name and API key against the configured clients. Keys are kept only as
// SHA-256 digests and compared in constant time, so neither the stored keys nor the timing of
// a wrong guess tell anything about a key. Immutable after construction; thread-safe.
class Authenticator {
public:
    using Digest = std::array<unsigned char, 32>;

    // Clients with neither api_key nor a valid api_key_sha256 can never authenticate.
    explicit Authenticator(const std::vector<ClientConfig>& clients);

    // True when `key` is the key of `client`. Does the same work for an unknown client.
    bool verify(const std::string& client, const std::string& key) const;

    static Digest sha256(const std::string& text);
    // "ab01..." (64 hex digits, either case) -> digest; false when malformed.
    static bool fromHex(const std::string& hex, Digest& out);

private:
    std::map<std::string, Digest> _digests;
    Digest _dummy{};
};

}  // namespace te
