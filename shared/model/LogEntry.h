#pragma once

#include <cstdint>
#include <string>

#include "shared/model/Time.h"

namespace te {

// Ruby Logger severities, as the API reference's log entries use them.
enum class Severity { Debug = 0, Info = 1, Warn = 2, Error = 3, Fatal = 4 };
const char* toString(Severity s);  // "INFO", ...

struct LogEntry {
    std::int64_t id = 0;
    std::int64_t jobId = 0;
    std::int64_t taskId = 0;  // 0 for job-level entries
    Severity severity = Severity::Info;
    std::string progname;  // api, controller, worker, callback, scheduler
    std::string message;
    TimeMs createdAt = 0;
};

}  // namespace te
