#pragma once

#include <cstdint>
#include <string>

namespace te {

// Which resource a request path names. The routing factory picks a handler from it; the
// handler uses the resource and the job id taken from the path.
struct Route {
    enum class Resource {
        None,       // no such path: 404
        Root,       // GET /
        Health,     // GET /health
        Dashboard,  // GET /dashboard
        Job,        // POST /job
        Jobs,       // GET /jobs
        JobItem,    // GET, PUT /jobs/<id>
        JobRerun,   // POST /jobs/<id>/rerun
        JobTasks,   // GET /jobs/<id>/tasks (extension)
        Logs,       // GET /logs/<id>
        Schedules,  // GET /schedules
        Scheduler,  // PUT /scheduler
        Settings,   // POST /settings
    };

    Resource resource = Resource::None;
    std::int64_t jobId = 0;  // > 0 for the /jobs/<id> and /logs/<id> resources
    std::string allow;       // the methods of the resource, for 405's Allow header

    bool allows(const std::string& method) const;

    // `path` is the decoded path without the query. A trailing slash is ignored. An id that is
    // not a positive integer of at most 18 digits matches nothing (404, like an unknown job).
    static Route match(const std::string& path);
};

}  // namespace te
