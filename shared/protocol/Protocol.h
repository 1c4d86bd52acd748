#pragma once

// The worker protocol, written down once. Transport: ZeroMQ, ROUTER on the server (bind),
// DEALER on each worker (connect). Every message is two frames: [type][json-object]. Over the
// ROUTER the server also sees/sends the worker's routing id as a leading frame, which the
// DEALER never sees. A worker's routing id is "<name>:<random>" so a restarted worker with the
// same name never inherits a dead one's queue in the ROUTER.
//
// Liveness: both sides send HEARTBEAT every heartbeat_ms (default 1000). The server forgets a
// worker it has not heard from for liveness x heartbeat_ms and hands its tasks to others when
// their lease (lease_ms) expires. A worker that has not heard from the server for liveness x
// heartbeat_ms, or that receives RESET, sends READY again (with its running task ids), which
// is how it rejoins a restarted server.
//
// Credit: the server never has more ASSIGNed-and-unfinished tasks at a worker than its slots.

#include <string>

namespace te::protocol {

inline constexpr int kVersion = 1;

// ---- worker -> server ----
// {name, host, platform, queues: [..], slots, version, running: [task_id, ..]}
// First message of a connection, and again after a RESET or a silent server.
inline constexpr const char* kReady = "READY";
// {} — also tells the server the worker's tasks are alive (renews their leases).
inline constexpr const char* kHeartbeat = "HEARTBEAT";
// {task_id} — the process (or builtin) has been started.
inline constexpr const char* kStarted = "STARTED";
// {task_id, severity: 0..4, message} — one line of output or a worker remark.
inline constexpr const char* kLog = "LOG";
// {task_id, output: {..}, spawn: [..] | null, exit_code: 0}
// output is output.json (an object, {} when absent); spawn is spawn.json when present.
inline constexpr const char* kDone = "DONE";
// {task_id, error: "..", exit_code: N | null, requeue: false}
// requeue true: the task did not fail on its own (the worker is stopping, or its disk is full);
// the server queues it again without using up a retry.
inline constexpr const char* kFailed = "FAILED";
// {} — the worker is stopping: it takes no more tasks; running ones are reported as they end.
inline constexpr const char* kBye = "BYE";

// ---- server -> worker ----
// {task_id, job_id, name, queue, builtin: "" | "noop"|"sleep"|"http"|"copy"|"move",
//  command, args: [..], inputs: {name: "value"}, env_inputs: [name, ..], env: {..},
//  timeout: seconds (0 = none)}
// command and args are the task class's templates with their {placeholders} still in them:
// the worker fills them in one pass (te::fillPlaceholders) from `inputs` (everything the
// server resolved: spawn element, job context, headers, parameters) plus, for each name of
// env_inputs (inputs with source: environment), its own config env or process environment.
// A placeholder left without a value fails the task with a message naming it. The process
// environment is the worker's, plus its config env, plus `env`. Builtins take their arguments
// from the filled args: sleep [seconds], http [url, method=GET], copy/move [from, to], noop [].
// The worker answers STARTED then DONE or FAILED; for the inline builtin noop it answers DONE
// alone (the server records the start with the result).
inline constexpr const char* kAssign = "ASSIGN";
// {task_id} — stop the task if it runs (kill its process group); answer FAILED.
inline constexpr const char* kCancel = "CANCEL";
// {} — the server does not know this worker (it restarted): send READY again.
inline constexpr const char* kReset = "RESET";
// (kHeartbeat is sent both ways.)

}  // namespace te::protocol
