// Jobs: the rows behind POST /job, GET /jobs and the engine's admission.
#include <algorithm>
#include <cstring>
#include <tuple>

#include "server/store/Migrations.h"
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"

namespace te::store {
namespace {

const char* const kJobColumns =
    "id, client, workflow, priority, parameters, headers, context, content_id, queue_state,"
    " failed, persist, semaphore_url, message, stage, created_at, updated_at, run_at,"
    " started_at, finished_at";
const char* const kJobColumnsButId = kJobColumns + std::strlen("id, ");

// Receives one row of kJobColumns; the enum and flags go through ints.
struct JobRow {
    Job job;
    int state = 0;
    int failed = 0;
    int persist = 0;

    void bindTo(SqlQuery& query) {
        query.into(job.id)
            .into(job.client)
            .into(job.workflow)
            .into(job.priority)
            .into(job.parameters)
            .into(job.headers)
            .into(job.context)
            .into(job.contentId)
            .into(state)
            .into(failed)
            .into(persist)
            .into(job.semaphoreUrl)
            .into(job.message)
            .into(job.stage)
            .into(job.createdAt)
            .into(job.updatedAt)
            .into(job.runAt)
            .into(job.startedAt)
            .into(job.finishedAt);
    }
    Job take() {
        job.state = static_cast<JobState>(state);
        job.failed = failed != 0;
        job.persist = persist != 0;
        return job;
    }
};

// Runs "SELECT <job columns> <rest>"; `bind` adds the parameters of `rest` in order.
template <class Bind>
std::vector<Job> selectJobs(Connection& db, const std::string& rest, Bind bind) {
    SqlQuery query(db);
    JobRow row;
    row.bindTo(query);
    bind(query);
    std::vector<Job> jobs;
    if (query.run(std::string("SELECT ") + kJobColumns + " " + rest)) {
        do {
            jobs.push_back(row.take());
        } while (query.next());
    }
    return jobs;
}

std::int64_t countOf(Connection& db, const std::string& sql, const std::vector<long long>& values) {
    SqlQuery query(db);
    long long count = 0;
    query.into(count);
    for (long long v : values) query.bind(v);
    query.run(sql);
    return count;
}

}  // namespace

std::int64_t SociTx::insertJob(Job& job) {
    _started.change += job.state == JobState::Started;
    _queued.change += job.state == JobState::Queued;
    _stateChange.addJob(job, +1);
    const TimeMs now = nowMs();
    if (job.createdAt == 0) job.createdAt = now;
    if (job.updatedAt == 0) job.updatedAt = now;
    // Job::runAt documents "createdAt when not given"; admission order relies on it.
    if (job.runAt == 0) job.runAt = job.createdAt;
    job.id = insertRow(IdBlocks::Table::Jobs, _jobsNew, [&](SqlQuery& query) {
        bindJob(job, query, false);
        return insertSql("jobs", kJobColumnsButId, 1);
    });
    // Without _ids (SQLite) the row is written already: the queue must be read to find it.
    _jobsWritten = _jobsWritten || !_ids;
    if (_ids && !_firstNewJob) _firstNewJob = job.id;
    _jobsSeen[job.id] = job;
    _wholeJobs[job.id];  // no task yet: every one it gets is inserted here
    return job.id;
}

void SociTx::bindJob(const Job& job, SqlQuery& query, bool withId) {
    if (withId) query.bind(job.id);
    query.bind(job.client)
        .bind(job.workflow)
        .bind(job.priority)
        .bind(job.parameters)
        .bind(job.headers)
        .bind(job.context)
        .bind(job.contentId)
        .bind(static_cast<long long>(job.state))
        .bind(job.failed ? 1 : 0)
        .bind(job.persist ? 1 : 0)
        .bind(job.semaphoreUrl)
        .bind(job.message)
        .bind(job.stage)
        .bind(job.createdAt)
        .bind(job.updatedAt)
        .bind(job.runAt)
        .bind(job.startedAt)
        .bind(job.finishedAt);
}

std::optional<Job> SociTx::findJob(std::int64_t id) {
    // The engine's lock keeps other writers off the jobs for the transaction: a row read or
    // written here is still as this transaction last saw it.
    auto seen = _jobsSeen.find(id);
    if (seen != _jobsSeen.end()) return seen->second;
    if (jobFromCache(id)) return _jobsSeen.at(id);
    auto jobs = selectJobs(_db, "FROM jobs WHERE id = :id", [&](SqlQuery& q) { q.bind(id); });
    if (jobs.empty()) return std::nullopt;
    _jobsSeen[id] = jobs.front();
    return jobs.front();
}

void SociTx::cacheJobs(const std::vector<std::int64_t>& ids) {
    std::vector<std::int64_t> missing;
    for (std::int64_t id : ids) {
        if (!_jobsSeen.count(id) && !jobFromCache(id)) missing.push_back(id);
    }
    forChunksOfIds(missing, [&](const std::string& in, const std::vector<std::int64_t>& chunk) {
        auto jobs = selectJobs(_db, "FROM jobs WHERE id IN (" + in + ")", [&](SqlQuery& q) {
            q.planWithValues();
            for (std::int64_t id : chunk) q.bind(id);
        });
        for (Job& job : jobs) _jobsSeen.emplace(job.id, std::move(job));
    });
}

bool SociTx::jobFromCache(std::int64_t id) {
    std::uint64_t version = 0;
    auto kept = _cache ? _cache->job(id, &version) : std::nullopt;
    if (!kept) return false;
    _jobsSeen[id] = std::move(*kept);
    _jobVersions[id] = version;
    return true;
}

std::vector<Job> SociTx::listJobs(const JobFilter& filter) {
    writeChanges();
    const auto& sortable = Store::sortableJobColumns();
    if (std::find(sortable.begin(), sortable.end(), filter.orderBy) == sortable.end()) {
        throw ValidationError("order_by must be one of the job columns, not '" + filter.orderBy +
                              "'");
    }
    // Each condition appends its SQL and the values for its placeholders, in order.
    std::string where;
    std::vector<std::function<void(SqlQuery&)>> binds;
    auto add = [&](const std::string& condition) {
        where += where.empty() ? " WHERE " : " AND ";
        where += condition;
    };
    if (!filter.states.empty()) {
        add("queue_state IN (" + placeholders("st", filter.states.size()) + ")");
        for (JobState s : filter.states) {
            binds.push_back([s](SqlQuery& q) { q.bind(static_cast<long long>(s)); });
        }
    }
    if (filter.from) {
        add("created_at >= :from_at");
        binds.push_back([v = *filter.from](SqlQuery& q) { q.bind(v); });
    }
    if (filter.to) {
        add("created_at <= :to_at");
        binds.push_back([v = *filter.to](SqlQuery& q) { q.bind(v); });
    }
    if (filter.failed) {
        if (*filter.failed) {
            add("queue_state = :completed AND failed = 1");
            binds.push_back(
                [](SqlQuery& q) { q.bind(static_cast<long long>(JobState::Completed)); });
        } else {
            add("failed = 0");
        }
    }
    if (!filter.search.empty()) {
        add(std::string("content_id = :search AND ") + kContentJobTerm);
        binds.push_back([&](SqlQuery& q) { q.bind(filter.search); });
    }
    if (!filter.jobIds.empty()) {
        add("id IN (" + placeholders("id", filter.jobIds.size()) + ")");
        for (std::int64_t id : filter.jobIds) binds.push_back([id](SqlQuery& q) { q.bind(id); });
    }
    if (!filter.client.empty()) {
        add("client = :client");
        binds.push_back([&](SqlQuery& q) { q.bind(filter.client); });
    }
    if (filter.persist) add(*filter.persist ? kPersistedJobTerm : "persist = 0");
    // orderBy was checked against the whitelist above, so it is safe to splice in.
    const std::string direction = filter.asc ? " ASC" : " DESC";
    std::string order = " ORDER BY " + filter.orderBy + direction;
    if (filter.orderBy != "id") order += ", id" + direction;
    return selectJobs(_db, "FROM jobs" + where + order + " LIMIT :limit", [&](SqlQuery& q) {
        for (auto& bind : binds) bind(q);
        q.bind(filter.limit);
    });
}

void SociTx::updateJob(Job& job) {
    job.updatedAt = nowMs();
    auto seen = _jobsSeen.find(job.id);
    if (seen == _jobsSeen.end()) {
        // A row this transaction has not read may not exist, and its old values are not
        // known: write every column now.
        _changesKnown = false;
        _jobsWritten = true;
        if (_cache) _cache->markJob(_marks, job.id, false);
        SqlQuery query(_db);
        query.run(jobUpdate(job, nullptr, query));
        if (query.affectedRows() == 0) {
            throw NotFoundError("job " + std::to_string(job.id) + " not found");
        }
        _jobsSeen[job.id] = job;
        return;
    }
    _started.change += (job.state == JobState::Started) - (seen->second.state == JobState::Started);
    _queued.change += (job.state == JobState::Queued) - (seen->second.state == JobState::Queued);
    _stateChange.addJob(seen->second, -1);
    _stateChange.addJob(job, +1);
    // Written by writeChanges, with the other jobs' changes; a later change of this job in the
    // same transaction joins the same UPDATE (or its INSERT, not sent yet either). The row as
    // stored is kept to name what changed.
    if (!_jobsNew.count(job.id)) _jobsStored.emplace(job.id, seen->second);
    seen->second = job;
}

std::string SociTx::jobUpdate(const Job& job, const Job* before, SqlQuery& query) {
    // SQLite rewrites every index with a column in the SET list, changed or not (8 of the 11
    // on jobs): set only what differs from the row as stored. A row not seen gets every
    // column. updated_at always: it marks the write, and keeps the SET list from being empty.
    std::string set = "updated_at = :updated_at";
    query.bind(job.updatedAt);
    // Sets `name` to value unless the row as stored holds the same `field`.
    auto column = [&](const char* name, auto field, auto value) {
        if (before && before->*field == job.*field) return;
        set += ", " + std::string(name) + " = :" + name;
        query.bind(value);
    };
    column("priority", &Job::priority, job.priority);
    column("parameters", &Job::parameters, job.parameters);
    column("headers", &Job::headers, job.headers);
    column("context", &Job::context, job.context);
    column("content_id", &Job::contentId, job.contentId);
    column("queue_state", &Job::state, static_cast<long long>(job.state));
    column("failed", &Job::failed, job.failed ? 1 : 0);
    column("persist", &Job::persist, job.persist ? 1 : 0);
    column("semaphore_url", &Job::semaphoreUrl, job.semaphoreUrl);
    column("message", &Job::message, job.message);
    column("stage", &Job::stage, job.stage);
    column("run_at", &Job::runAt, job.runAt);
    column("started_at", &Job::startedAt, job.startedAt);
    column("finished_at", &Job::finishedAt, job.finishedAt);
    query.bind(job.id);
    return "UPDATE jobs SET " + set + " WHERE id = :id";
}

void SociTx::addJobWrites(WriteBatch& batch) {
    _jobsWritten = _jobsWritten || !_jobsNew.empty() || !_jobsStored.empty();
    if (_cache) {
        for (std::int64_t id : _jobsNew) {
            _cache->markJob(_marks, id, true);
        }
        for (const auto& [id, stored] : _jobsStored) {
            auto read = _jobVersions.find(id);
            _cache->markJob(_marks, id, false,
                            read == _jobVersions.end()
                                ? std::nullopt
                                : std::optional<std::uint64_t>(read->second));
        }
    }
    const std::vector<std::int64_t> inserted(_jobsNew.begin(), _jobsNew.end());
    addInserts(batch, "jobs", kJobColumns, inserted.size(),
               [&](size_t i, SqlQuery& query) { bindJob(_jobsSeen.at(inserted[i]), query, true); });
    _jobsNew.clear();
    for (const auto& [id, stored] : _jobsStored) {
        SqlQuery query(_db);
        const std::string sql = jobUpdate(_jobsSeen.at(id), &stored, query);
        batch.add(query, sql, "job " + std::to_string(id) + " not found");
    }
    _jobsStored.clear();
}

std::vector<Job> SociTx::queuedJobs(int limit) {
    // The unwritten jobs answer for themselves, so a submission's jobs are written once, as
    // admission leaves them (an INSERT of a started job, not an INSERT and an UPDATE), and
    // the query waits for no write. Rows changed here are skipped: one more row is read
    // for each, so `limit` are still there.
    // While no job of this transaction is written, the rows are the last commit's: when it
    // left none queued, there is nothing to read, and a read that got them all counts them.
    const bool asCommitted = _queued.kept && _changesKnown && !_jobsWritten;
    std::vector<Job> rows;
    const std::optional<std::int64_t> kept =
        asCommitted ? _queued.kept->value() : std::optional<std::int64_t>();
    if (!kept || *kept > 0) {
        if (asCommitted) _queued.ticket = _queued.kept->beforeRead();
        const size_t wanted = limit + _jobsStored.size();
        rows = selectJobs(_db,
                          std::string("FROM jobs WHERE ") + kQueuedJobTerm +
                              " ORDER BY priority, run_at, id LIMIT :limit",
                          [&](SqlQuery& q) { q.bind(static_cast<long long>(wanted)); });
        if (asCommitted && !kept) {
            // The ticket and the count go together: a later read replaces both.
            _queued.before =
                rows.size() < wanted
                    ? std::optional<std::int64_t>(static_cast<std::int64_t>(rows.size()))
                    : std::nullopt;
        }
    }
    std::vector<Job> jobs;
    for (Job& row : rows) {
        if (_jobsStored.count(row.id)) continue;  // its kept copy decides, below
        _jobsSeen[row.id] = row;                  // admission updates them next
        jobs.push_back(std::move(row));
    }
    auto addIfQueued = [&](std::int64_t id) {
        const Job& job = _jobsSeen.at(id);
        if (job.state == JobState::Queued) jobs.push_back(job);
    };
    for (std::int64_t id : _jobsNew) addIfQueued(id);
    for (const auto& [id, stored] : _jobsStored) addIfQueued(id);
    std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        return std::tie(a.priority, a.runAt, a.id) < std::tie(b.priority, b.runAt, b.id);
    });
    if (jobs.size() > static_cast<size_t>(limit)) jobs.resize(limit);
    return jobs;
}

