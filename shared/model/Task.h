#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shared/model/Time.h"

namespace te {

enum class TaskState {
    Waiting,     // created, but its stage has not started (not dispatchable)
    Queued,      // ready; the dispatcher hands it to a worker once notBefore has passed
    Assigned,    // sent to a worker, which has not yet said STARTED
    Running,     // the worker said STARTED
    Completed,   // DONE recorded. Terminal.
    Failed,      // FAILED recorded and no retry left. Terminal.
    Retried,     // FAILED, and a new attempt (a new row) replaced it. Terminal.
    Incomplete,  // a targeted copy that its worker never received in time. Terminal.
    Cancelled,   // its job broke or failed before it ran. Terminal.
};

const char* toString(TaskState s);
std::optional<TaskState> parseTaskState(const std::string& text);
bool isTerminal(TaskState s);

// What a task row is for within its stage.
enum class TaskKind {
    Normal,  // one instance of the stage's task_class
    Spawn,   // the stage's spawn_task; its spawn.json fans the stage out
};

const char* toString(TaskKind k);
std::optional<TaskKind> parseTaskKind(const std::string& text);

struct Task {
    std::int64_t id = 0;
    std::int64_t jobId = 0;
    int stage = 0;
    std::string name;  // task class key, e.g. "transcode"
    TaskKind kind = TaskKind::Normal;
    TaskState state = TaskState::Waiting;
    std::string queue = "work";
    std::string targetWorker;  // non-empty: only this worker may run it (targeted/broadcast)
    std::string worker;        // who runs or ran it
    int attempt = 1;           // 1 for the first try; a retry is a new row with attempt + 1
    int maxAttempts = 1;       // 1 + retries allowed
    int priority = 5;          // the job's priority, copied so dispatch needs no join
    // What the worker runs, resolved when the task is queued (placeholders filled).
    std::string builtin;  // non-empty: run in-process (noop, sleep, http, copy, move)
    std::string command;
    std::string args;     // JSON array of strings
    std::string env;      // JSON object of strings
    std::string inputs;   // JSON object: this task's own inputs (a spawn element)
    int timeoutSec = 0;   // 0: none
    std::string output;   // JSON object from output.json
    std::string message;  // last error or result message
    std::optional<int> exitCode;
    TimeMs createdAt = 0;
    TimeMs notBefore = 0;   // retry delay: not dispatched before this
    TimeMs leaseUntil = 0;  // assigned/running: handed to another worker after this
    TimeMs startedAt = 0;
    TimeMs finishedAt = 0;
};

// The order a claim takes queued tasks in: most urgent (lowest priority number) first, then
// oldest. ORDER BY priority, id in the claim's SQL; the engine's offers follow it too.
inline bool claimsBefore(const Task& a, const Task& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
}

}  // namespace te
