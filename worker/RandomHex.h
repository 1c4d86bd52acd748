#pragma once

#include <random>
#include <string>

namespace te {

// `digits` random hex digits, for names that must not collide with a previous run's
// (routing ids, task folders). Not for secrets.
inline std::string randomHex(int digits) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < digits; ++i) out += hex[rng() & 15];
    return out;
}

}  // namespace te
