#include "server/store/RowCache.h"

#include <limits>

namespace te::store {
namespace {

bool inStates(std::uint32_t states, TaskState state) {
    return (states >> static_cast<int>(state)) & 1u;
}

}  // namespace

std::optional<Job> RowCache::job(std::int64_t id, std::uint64_t* version) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _jobs.find(id);
    if (it == _jobs.end()) return std::nullopt;
    if (version) *version = it->second.version;
    return it->second.row;
}

std::optional<Task> RowCache::task(std::int64_t id) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto it = _tasks.find(id);
    return it == _tasks.end() ? std::nullopt : std::optional<Task>(it->second);
}

std::optional<std::vector<Task>> RowCache::wholeJob(std::int64_t jobId) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto list = _lists.find(jobId);
    if (list == _lists.end()) return std::nullopt;
    std::vector<Task> rows;
    rows.reserve(list->second.size());
    for (std::int64_t id : list->second) {
        auto it = _tasks.find(id);
        if (it == _tasks.end()) return std::nullopt;  // queued, or being written
        rows.push_back(it->second);
    }
    return rows;
}

bool RowCache::bigJob(std::int64_t jobId) const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _bigJobs.count(jobId) > 0;
}

void RowCache::noteBigJob(std::int64_t jobId) {
    std::lock_guard<std::mutex> lock(_mutex);
    _bigJobs.insert(jobId);
}

std::optional<std::int64_t> RowCache::keptStageTask(
    std::int64_t jobId, int stage, std::uint32_t states,
    const std::function<std::optional<TaskState>(std::int64_t)>& ownState) const {
    std::lock_guard<std::mutex> lock(_mutex);
    auto open = _openOfJob.find(jobId);
    if (open == _openOfJob.end()) return std::nullopt;
    for (std::int64_t id : open->second) {
        const Task& kept = _tasks.at(id);
        if (kept.stage != stage) continue;
        const auto own = ownState(id);
        if (inStates(states, own ? *own : kept.state)) return id;
    }
    return std::nullopt;
}

bool RowCache::stageAbsent(std::int64_t jobId, int stage, std::uint32_t states) const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _absent.count({jobId, stage, states}) > 0;
}

void RowCache::probedAbsent(Marks& marks, std::int64_t jobId, int stage, std::uint32_t states) {
    // A claim turns queued tasks into assigned ones without a mark.
    if (inStates(states, TaskState::Assigned) && !inStates(states, TaskState::Queued)) return;
    std::lock_guard<std::mutex> lock(_mutex);
    // Another transaction's task write, sent before the probe, may commit a task it did not
    // see; one marked after the probe shows in the count at COMMIT.
    const auto own = static_cast<std::int64_t>(marks.tasks.size());
    if (_taskMarksOut > own) return;
    marks.absences.push_back({jobId, stage, states, _taskMarksTaken - marks.tasks.size()});
}

void RowCache::mark(MarkMap& map, std::int64_t id) {
    Mark& m = map[id];
    ++_clock;
    if (m.out > 0) m.contested = true;
    ++m.out;
}

bool RowCache::release(MarkMap& map, std::int64_t id) {
    auto it = map.find(id);
    if (it == map.end()) return false;
    const bool mayPut = !it->second.contested;
    if (--it->second.out == 0) map.erase(it);
    return mayPut;
}

void RowCache::markJob(Marks& marks, std::int64_t id, bool inserted,
                       std::optional<std::uint64_t> readVersion) {
    std::lock_guard<std::mutex> lock(_mutex);
    auto kept = _jobs.find(id);
    const bool current = kept != _jobs.end() && readVersion && kept->second.version == *readVersion;
    if (marks.jobs.insert(id).second) {
        if (inserted || current) marks.exactJobs.insert(id);
        mark(_jobMarks, id);
    }
    if (kept != _jobs.end()) _jobs.erase(kept);
}

void RowCache::markTask(Marks& marks, std::int64_t id) {
    if (!marks.tasks.insert(id).second) return;
    std::lock_guard<std::mutex> lock(_mutex);
    mark(_taskMarks, id);
    ++_taskMarksTaken;
    ++_taskMarksOut;
    eraseTask(id);
    if (_claiming > 0) _markedWhileClaiming[id] = _clock;
}

void RowCache::markList(Marks& marks, std::int64_t jobId) {
    if (!marks.lists.insert(jobId).second) return;
    std::lock_guard<std::mutex> lock(_mutex);
    mark(_listMarks, jobId);
    _lists.erase(jobId);
}

void RowCache::claimBegins(Marks& marks) {
    if (marks.claimSince) return;
    std::lock_guard<std::mutex> lock(_mutex);
    marks.claimSince = ++_clock;
    ++_claiming;
}

