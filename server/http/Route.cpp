#include "server/http/Route.h"

#include <vector>

namespace te {
namespace {

std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> parts;
    std::string current;
    for (char c : path) {
        if (c == '/') {
            if (!current.empty()) parts.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    if (!current.empty()) parts.push_back(current);
    return parts;
}

std::int64_t parseId(const std::string& text) {
    if (text.empty() || text.size() > 18) return 0;
    std::int64_t id = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return 0;
        id = id * 10 + (c - '0');
    }
    return id;
}

Route make(Route::Resource resource, const char* allow, std::int64_t id = 0) {
    Route r;
    r.resource = resource;
    r.allow = allow;
    r.jobId = id;
    return r;
}

}  // namespace

bool Route::allows(const std::string& method) const {
    std::size_t start = 0;
    while (start < allow.size()) {
        std::size_t end = allow.find(", ", start);
        if (end == std::string::npos) end = allow.size();
        if (allow.compare(start, end - start, method) == 0) return true;
        start = end + 2;
    }
    return false;
}

Route Route::match(const std::string& path) {
    using R = Resource;
    if (path.empty() || path[0] != '/' || path.find("//") != std::string::npos) return Route();
    std::vector<std::string> p = split(path);
    if (p.empty()) return make(R::Root, "GET");
    if (p.size() == 1) {
        if (p[0] == "health") return make(R::Health, "GET");
        if (p[0] == "dashboard") return make(R::Dashboard, "GET");
        if (p[0] == "job") return make(R::Job, "POST");
        if (p[0] == "jobs") return make(R::Jobs, "GET");
        if (p[0] == "schedules") return make(R::Schedules, "GET");
        if (p[0] == "scheduler") return make(R::Scheduler, "PUT");
        if (p[0] == "settings") return make(R::Settings, "POST");
        return Route();
    }
    std::int64_t id = parseId(p[1]);
    if (id <= 0) return Route();
    if (p.size() == 2 && p[0] == "jobs") return make(R::JobItem, "GET, PUT", id);
    if (p.size() == 2 && p[0] == "logs") return make(R::Logs, "GET", id);
    if (p.size() == 3 && p[0] == "jobs" && p[2] == "rerun") return make(R::JobRerun, "POST", id);
    if (p.size() == 3 && p[0] == "jobs" && p[2] == "tasks") return make(R::JobTasks, "GET", id);
    return Route();
}

}  // namespace te
