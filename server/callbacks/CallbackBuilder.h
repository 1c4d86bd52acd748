#pragma once

#include <string>
#include <vector>

#include "shared/config/ServerConfig.h"
#include "shared/model/CallbackEvent.h"
#include "shared/model/Job.h"
#include "shared/model/Task.h"
#include "shared/workflow/Workflow.h"

namespace te {

// Turns one engine event into outbox rows, one per endpoint. The engine calls it inside the
// transaction that changes the state, and enqueues what it returns (Tx::enqueueCallback), so
// the event is durable exactly when the change is.
//
// Endpoints, deduplicated in this order: the job's parameters.rest_endpoints (array of URLs,
// or one string), the workflow's rest_endpoints, the client's callback_endpoints.
// Headers: Content-Type application/json (added by the sender), the client's callback_headers.
// Body (seeds/task-engine-overview.md): {"job_id", "task_id", "task_name", "content_id",
// "event": "start"|"complete"|"fail", "message", "datetime": "yyyy-mm-ddThh:mm:ssZ"}.
// For job-level events task_id is 0 and task_name is the workflow name.
// Only http:// and https:// URLs are kept (anything else is ignored silently: it is not a URL).
// When config.allowedHosts is non-empty, a URL whose host is not in it (case-insensitive) is
// dropped and, if `rejected` is given, appended to it so the caller can log
// "callback host not allowed: URL". Thread-safe (const, no shared state).
class CallbackBuilder {
public:
    CallbackBuilder(const std::vector<ClientConfig>& clients, const CallbackConfig& config);

    // event: "start", "complete" or "fail". task may be null for a job-level event.
    std::vector<CallbackEvent> build(const Job& job, const Task* task, const JobDef* workflow,
                                     const std::string& event, const std::string& message,
                                     TimeMs at, std::vector<std::string>* rejected = nullptr) const;

    // The ordered, deduplicated endpoints for a job (the first half of build()).
    std::vector<std::string> endpoints(const Job& job, const JobDef* workflow,
                                       std::vector<std::string>* rejected = nullptr) const;

private:
    const ClientConfig* findClient(const std::string& name) const;
    bool hostAllowed(const std::string& host) const;

    std::vector<ClientConfig> _clients;
    CallbackConfig _config;
};

}  // namespace te
