#pragma once

#include <map>
#include <string>

namespace te {

// The engine settings of the API reference, typed. Unknown names set through POST /settings are
// kept in `extra` and persisted, but mean nothing to the engine.
struct Settings {
    int maxJobs = 2;
    int prioritySlots = 0;
    int priorityThreshold = 5;
    int scheduleInterval = 60;  // seconds
    int retryDelay = 5;         // seconds
    int retryLimit = 3;
    std::map<std::string, std::string> extra;

    // All settings as name -> value text.
    std::map<std::string, std::string> toMap() const;
    // Applies one setting. Throws ValidationError with a message naming the setting for a bad
    // value (not an integer, negative, priority_slots > max_jobs is allowed but clamped).
    void apply(const std::string& name, const std::string& value);
    // Applies every pair; unknown names go to extra.
    static Settings fromMap(const std::map<std::string, std::string>& values);
};

}  // namespace te
