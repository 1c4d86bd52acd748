#include "shared/model/Time.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/Timestamp.h>

#include <regex>

namespace te {

TimeMs nowMs() { return Poco::Timestamp().epochMicroseconds() / 1000; }

std::string formatIso(TimeMs t) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp(t * 1000), "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string formatIsoSeconds(TimeMs t) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp(t * 1000), "%Y-%m-%dT%H:%M:%SZ");
}

std::optional<TimeMs> parseIso(const std::string& text) {
    // Poco's parser is lenient about trailing garbage; the regex keeps hostile strings out.
    static const std::regex form(
        R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?)");
    if (text.size() > 40 || !std::regex_match(text, form)) return std::nullopt;
    try {
        int tzd = 0;
        Poco::DateTime dt;
        if (!Poco::DateTimeParser::tryParse(text, dt, tzd)) return std::nullopt;
        dt.makeUTC(tzd);
        return dt.timestamp().epochMicroseconds() / 1000;
    } catch (const Poco::Exception&) {
        return std::nullopt;
    }
}

}  // namespace te
