#pragma once

#include <map>
#include <string>
#include <vector>

#include "shared/config/WorkerConfig.h"
#include "worker/Assignment.h"
#include "worker/TaskControl.h"
#include "worker/TaskOutcome.h"
#include "worker/TaskReporter.h"

namespace te {

// Runs one assignment on the calling thread, start to end: fills its placeholders, then runs
// the builtin or the process. Never throws: every problem becomes a FAILED outcome.
// Thread-safe (no state besides the config, which must outlive it).
class TaskRunner {
public:
    explicit TaskRunner(const WorkerConfig& config) : _config(config) {}

    TaskOutcome run(const Assignment& assignment, TaskControl& control,
                    TaskReporter& reporter) const;

    // The values placeholders are filled from: the assignment's inputs, plus each env input
    // from the config's env, else the worker's environment (absent: left out, so filling
    // fails naming it).
    static std::map<std::string, std::string> placeholderValues(const Assignment& assignment,
                                                                const WorkerConfig& config);

private:
    const WorkerConfig& _config;
};

}  // namespace te
