#pragma once

#include <string>
#include <vector>

#include "shared/config/WorkerConfig.h"
#include "worker/Assignment.h"
#include "worker/TaskControl.h"
#include "worker/TaskOutcome.h"
#include "worker/TaskReporter.h"

namespace te {

// Runs one process task to its end on the calling thread: resolves the command, makes the task
// folder, starts the process in its own group (worker/Platform.h), streams its output as LOG
// lines, enforces the timeout and stop requests, then reads output.json and spawn.json.
// Whatever the group left running when the process ends is killed, and the folder is removed
// unless keep_work_dirs.
class ProcessTask {
public:
    // command and args are already filled in (no placeholders left).
    ProcessTask(const WorkerConfig& config, const Assignment& assignment, std::string command,
                std::vector<std::string> args);
    TaskOutcome run(TaskControl& control, TaskReporter& reporter);

    // Output caps: a longer line is cut; more lines per second are dropped (and counted).
    static constexpr std::size_t kMaxLineLength = 8192;
    static constexpr int kMaxLinesPerSecond = 1000;
    // After SIGTERM the group gets this long before SIGKILL.
    static constexpr int kKillGraceMs = 2000;

private:
    TaskOutcome execute(const std::string& folder, TaskControl& control, TaskReporter& reporter);
    static TaskOutcome readResults(const std::string& folder, int exitCode);

    const WorkerConfig& _config;
    const Assignment& _assignment;
    std::string _command;
    std::vector<std::string> _args;
};

}  // namespace te
