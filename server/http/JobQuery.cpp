#include "server/http/JobQuery.h"

#include <Poco/NumberParser.h>
#include <Poco/StringTokenizer.h>

#include <algorithm>

#include "server/http/JsonResponse.h"
#include "server/http/SubmissionParser.h"
#include "shared/Errors.h"

namespace te {
namespace {

constexpr int kMaxLimit = 1000;
constexpr std::size_t kMaxJobIds = 1000;

bool parseBool(const std::string& name, const std::string& value) {
    if (value == "1" || value == "true") return true;
    if (value == "0" || value == "false") return false;
    throw ValidationError(name + " must be 1, 0, true or false");
}

std::vector<std::string> splitList(const std::string& value) {
    Poco::StringTokenizer parts(
        value, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    return std::vector<std::string>(parts.begin(), parts.end());
}

TimeMs parseTime(const std::string& name, const std::string& value) {
    std::optional<TimeMs> t = parseIso(value);
    if (!t) throw ValidationError(name + " must be a time like 2020-09-24T11:55:33.755Z");
    return *t;
}

}  // namespace

JobQuery JobQuery::parse(const std::map<std::string, std::string>& params,
                         const std::string& client) {
    JobQuery q;
    JobFilter& f = q.filter;
    f.client = client;
    for (const auto& [name, value] : params) {
        if (name == "limit") {
            int limit = 0;
            if (!Poco::NumberParser::tryParse(value, limit) || limit < 1 || limit > kMaxLimit) {
                throw ValidationError("limit must be an integer from 1 to " +
                                      std::to_string(kMaxLimit));
            }
            f.limit = limit;
        } else if (name == "order_by") {
            const auto& columns = Store::sortableJobColumns();
            if (std::find(columns.begin(), columns.end(), value) == columns.end()) {
                std::string names;
                for (const auto& c : columns) names += (names.empty() ? "" : ", ") + c;
                throw ValidationError("order_by must be one of " + names);
            }
            f.orderBy = value;
        } else if (name == "asc") {
            f.asc = parseBool(name, value);
        } else if (name == "state") {
            std::vector<std::string> states = splitList(value);
            if (states.empty()) throw ValidationError("state must be a job state id 0..6 or name");
            for (const auto& s : states) {
                std::optional<JobState> state = parseJobState(s);
                if (!state) throw ValidationError("state must be a job state id 0..6 or name");
                f.states.push_back(*state);
            }
        } else if (name == "from") {
            f.from = parseTime(name, value);
        } else if (name == "to") {
            f.to = parseTime(name, value);
        } else if (name == "failed") {
            f.failed = parseBool(name, value);
        } else if (name == "search") {
            // Text the database cannot hold (NUL, invalid UTF-8) cannot match a content id.
            if (value.find('\0') != std::string::npos ||
                SubmissionParser::validUtf8(value) != value) {
                throw ValidationError("search must be valid UTF-8 text without NUL characters");
            }
            f.search = value;
        } else if (name == "job_ids") {
            std::vector<std::string> ids = splitList(value);
            if (ids.empty() || ids.size() > kMaxJobIds) {
                throw ValidationError("job_ids must be 1 to 1000 comma-separated job ids");
            }
            for (const auto& text : ids) {
                Poco::Int64 id = 0;
                if (!Poco::NumberParser::tryParse64(text, id) || id <= 0) {
                    throw ValidationError("job_ids must be comma-separated positive integers");
                }
                f.jobIds.push_back(id);
            }
        } else if (name == "client") {
            // A client sees only its own jobs: naming another one finds nothing.
            if (value != client) q.matchesNothing = true;
        } else if (name == "persist") {
            f.persist = parseBool(name, value);
        } else {
            throw ValidationError("unknown query parameter " + JsonResponse::printable(name));
        }
    }
    if (f.from && f.to && *f.from > *f.to) throw ValidationError("from must not be after to");
    if (f.failed && *f.failed && !f.states.empty() &&
        std::find(f.states.begin(), f.states.end(), JobState::Completed) == f.states.end()) {
        q.matchesNothing = true;
    }
    return q;
}

}  // namespace te
