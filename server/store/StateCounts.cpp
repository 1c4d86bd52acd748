#include "server/store/Store.h"

namespace te {

TaskTotals StateCounts::totals() const {
    TaskTotals totals;
    for (int s = 0; s < kTaskStates; ++s) {
        const std::int64_t count = tasks[s];
        switch (static_cast<TaskState>(s)) {
            case TaskState::Failed:
                totals.failed += count;
                totals.processed += count;
                break;
            case TaskState::Queued:
            case TaskState::Assigned:
            case TaskState::Running:
                totals.pending += count;
                break;
            case TaskState::Completed:
            case TaskState::Retried:
            case TaskState::Incomplete:
                totals.processed += count;
                break;
            case TaskState::Waiting:
            case TaskState::Cancelled:
                break;
        }
    }
    return totals;
}

void StateCounts::addJob(const Job& job, int sign) {
    jobs[static_cast<int>(job.state)] += sign;
    if (job.state == JobState::Completed && job.failed) failedJobs += sign;
}

void StateCounts::addTask(TaskState state, const std::string& queue, int sign) {
    tasks[static_cast<int>(state)] += sign;
    if (state == TaskState::Queued) {
        queues[queue].pending += sign;
    } else if (state == TaskState::Assigned || state == TaskState::Running) {
        queues[queue].working += sign;
    }
}

StateCounts& StateCounts::operator+=(const StateCounts& change) {
    for (int s = 0; s < kJobStates; ++s) jobs[s] += change.jobs[s];
    failedJobs += change.failedJobs;
    for (int s = 0; s < kTaskStates; ++s) tasks[s] += change.tasks[s];
    for (const auto& [name, counts] : change.queues) {
        QueueCounts& mine = queues[name];
        mine.pending += counts.pending;
        mine.working += counts.working;
        if (mine.pending == 0 && mine.working == 0) queues.erase(name);
    }
    return *this;
}

bool StateCounts::isZero() const {
    for (std::int64_t n : jobs) {
        if (n != 0) return false;
    }
    for (std::int64_t n : tasks) {
        if (n != 0) return false;
    }
    for (const auto& [name, counts] : queues) {
        if (counts.pending != 0 || counts.working != 0) return false;
    }
    return failedJobs == 0;
}

StateCounts Store::stateCounts() {
    StateCounts counts;
    read([&](Tx& tx) { counts = tx.countStates(); });
    return counts;
}

}  // namespace te