void RowCache::committed(Marks& marks, const std::unordered_map<std::int64_t, Job>& jobs,
                         const std::unordered_map<std::int64_t, Task>& tasks,
                         const std::unordered_map<std::int64_t, std::vector<std::int64_t>>& lists) {
    if (marks.ended) return;
    std::lock_guard<std::mutex> lock(_mutex);
    for (std::int64_t id : marks.tasks) {
        const bool mayPut = release(_taskMarks, id) && !marks.blindTasks.count(id);
        auto value = tasks.find(id);
        if (mayPut && value != tasks.end()) putTask(value->second);
    }
    for (std::int64_t id : marks.claimed) {
        if (marks.tasks.count(id)) continue;  // written after its claim: put above
        auto since = _markedWhileClaiming.find(id);
        const bool markedSince =
            since != _markedWhileClaiming.end() && since->second > *marks.claimSince;
        auto value = tasks.find(id);
        if (!markedSince && !_taskMarks.count(id) && value != tasks.end()) putTask(value->second);
    }
    // The stages' absences: what this transaction wrote contradicts those of its tasks'
    // stages; its own probes' hold if no other transaction wrote a task since, and if none
    // of its rows contradicts them.
    for (std::int64_t id : marks.tasks) {
        auto value = tasks.find(id);
        if (value == tasks.end()) {
            _absent.clear();
            continue;
        }
        const Task& task = value->second;
        for (auto it = _absent.lower_bound({task.jobId, task.stage, 0});
             it != _absent.end() && std::get<0>(*it) == task.jobId &&
             std::get<1>(*it) == task.stage;) {
            it = inStates(std::get<2>(*it), task.state) ? _absent.erase(it) : std::next(it);
        }
    }
    const std::uint64_t othersMarked = _taskMarksTaken - marks.tasks.size();
    for (const auto& absence : marks.absences) {
        if (absence.othersMarked != othersMarked) continue;
        bool holds = true;
        for (const auto& [id, task] : tasks) {
            if (task.jobId == absence.jobId && task.stage == absence.stage &&
                inStates(absence.states, task.state)) {
                holds = false;
                break;
            }
        }
        if (holds) _absent.insert({absence.jobId, absence.stage, absence.states});
    }
    for (std::int64_t jobId : marks.lists) {
        auto list = lists.find(jobId);
        const bool mayPut = release(_listMarks, jobId) && list != lists.end();
        if (mayPut && list->second.size() <= kMaxListed) _lists[jobId] = list->second;
        // Committed: the job is that big for good (tasks are never deleted), whoever else
        // wrote its list meanwhile.
        if (list != lists.end() && list->second.size() > kMaxListed) _bigJobs.insert(jobId);
    }
    for (std::int64_t id : marks.jobs) {
        const bool mayPut = release(_jobMarks, id) && marks.exactJobs.count(id);
        auto value = jobs.find(id);
        if (value == jobs.end()) continue;
        const Job& job = value->second;
        const bool ended = isTerminal(job.state);
        if (ended) eraseJob(id);  // its tasks: read again, if ever, from the database
        if (!mayPut) continue;
        _jobs[id] = {job, ++_clock};
        if (ended) {
            _ended.push_back(id);
            if (_ended.size() > kMaxEnded) {
                auto oldest = _jobs.find(_ended.front());
                if (oldest != _jobs.end() && isTerminal(oldest->second.row.state)) {
                    _jobs.erase(oldest);
                }
                _ended.pop_front();
            }
        }
    }
    end(marks);
    if (_jobs.size() + _tasks.size() + _absent.size() > kMaxRows) eraseAll();
}

void RowCache::abandoned(Marks& marks) {
    if (marks.ended) return;
    std::lock_guard<std::mutex> lock(_mutex);
    for (std::int64_t id : marks.jobs) release(_jobMarks, id);
    for (std::int64_t id : marks.tasks) release(_taskMarks, id);
    for (std::int64_t id : marks.lists) release(_listMarks, id);
    // Its task writes may have committed, into any state.
    if (!marks.tasks.empty()) _absent.clear();
    end(marks);
}

void RowCache::end(Marks& marks) {
    marks.ended = true;
    _taskMarksOut -= static_cast<std::int64_t>(marks.tasks.size());
    if (marks.claimSince && --_claiming == 0) _markedWhileClaiming.clear();
}

size_t RowCache::size() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _jobs.size() + _tasks.size();
}

void RowCache::clear() {
    std::lock_guard<std::mutex> lock(_mutex);
    eraseAll();
}

void RowCache::eraseAll() {
    _jobs.clear();
    _bigJobs.clear();
    _ended.clear();
    _tasks.clear();
    _lists.clear();
    _keptOfJob.clear();
    _openOfJob.clear();
    _absent.clear();
}

void RowCache::putTask(const Task& task) {
    eraseTask(task.id);
    if (task.state == TaskState::Queued) return;
    _tasks[task.id] = task;
    _keptOfJob[task.jobId].insert(task.id);
    if (!isTerminal(task.state)) _openOfJob[task.jobId].insert(task.id);
}

void RowCache::eraseTask(std::int64_t id) {
    auto it = _tasks.find(id);
    if (it == _tasks.end()) return;
    auto ofJob = _keptOfJob.find(it->second.jobId);
    if (ofJob != _keptOfJob.end()) {
        ofJob->second.erase(id);
        if (ofJob->second.empty()) _keptOfJob.erase(ofJob);
    }
    auto open = _openOfJob.find(it->second.jobId);
    if (open != _openOfJob.end()) {
        open->second.erase(id);
        if (open->second.empty()) _openOfJob.erase(open);
    }
    _tasks.erase(it);
}

void RowCache::eraseJob(std::int64_t id) {
    _jobs.erase(id);
    _lists.erase(id);
    _bigJobs.erase(id);
    _openOfJob.erase(id);
    _absent.erase(_absent.lower_bound({id, std::numeric_limits<int>::min(), 0}),
                  _absent.lower_bound({id + 1, std::numeric_limits<int>::min(), 0}));
    auto ofJob = _keptOfJob.find(id);
    if (ofJob == _keptOfJob.end()) return;
    for (std::int64_t taskId : ofJob->second) _tasks.erase(taskId);
    _keptOfJob.erase(ofJob);
}

}  // namespace te::store