std::int64_t SociTx::queuePosition(const Job& job) {
    // The stored row decides, not the caller's copy, which may be stale.
    auto stored = findJob(job.id);
    if (!stored || stored->state != JobState::Queued) return 0;
    writeChanges();
    return countOf(_db,
                   std::string("SELECT COUNT(*) FROM jobs WHERE ") + kQueuedJobTerm +
                       " AND (priority < :p1 OR (priority = :p2 AND run_at < :r1)"
                       " OR (priority = :p3 AND run_at = :r2 AND id <= :id))",
                   {stored->priority, stored->priority, stored->runAt, stored->priority,
                    stored->runAt, stored->id});
}

std::vector<Job> SociTx::jobsDue(JobState state, TimeMs before, int limit) {
    writeChanges();
    return selectJobs(
        _db,
        // The index's condition, then the state this call asks for.
        std::string("FROM jobs WHERE ") + kWaitingJobTerm +
            " AND queue_state = :state AND run_at <= :before ORDER BY run_at, id LIMIT :limit",
        [&](SqlQuery& q) { q.bind(static_cast<long long>(state)).bind(before).bind(limit); });
}

std::map<JobState, std::int64_t> SociTx::countJobsByState() {
    writeChanges();
    // Every state is present, with 0 where no job is in it.
    std::map<JobState, std::int64_t> counts;
    for (int s = 0; s <= static_cast<int>(JobState::Paused); ++s) {
        counts[static_cast<JobState>(s)] = 0;
    }
    SqlQuery query(_db);
    int state = 0;
    long long count = 0;
    query.into(state).into(count);
    if (query.run("SELECT queue_state, COUNT(*) FROM jobs GROUP BY queue_state")) {
        do {
            counts[static_cast<JobState>(state)] = count;
        } while (query.next());
    }
    return counts;
}

