#pragma once

#include <cstdint>
#include <string>

namespace te {

// The signature a client with a callback_secret receives on every callback, in the header
// CallbackConfig::signatureHeader (default X-TaskEngine-Signature):
//
//     t=<unix seconds>,v1=<lower-case hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The scheme of Stripe's webhooks: the timestamp is signed with the body, so a receiver
// checks both who sent the request and how old it is (it should refuse a t more than a few
// minutes off, which stops replays). t is the time of the attempt, not of the event, so a
// retried callback carries a fresh one. Stateless and thread-safe.
class CallbackSignature {
public:
    // Hex HMAC-SHA256 of "<unixSeconds>.<body>" keyed with secret.
    static std::string digest(const std::string& secret, std::int64_t unixSeconds,
                              const std::string& body);
    // The full header value "t=...,v1=...".
    static std::string header(const std::string& secret, std::int64_t unixSeconds,
                              const std::string& body);
    // Parses a header value and checks the digest and that |now - t| <= toleranceSec.
    static bool verify(const std::string& headerValue, const std::string& secret,
                       const std::string& body, std::int64_t nowSeconds, int toleranceSec = 300);
};

}  // namespace te
