#pragma once

#include <string>
#include <vector>

#include "shared/config/WorkerConfig.h"
#include "worker/TaskOutcome.h"

namespace te::messages {

// JSON bodies of the worker -> server messages of shared/protocol/Protocol.h.
std::string ready(const WorkerConfig& config, const std::string& name,
                  const std::vector<long long>& running);
std::string started(long long taskId);
std::string log(long long taskId, int severity, const std::string& message);
// DONE or FAILED, depending on outcome.ok; the type goes with it.
const char* resultType(const TaskOutcome& outcome);
std::string result(long long taskId, const TaskOutcome& outcome);

}  // namespace te::messages
