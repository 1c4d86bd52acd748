#pragma once

#include <string>

namespace te {

// A periodic piece of engine work, listed by GET /schedules in the reference's shape.
struct Schedule {
    std::string name;       // "queue_scheduled_jobs"
    std::string className;  // "QueueJobs"
    int everySec = 60;
    int firstInSec = 5;
    std::string queue = "scheduler";
    std::string description;
    bool active = true;
};

}  // namespace te