std::int64_t SociTx::countFailedJobs() {
    writeChanges();
    return countOf(_db, "SELECT COUNT(*) FROM jobs WHERE queue_state = :state AND failed = 1",
                   {static_cast<long long>(JobState::Completed)});
}

std::int64_t SociTx::countStartedBelowPriority(int threshold) {
    writeChanges();
    return countOf(_db, "SELECT COUNT(*) FROM jobs WHERE queue_state = :state AND priority < :p",
                   {static_cast<long long>(JobState::Started), threshold});
}

std::int64_t SociTx::countJobsInState(JobState state) {
    const bool keep = state == JobState::Started && _started.kept && _changesKnown;
    if (keep) {
        if (auto kept = _started.kept->value()) return *kept + _started.change;
        _started.ticket = _started.kept->beforeRead();
    }
    writeChanges();
    const std::int64_t count = countOf(_db, "SELECT COUNT(*) FROM jobs WHERE queue_state = :state",
                                       {static_cast<long long>(state)});
    if (keep) _started.before = count - _started.change;
    return count;
}

void SociTx::committing() {
    for (CountInTx* count : {&_started, &_queued}) {
        if (count->kept) count->commit = count->kept->committing(changeIfKnown(*count));
    }
    // Claims that go with COMMIT change the counts too, by what they find: unknown yet.
    if (_states && !_statesCommitting) {
        _statesCommit = _states->committing(_claims.empty() ? stateChangeIfKnown() : std::nullopt);
    }
    _statesCommitting = true;
}

