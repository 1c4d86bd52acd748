#include "server/engine/Settings.h"

#include <limits>

#include "shared/Errors.h"

namespace te {
namespace {

int parseSetting(const std::string& name, const std::string& value, int min, int max) {
    size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size()) {
        throw ValidationError("setting '" + name + "' must be an integer");
    }
    if (v < min || v > max) {
        throw ValidationError("setting '" + name + "' must be between " + std::to_string(min) +
                              " and " + std::to_string(max));
    }
    return static_cast<int>(v);
}

}  // namespace

std::map<std::string, std::string> Settings::toMap() const {
    std::map<std::string, std::string> out = extra;
    out["max_jobs"] = std::to_string(maxJobs);
    out["priority_slots"] = std::to_string(prioritySlots);
    out["priority_threshold"] = std::to_string(priorityThreshold);
    out["schedule_interval"] = std::to_string(scheduleInterval);
    out["retry_delay"] = std::to_string(retryDelay);
    out["retry_limit"] = std::to_string(retryLimit);
    return out;
}

void Settings::apply(const std::string& name, const std::string& value) {
    constexpr int big = 1000000;
    if (name == "max_jobs")
        maxJobs = parseSetting(name, value, 0, big);
    else if (name == "priority_slots")
        prioritySlots = parseSetting(name, value, 0, big);
    else if (name == "priority_threshold")
        priorityThreshold = parseSetting(name, value, -big, big);
    else if (name == "schedule_interval")
        scheduleInterval = parseSetting(name, value, 1, 86400);
    else if (name == "retry_delay")
        retryDelay = parseSetting(name, value, 0, 86400);
    else if (name == "retry_limit")
        retryLimit = parseSetting(name, value, 0, 1000);
    else {
        if (name.empty() || name.size() > 100) {
            throw ValidationError("setting name must be 1 to 100 characters");
        }
        if (value.size() > 10000) throw ValidationError("setting value is too long");
        extra[name] = value;
    }
}

Settings Settings::fromMap(const std::map<std::string, std::string>& values) {
    Settings s;
    for (const auto& kv : values) s.apply(kv.first, kv.second);
    return s;
}

}  // namespace te
