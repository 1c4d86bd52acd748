#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace te {

// Every timestamp in the project is milliseconds since the Unix epoch, UTC. The store keeps them
// as BIGINT so both backends compare and index them the same way.
using TimeMs = std::int64_t;

TimeMs nowMs();

// "2020-09-24T11:55:33.755Z", the form of the API reference.
std::string formatIso(TimeMs t);
// "2020-09-24T11:55:33Z", the form of the callbacks' datetime.
std::string formatIsoSeconds(TimeMs t);

// Accepts "yyyy-MM-ddTHH:mm:ss[.fff][Z|+hh:mm]" and "yyyy-MM-dd"; a time without a zone is UTC
// (the reference says run_at "must be in UTC"). Returns nullopt for anything else.
std::optional<TimeMs> parseIso(const std::string& text);

}  // namespace te
