#include "worker/TaskRunner.h"

#include <Poco/Logger.h>

#include <cstdlib>

#include "shared/Errors.h"
#include "shared/workflow/Workflow.h"
#include "worker/Builtins.h"
#include "worker/ProcessTask.h"

namespace te {

std::map<std::string, std::string> TaskRunner::placeholderValues(const Assignment& assignment,
                                                                 const WorkerConfig& config) {
    std::map<std::string, std::string> values = assignment.inputs;
    for (const auto& name : assignment.envInputs) {
        auto it = config.env.find(name);
        if (it != config.env.end()) {
            values[name] = it->second;
        } else if (const char* value = std::getenv(name.c_str())) {
            values[name] = value;
        }
    }
    return values;
}

TaskOutcome TaskRunner::run(const Assignment& assignment, TaskControl& control,
                            TaskReporter& reporter) const {
    try {
        if (control.stopRequested() == TaskControl::Stop::Cancel)
            return TaskOutcome::failed("cancelled");
        if (control.stopRequested() == TaskControl::Stop::HandBack) {
            return TaskOutcome::failed("worker stopped before the task started", std::nullopt,
                                       true);
        }
        std::string command;
        std::vector<std::string> args;
        try {
            auto values = placeholderValues(assignment, _config);
            if (assignment.builtin.empty()) command = fillPlaceholders(assignment.command, values);
            for (const auto& arg : assignment.args) args.push_back(fillPlaceholders(arg, values));
        } catch (const ValidationError& e) {
            return TaskOutcome::failed(e.what());
        }
        if (!assignment.builtin.empty()) {
            return Builtins::run(assignment.builtin, args, assignment.timeoutSec, control);
        }
        if (command.empty()) return TaskOutcome::failed("the task has no command");
        return ProcessTask(_config, assignment, command, args).run(control, reporter);
    } catch (const std::exception& e) {
        Poco::Logger::get("worker").error("task " + std::to_string(assignment.taskId) + ": " +
                                          e.what());
        return TaskOutcome::failed(std::string("worker error: ") + e.what());
    }
}

}  // namespace te
