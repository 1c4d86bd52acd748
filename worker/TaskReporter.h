#pragma once

#include <string>

namespace te {

// Where a running task sends its LOG lines. Called only from the task's own thread.
class TaskReporter {
public:
    virtual ~TaskReporter() = default;
    // severity: 1 stdout, 2 stderr, 3 a remark of the worker about the task.
    virtual void log(int severity, const std::string& message) = 0;
};

}  // namespace te
