#include "worker/OutputPump.h"

#include "worker/LineBuffer.h"
#include "worker/ProcessTask.h"

namespace te {

OutputPump::OutputPump(platform::ChildProcess& child) : _child(child) {
    _stdoutReader = std::thread([this] { readLoop(false); });
    _stderrReader = std::thread([this] { readLoop(true); });
}

OutputPump::~OutputPump() {
    if (_stdoutReader.joinable()) _stdoutReader.join();
    if (_stderrReader.joinable()) _stderrReader.join();
}

void OutputPump::readLoop(bool isStderr) {
    int severity = isStderr ? 2 : 1;
    LineBuffer lines(ProcessTask::kMaxLineLength, [&](std::string line) {
        std::lock_guard<std::mutex> lock(_mutex);
        if (isStderr && !line.empty()) _lastStderr = line;
        _lines.emplace_back(severity, std::move(line));
    });
    char buffer[16384];
    for (;;) {
        std::size_t n = isStderr ? _child.readStderr(buffer, sizeof buffer)
                                 : _child.readStdout(buffer, sizeof buffer);
        if (n == 0) break;
        lines.append(buffer, n);
    }
    lines.flush();
}

void OutputPump::deliver(TaskReporter& reporter) {
    std::deque<std::pair<int, std::string>> batch;
    {
        std::lock_guard<std::mutex> lock(_mutex);
        batch.swap(_lines);
    }
    for (auto& [severity, line] : batch) {
        auto now = std::chrono::steady_clock::now();
        if (now - _windowStart >= std::chrono::seconds(1)) {
            if (_dropped > 0) {
                reporter.log(3, std::to_string(_dropped) + " lines of output dropped (more than " +
                                    std::to_string(ProcessTask::kMaxLinesPerSecond) + " lines/s)");
            }
            _windowStart = now;
            _sentInWindow = 0;
            _dropped = 0;
        }
        if (_sentInWindow >= ProcessTask::kMaxLinesPerSecond) {
            ++_dropped;
            continue;
        }
        ++_sentInWindow;
        reporter.log(severity, line);
    }
}

void OutputPump::finish(TaskReporter& reporter) {
    if (_stdoutReader.joinable()) _stdoutReader.join();
    if (_stderrReader.joinable()) _stderrReader.join();
    deliver(reporter);
    if (_dropped > 0) {
        reporter.log(3, std::to_string(_dropped) + " lines of output dropped (more than " +
                            std::to_string(ProcessTask::kMaxLinesPerSecond) + " lines/s)");
        _dropped = 0;
    }
}

std::string OutputPump::lastStderrLine() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _lastStderr;
}

}  // namespace te
