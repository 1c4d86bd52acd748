// Logs, settings and schedules: small tables read by the API and the scheduler.
#include <Poco/JSON/Array.h>
#include <Poco/JSONString.h>

#include <algorithm>
#include <unordered_map>

#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "shared/util/Json.h"

namespace te::store {
namespace {

// The `more` of a row of packed entries (see SociTx::kLogPack): [[task_id, severity,
// progname, message, created_at], ...].
std::string packLogs(const std::vector<const LogEntry*>& entries) {
    std::string out = "[";
    for (const LogEntry* e : entries) {
        if (out.size() > 1) out += ',';
        out += '[' + std::to_string(e->taskId) + ',' +
               std::to_string(static_cast<long long>(e->severity)) + ',';
        out += Poco::toJSON(e->progname, Poco::JSON_WRAP_STRINGS) + ',' +
               Poco::toJSON(e->message, Poco::JSON_WRAP_STRINGS) + ',' +
               std::to_string(e->createdAt) + ']';
    }
    return out + ']';
}

// The entries of `more` after `head`, numbered after it.
void unpackLogs(const LogEntry& head, const std::string& more, std::vector<LogEntry>& out) {
    Poco::JSON::Array::Ptr rows;
    try {
        rows = json::parse(more).extract<Poco::JSON::Array::Ptr>();
    } catch (const std::exception& e) {
        throw StoreError("log row " + std::to_string(head.id) +
                         " holds unreadable entries: " + e.what());
    }
    for (size_t k = 0; rows && k < rows->size(); ++k) {
        Poco::JSON::Array::Ptr row = rows->getArray(static_cast<unsigned>(k));
        if (!row || row->size() != 5) {
            throw StoreError("log row " + std::to_string(head.id) + " holds a malformed entry");
        }
        LogEntry e;
        e.id = head.id + static_cast<std::int64_t>(k) + 1;
        e.jobId = head.jobId;
        e.taskId = row->getElement<Poco::Int64>(0);
        e.severity = static_cast<Severity>(row->getElement<int>(1));
        e.progname = row->getElement<std::string>(2);
        e.message = row->getElement<std::string>(3);
        e.createdAt = row->getElement<Poco::Int64>(4);
        out.push_back(std::move(e));
    }
}

}  // namespace

void SociTx::appendLog(LogEntry& entry) {
    if (entry.createdAt == 0) entry.createdAt = nowMs();
    _logs.push_back(entry);
}

bool SociTx::flush(bool thenCommit) {
    // One batch: on PostgreSQL the transaction's last writes cost one round trip.
    WriteBatch batch(_db);
    addJobWrites(batch);
    addTaskWrites(batch);
    addClaims(batch);
    addLogs(batch);
    return batch.send(thenCommit);
}

void SociTx::addLogs(WriteBatch& batch) {
    auto bindEntry = [](const LogEntry& e, SqlQuery& query) {
        query.bind(e.jobId)
            .bind(e.taskId)
            .bind(static_cast<long long>(e.severity))
            .bind(e.progname)
            .bind(e.message)
            .bind(e.createdAt);
    };
    if (_dialect != Dialect::Postgres) {
        // SQLite numbers rows one by one (AUTOINCREMENT): no room for packed entries' ids.
        addInserts(batch, "logs", "job_id, task_id, severity, progname, message, created_at",
                   _logs.size(), [&](size_t i, SqlQuery& query) { bindEntry(_logs[i], query); });
        _logs.clear();
        return;
    }
    // Each job's entries in packs of up to kLogPack, in the order they were appended.
    std::vector<std::vector<const LogEntry*>> packs;
    std::unordered_map<std::int64_t, size_t> open;  // job -> its pack being filled
    for (const LogEntry& e : _logs) {
        auto it = open.find(e.jobId);
        if (it == open.end() || packs[it->second].size() == kLogPack) {
            it = open.insert_or_assign(e.jobId, packs.size()).first;
            packs.emplace_back();
        }
        packs[it->second].push_back(&e);
    }
    addInserts(
        batch, "logs", "job_id, task_id, severity, progname, message, created_at, more",
        packs.size(), [&](size_t i, SqlQuery& query) {
            const auto& pack = packs[i];
            bindEntry(*pack.front(), query);
            query.bind(pack.size() == 1 ? std::string() : packLogs({pack.begin() + 1, pack.end()}));
        });
    _logs.clear();
}

std::vector<LogEntry> SociTx::listLogs(std::int64_t jobId, int limit) {
    flush();
    SqlQuery query(_db);
    LogEntry row;
    int severity = 0;
    std::string more;
    query.into(row.id)
        .into(row.jobId)
        .into(row.taskId)
        .into(severity)
        .into(row.progname)
        .into(row.message)
        .into(row.createdAt)
        .into(more);
    query.bind(jobId);
    // A row's packed entries are numbered between its id and the next row's: in id order,
    // `limit` rows hold at least the first `limit` entries.
    std::string sql =
        "SELECT id, job_id, task_id, severity, progname, message, created_at, more FROM logs"
        " WHERE job_id = :job_id ORDER BY id";
    if (limit > 0) {
        sql += " LIMIT :limit";
        query.bind(limit);
    }
    std::vector<LogEntry> entries;
    if (query.run(sql)) {
        do {
            row.severity = static_cast<Severity>(severity);
            entries.push_back(row);
            if (!more.empty()) unpackLogs(row, more, entries);
        } while (query.next());
    }
    if (limit > 0 && entries.size() > static_cast<size_t>(limit)) entries.resize(limit);
    return entries;
}

std::map<std::string, std::string> SociTx::settings() {
    std::map<std::string, std::string> values;
    SqlQuery query(_db);
    std::string name, value;
    query.into(name).into(value);
    if (query.run("SELECT name, value FROM settings")) {
        do {
            values[name] = value;
        } while (query.next());
    }
    return values;
}

void SociTx::putSetting(const std::string& name, const std::string& value) {
    SqlQuery(_db).bind(name).bind(value).run(
        "INSERT INTO settings (name, value) VALUES (:name, :value)"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value");
}

std::vector<Schedule> SociTx::schedules() {
    SqlQuery query(_db);
    Schedule row;
    int active = 0;
    query.into(row.name)
        .into(row.className)
        .into(row.everySec)
        .into(row.firstInSec)
        .into(row.queue)
        .into(row.description)
        .into(active);
    std::vector<Schedule> list;
    if (query.run("SELECT name, class_name, every_sec, first_in_sec, queue, description, active"
                  " FROM schedules ORDER BY name")) {
        do {
            row.active = active != 0;
            list.push_back(row);
        } while (query.next());
    }
    return list;
}

void SociTx::ensureSchedule(const Schedule& s) {
    // `active` is written only by the insert: an operator's PUT /scheduler outlives restarts.
    SqlQuery(_db)
        .bind(s.name)
        .bind(s.className)
        .bind(s.everySec)
        .bind(s.firstInSec)
        .bind(s.queue)
        .bind(s.description)
        .bind(s.active ? 1 : 0)
        .run(
            "INSERT INTO schedules (name, class_name, every_sec, first_in_sec, queue,"
            " description, active) VALUES (:name, :class_name, :every_sec, :first_in_sec,"
            " :queue, :description, :active) ON CONFLICT (name) DO UPDATE SET"
            " class_name = excluded.class_name, every_sec = excluded.every_sec,"
            " first_in_sec = excluded.first_in_sec, queue = excluded.queue,"
            " description = excluded.description");
}

void SociTx::setScheduleActive(const std::string& name, bool active) {
    SqlQuery query(_db);
    query.bind(active ? 1 : 0)
        .bind(name)
        .run("UPDATE schedules SET active = :active WHERE name = :name");
    if (query.affectedRows() == 0) throw NotFoundError("no schedule named '" + name + "'");
}

}  // namespace te::store
