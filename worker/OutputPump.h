#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "worker/Platform.h"
#include "worker/TaskReporter.h"

namespace te {

// Reads a child's stdout and stderr on two threads into lines, which the task's own thread
// takes out with deliver() and hands to its TaskReporter (a reporter is single-threaded).
// Also remembers the last stderr line for the failure message, and rate-limits lines.
class OutputPump {
public:
    explicit OutputPump(platform::ChildProcess& child);
    ~OutputPump();  // joins the readers: the child's pipes must be at end (kill the group first)
    OutputPump(const OutputPump&) = delete;
    OutputPump& operator=(const OutputPump&) = delete;

    // Sends the lines read so far. Task thread only.
    void deliver(TaskReporter& reporter);
    // Waits for both streams to end, then sends the rest. Task thread only.
    void finish(TaskReporter& reporter);
    std::string lastStderrLine() const;

private:
    void readLoop(bool isStderr);

    platform::ChildProcess& _child;
    mutable std::mutex _mutex;
    std::deque<std::pair<int, std::string>> _lines;
    std::string _lastStderr;
    std::thread _stdoutReader;
    std::thread _stderrReader;
    // Rate limit state, task thread only.
    std::chrono::steady_clock::time_point _windowStart = std::chrono::steady_clock::now();
    int _sentInWindow = 0;
    long _dropped = 0;
};

}  // namespace te
