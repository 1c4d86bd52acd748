// Logs, settings and schedules: small tables read by the API and the scheduler.
#include <algorithm>

#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"

namespace te::store {

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
    addInserts(batch, "logs", "job_id, task_id, severity, progname, message, created_at",
               _logs.size(), [&](size_t i, SqlQuery& query) {
                   const LogEntry& e = _logs[i];
                   query.bind(e.jobId)
                       .bind(e.taskId)
                       .bind(static_cast<long long>(e.severity))
                       .bind(e.progname)
                       .bind(e.message)
                       .bind(e.createdAt);
               });
    _logs.clear();
    return batch.send(thenCommit);
}

std::vector<LogEntry> SociTx::listLogs(std::int64_t jobId, int limit) {
    flush();
    SqlQuery query(_db);
    LogEntry row;
    int severity = 0;
    query.into(row.id)
        .into(row.jobId)
        .into(row.taskId)
        .into(severity)
        .into(row.progname)
        .into(row.message)
        .into(row.createdAt);
    query.bind(jobId);
    std::string sql =
        "SELECT id, job_id, task_id, severity, progname, message, created_at FROM logs"
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
        } while (query.next());
    }
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
