#include <array>
#include <cstdlib>

#include "shared/model/CallbackEvent.h"
#include "shared/model/Job.h"
#include "shared/model/LogEntry.h"
#include "shared/model/Task.h"

namespace te {
namespace {
constexpr std::array<const char*, 7> kJobStates = {"queued", "started",   "completed", "pending",
                                                   "broken", "scheduled", "paused"};
constexpr std::array<const char*, 9> kTaskStates = {"waiting", "queued",     "assigned",
                                                    "running", "completed",  "failed",
                                                    "retried", "incomplete", "cancelled"};
}  // namespace

const char* toString(JobState s) { return kJobStates.at(static_cast<size_t>(s)); }

std::optional<JobState> parseJobState(const std::string& text) {
    for (size_t i = 0; i < kJobStates.size(); ++i) {
        if (text == kJobStates[i] || text == std::to_string(i)) return static_cast<JobState>(i);
    }
    return std::nullopt;
}

bool isTerminal(JobState s) { return s == JobState::Completed || s == JobState::Broken; }

const char* toString(TaskState s) { return kTaskStates.at(static_cast<size_t>(s)); }

std::optional<TaskState> parseTaskState(const std::string& text) {
    for (size_t i = 0; i < kTaskStates.size(); ++i) {
        if (text == kTaskStates[i]) return static_cast<TaskState>(i);
    }
    return std::nullopt;
}

bool isTerminal(TaskState s) {
    return s == TaskState::Completed || s == TaskState::Failed || s == TaskState::Retried ||
           s == TaskState::Incomplete || s == TaskState::Cancelled;
}

const char* toString(TaskKind k) { return k == TaskKind::Spawn ? "spawn" : "normal"; }

std::optional<TaskKind> parseTaskKind(const std::string& text) {
    if (text == "normal") return TaskKind::Normal;
    if (text == "spawn") return TaskKind::Spawn;
    return std::nullopt;
}

const char* toString(Severity s) {
    static constexpr std::array<const char*, 5> names = {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    return names.at(static_cast<size_t>(s));
}

const char* toString(CallbackEvent::State s) {
    switch (s) {
        case CallbackEvent::State::Pending:
            return "pending";
        case CallbackEvent::State::Delivered:
            return "delivered";
        case CallbackEvent::State::Dead:
            return "dead";
    }
    return "pending";
}

}  // namespace te
