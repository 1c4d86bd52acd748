#pragma once

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace te {

// Where a task or job input comes from (seeds/simple-distributed-workflow-engine.md).
enum class InputSource { Parameter, Environment, HttpHeader };

struct InputDef {
    std::string description;
    InputSource source = InputSource::Parameter;
    std::string key;       // http-header: the header name; empty otherwise
    bool required = true;  // job inputs: the submission is refused without it
    std::optional<std::string> defaultValue;
};

// A `tasks:` entry: what a worker runs.
struct TaskClass {
    std::string key;  // the map key, e.g. "export-data"
    std::string name;
    std::string description;
    std::map<std::string, InputDef> input;
    std::string builtin;  // "noop", "sleep", "http", "copy", "move"; else exec_command
    std::string execCommand;
    std::vector<std::string> execArgs;  // may hold {placeholders}
    std::string queue = "work";
    int timeoutSec = 0;                // 0: none
    std::optional<int> retries;        // unset: the retry_limit setting
    std::optional<int> retryDelaySec;  // unset: the retry_delay setting
    std::string file;                  // where it was defined, for messages
};

// One `stages:` entry of a job.
struct StageDef {
    std::string name;
    std::string taskClass;
    std::string spawnTask;  // empty: no fan-out
    bool jobFailedOnError = true;
    bool broadcast = false;  // one copy per worker of the queue (or per named endpoint)
};

// A `jobs:` entry: the workflow a client names in POST /job.
struct JobDef {
    std::string key;
    std::string name;
    std::string description;
    std::map<std::string, InputDef> input;
    std::vector<StageDef> stages;
    std::vector<std::string> callbackEndpoints;  // `rest_endpoints:` of the workflow, optional
    std::string file;                            // where it was defined, for messages
};

// Every workflow file of a folder, merged. Task classes are global across files; a job may use
// a task class defined in any file. Immutable after load; shared between threads.
struct WorkflowSet {
    std::map<std::string, TaskClass> tasks;
    std::map<std::string, JobDef> jobs;

    const JobDef* findJob(const std::string& key) const;
    const TaskClass* findTask(const std::string& key) const;
};

// Loads every *.yaml / *.yml file of `dir` (sorted by name). Throws ValidationError with one
// line "FILE: jobs.X.stages[1].task_class: unknown task class 'y'" on the first problem:
// unknown task_class or spawn_task, a placeholder with no input of that name, duplicate task or
// job names across files, wrong types, missing exec_command (and no builtin), bad YAML.
// A missing folder, or one without workflow files, is an error too ("no workflow files (*.yaml,
// *.yml) in DIR"): a server pointed at the wrong folder should not start and refuse every job.
// The rules are docs/workflows.md.
std::shared_ptr<const WorkflowSet> loadWorkflows(const std::string& dir);
// The same for one file's text (tests, --check-workflows on one file).
std::shared_ptr<const WorkflowSet> parseWorkflows(const std::string& yamlText,
                                                  const std::string& fileName);

// Fills "{name}" placeholders of `text` from `values`. A placeholder with no value throws
// ValidationError naming it. "{{" and "}}" stand for literal braces. The result is one argv
// element: nothing is split, quoted or passed to a shell.
std::string fillPlaceholders(const std::string& text,
                             const std::map<std::string, std::string>& values);
// The placeholder names used in `text`, in order of first use, each once.
std::vector<std::string> placeholdersOf(const std::string& text);
// Every placeholder name of a task class's exec_command and exec_args: the inputs a worker
// needs values for. The loader guarantees each is declared in the task's `input`.
std::set<std::string> placeholdersOf(const TaskClass& task);

// The server's `--check-workflows DIR`: loads DIR and prints one line to `out`,
// "OK: N jobs, M task classes in DIR" (returns 0) or the first problem (returns 1).
int checkWorkflowsCommand(const std::string& dir, std::ostream& out);

}  // namespace te