void SociTx::commitsNow() {
    if (!_states || _statesCommitting || !_db.commitsEachWrite()) return;
    _statesCommit = _states->committing(std::nullopt);
    _statesCommitting = true;
}

SociTx::~SociTx() {
    if (_cache) _cache->abandoned(_marks);  // does nothing after committed()
    // A write that committed as it ran, then a throw: whether it happened is not known.
    if (_states && _statesCommitting) _states->commitLost(_statesCommit);
}

void SociTx::committed() {
    if (_cache) _cache->committed(_marks, _jobsSeen, _tasksSeen, _wholeJobs);
    for (CountInTx* count : {&_started, &_queued}) {
        if (!count->kept) continue;
        count->kept->committed(changeIfKnown(*count), count->commit,
                               _changesKnown ? count->before : std::nullopt, count->ticket);
    }
    if (_states) _states->committed(stateChangeIfKnown(), _statesCommit, std::nullopt, {});
    _statesCommitting = false;
}

void SociTx::commitLost() {
    if (_cache) _cache->abandoned(_marks);
    for (CountInTx* count : {&_started, &_queued}) {
        if (count->kept) count->kept->commitLost(count->commit);
    }
    if (_states) _states->commitLost(_statesCommit);
    _statesCommitting = false;
}

std::optional<std::int64_t> SociTx::changeIfKnown(const CountInTx& count) const {
    return _changesKnown ? std::optional<std::int64_t>(count.change) : std::nullopt;
}

