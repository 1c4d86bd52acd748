#pragma once

// A stand-in for the server and a worker, small enough to read in one sitting, that runs a
// job of a WorkflowSet on this machine the way docs/workflows.md says the real ones do: stage
// after stage, the spawn task first with its spawn.json fanning the stage out, inputs resolved
// (spawn element > job context from output.json > http-header inputs > job parameters, and
// source: environment from `env`), placeholders filled by te::fillPlaceholders, each task run
// as argv in its own working folder. It lets the shipped examples be tested before and apart
// from the engine; it is not the engine (no queues, retries, timeouts or builtins).

#include <map>
#include <string>
#include <vector>

#include "shared/workflow/Workflow.h"

namespace te::test {

using Strings = std::map<std::string, std::string>;

class ExampleRunner {
public:
    ExampleRunner(const WorkflowSet& set, std::string workRoot, Strings env);

    // Runs job `job`. Returns false when a task of a job_failed_on_error stage failed (or a
    // spawn task did); the output of every task is in log(). Throws ValidationError for an
    // unknown job or a missing required input, as POST /job answers 400.
    bool run(const std::string& job, const Strings& parameters, const Strings& headers);

    const Strings& context() const { return _context; }
    const std::string& log() const { return _log; }
    int failedTasks() const { return _failedTasks; }

private:
    // Runs one task; returns its exit code (-1: it could not start or a placeholder had no
    // value). Reads its output.json into the context and its spawn.json into *spawn.
    int runTask(const TaskClass& task, const Strings& element, std::vector<Strings>* spawn);

    const WorkflowSet& _set;
    std::string _workRoot;
    Strings _env;
    Strings _base;     // job parameters overlaid by http-header inputs
    Strings _context;  // keys of every output.json so far
    std::string _log;
    int _taskCount = 0;
    int _failedTasks = 0;
};

}  // namespace te::test
