// The durable callback outbox: events written in the transaction that caused them, delivered
// later in order per (job, endpoint).
#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"

namespace te::store {
namespace {

const char* const kCallbackColumns =
    "id, job_id, task_id, url, headers, body, client, state, attempts, last_error, created_at,"
    " next_attempt_at, delivered_at";

template <class Bind>
std::vector<CallbackEvent> selectCallbacks(Connection& db, const std::string& sql, Bind bind) {
    SqlQuery query(db);
    CallbackEvent row;
    int state = 0;
    query.into(row.id)
        .into(row.jobId)
        .into(row.taskId)
        .into(row.url)
        .into(row.headers)
        .into(row.body)
        .into(row.client)
        .into(state)
        .into(row.attempts)
        .into(row.lastError)
        .into(row.createdAt)
        .into(row.nextAttemptAt)
        .into(row.deliveredAt);
    bind(query);
    std::vector<CallbackEvent> events;
    if (query.run(sql)) {
        do {
            row.state = static_cast<CallbackEvent::State>(state);
            events.push_back(row);
        } while (query.next());
    }
    return events;
}

long long asInt(CallbackEvent::State s) { return static_cast<long long>(s); }

}  // namespace

std::int64_t SociTx::enqueueCallback(CallbackEvent& event) {
    const TimeMs now = nowMs();
    if (event.createdAt == 0) event.createdAt = now;
    if (event.nextAttemptAt == 0) event.nextAttemptAt = now;
    SqlQuery query(_db);
    long long id = 0;
    query.into(id)
        .bind(event.jobId)
        .bind(event.taskId)
        .bind(event.url)
        .bind(event.headers)
        .bind(event.body)
        .bind(event.client)
        .bind(asInt(event.state))
        .bind(event.attempts)
        .bind(event.lastError)
        .bind(event.createdAt)
        .bind(event.nextAttemptAt)
        .bind(event.deliveredAt);
    query.run(
        "INSERT INTO callbacks (job_id, task_id, url, headers, body, client, state, attempts,"
        " last_error, created_at, next_attempt_at, delivered_at) VALUES (:job_id, :task_id,"
        " :url, :headers, :body, :client, :state, :attempts, :last_error, :created_at,"
        " :next_attempt_at, :delivered_at) RETURNING id");
    event.id = id;
    return id;
}

std::vector<CallbackEvent> SociTx::dueCallbacks(TimeMs now, int limit) {
    // A due event whose (job, url) chain holds an older pending event waits for it: that
    // keeps delivery in order, and a head that is backing off holds back its chain only.
    return selectCallbacks(
        _db,
        std::string("SELECT ") + kCallbackColumns +
            " FROM callbacks c WHERE c.state = :pending AND c.next_attempt_at <= :now"
            " AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.job_id = c.job_id"
            " AND p.url = c.url AND p.state = :pending2 AND p.id < c.id)"
            " ORDER BY c.id LIMIT :limit",
        [&](SqlQuery& q) {
            q.bind(asInt(CallbackEvent::State::Pending)).bind(now);
            q.bind(asInt(CallbackEvent::State::Pending)).bind(limit);
        });
}

void SociTx::updateCallback(const CallbackEvent& event) {
    SqlQuery(_db)
        .bind(asInt(event.state))
        .bind(event.attempts)
        .bind(event.lastError)
        .bind(event.nextAttemptAt)
        .bind(event.deliveredAt)
        .bind(event.id)
        .run(
            "UPDATE callbacks SET state = :state, attempts = :attempts,"
            " last_error = :last_error, next_attempt_at = :next_attempt_at,"
            " delivered_at = :delivered_at WHERE id = :id");
}

std::vector<CallbackEvent> SociTx::listCallbacks(std::int64_t jobId) {
    return selectCallbacks(_db,
                           std::string("SELECT ") + kCallbackColumns +
                               " FROM callbacks WHERE job_id = :job_id ORDER BY id",
                           [&](SqlQuery& q) { q.bind(jobId); });
}

CallbackCounts SociTx::callbackCounts() {
    CallbackCounts counts;
    SqlQuery query(_db);
    int state = 0;
    long long count = 0;
    query.into(state).into(count);
    if (query.run("SELECT state, COUNT(*) FROM callbacks GROUP BY state")) {
        do {
            switch (static_cast<CallbackEvent::State>(state)) {
                case CallbackEvent::State::Pending:
                    counts.pending = count;
                    break;
                case CallbackEvent::State::Delivered:
                    counts.delivered = count;
                    break;
                case CallbackEvent::State::Dead:
                    counts.dead = count;
                    break;
            }
        } while (query.next());
    }
    return counts;
}

}  // namespace te::store