std::optional<StateCounts> SociTx::stateChangeIfKnown() const {
    return _changesKnown && _tasksKnown ? std::optional<StateCounts>(_stateChange) : std::nullopt;
}

namespace {
bool isZero(std::int64_t change) { return change == 0; }
bool isZero(const StateCounts& change) { return change.isZero(); }
}  // namespace

template <class V>
std::optional<V> Kept<V>::value() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return _value;
}

template <class V>
typename Kept<V>::Ticket Kept<V>::beforeRead() const {
    std::lock_guard<std::mutex> lock(_mutex);
    return {_generation, _committing == 0};
}

template <class V>
typename Kept<V>::Commit Kept<V>::committing(const std::optional<V>& change) {
    std::lock_guard<std::mutex> lock(_mutex);
    if (change && isZero(*change)) return {_generation, false};  // never in the way
    ++_committing;
    return {++_generation, true};
}

template <class V>
void Kept<V>::committed(const std::optional<V>& change, const Commit& mine,
                        const std::optional<V>& read, const Ticket& ticket) {
    std::lock_guard<std::mutex> lock(_mutex);
    if (mine.counted) --_committing;
    if (!change) {
        _value.reset();  // counted again when next asked
    } else if (_value) {
        *_value += *change;
    } else if (read && ticket.clean) {
        // Nobody else began a commit that changes the count between the read and now: the
        // read saw every such commit, and missed none that came after it.
        const std::uint64_t expected = ticket.generation + (mine.counted ? 1 : 0);
        if (mine.generation == expected && _generation == expected) {
            _value = *read;
            *_value += *change;
        }
    }
}

template <class V>
void Kept<V>::commitLost(const Commit& mine) {
    std::lock_guard<std::mutex> lock(_mutex);
    if (mine.counted) --_committing;
    _value.reset();
}

template class Kept<std::int64_t>;
template class Kept<StateCounts>;

}  // namespace te::store
