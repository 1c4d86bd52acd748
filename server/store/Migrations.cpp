#include "server/store/Migrations.h"

#include <string>
#include <vector>

#include "server/store/SociTx.h"
#include "server/store/SqlQuery.h"
#include "shared/Errors.h"
#include "shared/model/Job.h"
#include "shared/model/Task.h"
#include "shared/model/Time.h"

namespace te::store {

static_assert(static_cast<int>(TaskState::Queued) == 1,
              "the partial index of migration 3 names the queued state by number");
const char* const kQueuedTaskTerm = "state = 1";
static_assert(static_cast<int>(JobState::Queued) == 0 && static_cast<int>(JobState::Pending) == 3 &&
                  static_cast<int>(JobState::Scheduled) == 5,
              "the partial indexes of migration 4 name these states by number");
const char* const kQueuedJobTerm = "queue_state = 0";
const char* const kWaitingJobTerm = "queue_state IN (3, 5)";
const char* const kPersistedJobTerm = "persist = 1";
const char* const kContentJobTerm = "content_id <> ''";
// The sequences' steps of migrations 6 and 7, written out in their SQL: a step that did not
// match would give packed log entries ids that the next row takes too.
static_assert(IdBlocks::kBlock == 256, "migration 6 steps the jobs' and tasks' ids by kBlock");
static_assert(SociTx::kLogPack == 16, "migration 7 steps the logs' ids by kLogPack");

namespace {

// Schema changes, in order, never edited once released: add a new entry instead.
// "{ID}" stands for the auto-increment primary key, the only place the dialects differ.
// Conventions: timestamps are BIGINT ms since the epoch (UTC), 0 meaning "not yet"; enums are
// stored as their integer values (JobState is the API's numeric id); booleans as 0/1; text
// columns are NOT NULL DEFAULT '' so empty and missing are one thing; only tasks.exit_code is
// nullable (a task that has not exited has no code).
struct Migration {
    int version;
    std::vector<std::string> statements;
    std::vector<std::string> postgresOnly = {};  // run after `statements`, on PostgreSQL alone
};

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> all = {
        {1,
         {
             "CREATE TABLE jobs ("
             " id {ID},"
             " client TEXT NOT NULL DEFAULT '',"
             " workflow TEXT NOT NULL DEFAULT '',"
             " priority INTEGER NOT NULL DEFAULT 5,"
             " parameters TEXT NOT NULL DEFAULT '',"
             " headers TEXT NOT NULL DEFAULT '',"
             " context TEXT NOT NULL DEFAULT '',"
             " content_id TEXT NOT NULL DEFAULT '',"
             " queue_state INTEGER NOT NULL DEFAULT 0,"
             " failed INTEGER NOT NULL DEFAULT 0,"
             " persist INTEGER NOT NULL DEFAULT 0,"
             " semaphore_url TEXT NOT NULL DEFAULT '',"
             " message TEXT NOT NULL DEFAULT '',"
             " stage INTEGER NOT NULL DEFAULT -1,"
             " created_at BIGINT NOT NULL,"
             " updated_at BIGINT NOT NULL,"
             " run_at BIGINT NOT NULL DEFAULT 0,"
             " started_at BIGINT NOT NULL DEFAULT 0,"
             " finished_at BIGINT NOT NULL DEFAULT 0)",
             // Admission order (queuedJobs, queuePosition) and the scheduler's jobsDue.
             "CREATE INDEX jobs_admission ON jobs (queue_state, priority, run_at, id)",
             "CREATE INDEX jobs_due ON jobs (queue_state, run_at)",
             // GET /jobs filters and order_by columns.
             "CREATE INDEX jobs_created ON jobs (created_at)",
             "CREATE INDEX jobs_updated ON jobs (updated_at)",
             "CREATE INDEX jobs_run_at ON jobs (run_at)",
             "CREATE INDEX jobs_client ON jobs (client, id)",
             "CREATE INDEX jobs_workflow ON jobs (workflow)",
             "CREATE INDEX jobs_priority ON jobs (priority)",
             "CREATE INDEX jobs_content ON jobs (content_id)",
             "CREATE INDEX jobs_failed ON jobs (failed, queue_state)",
             "CREATE INDEX jobs_persist ON jobs (persist)",

             "CREATE TABLE tasks ("
             " id {ID},"
             " job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
             " stage INTEGER NOT NULL DEFAULT 0,"
             " name TEXT NOT NULL DEFAULT '',"
             " kind INTEGER NOT NULL DEFAULT 0,"
             " state INTEGER NOT NULL DEFAULT 0,"
             " queue TEXT NOT NULL DEFAULT '',"
             " target_worker TEXT NOT NULL DEFAULT '',"
             " worker TEXT NOT NULL DEFAULT '',"
             " attempt INTEGER NOT NULL DEFAULT 1,"
             " max_attempts INTEGER NOT NULL DEFAULT 1,"
             " priority INTEGER NOT NULL DEFAULT 5,"
             " builtin TEXT NOT NULL DEFAULT '',"
             " command TEXT NOT NULL DEFAULT '',"
             " args TEXT NOT NULL DEFAULT '',"
             " env TEXT NOT NULL DEFAULT '',"
             " inputs TEXT NOT NULL DEFAULT '',"
             " timeout_sec INTEGER NOT NULL DEFAULT 0,"
             " output TEXT NOT NULL DEFAULT '',"
             " message TEXT NOT NULL DEFAULT '',"
             " exit_code INTEGER,"
             " created_at BIGINT NOT NULL,"
             " not_before BIGINT NOT NULL DEFAULT 0,"
             " lease_until BIGINT NOT NULL DEFAULT 0,"
             " started_at BIGINT NOT NULL DEFAULT 0,"
             " finished_at BIGINT NOT NULL DEFAULT 0)",
             // claimTasks: queued tasks of a queue in priority order; also the counts by state.
             "CREATE INDEX tasks_claim ON tasks (state, queue, priority, id)",
             "CREATE INDEX tasks_job ON tasks (job_id, id)",
             // renewLeases by worker; expiredLeases by lease end.
             "CREATE INDEX tasks_worker ON tasks (worker, state)",
             "CREATE INDEX tasks_lease ON tasks (state, lease_until)",

             "CREATE TABLE logs ("
             " id {ID},"
             " job_id BIGINT NOT NULL,"
             " task_id BIGINT NOT NULL DEFAULT 0,"
             " severity INTEGER NOT NULL DEFAULT 1,"
             " progname TEXT NOT NULL DEFAULT '',"
             " message TEXT NOT NULL DEFAULT '',"
             " created_at BIGINT NOT NULL)",
             "CREATE INDEX logs_job ON logs (job_id, id)",

             "CREATE TABLE settings ("
             " name TEXT PRIMARY KEY,"
             " value TEXT NOT NULL DEFAULT '')",

             "CREATE TABLE schedules ("
             " name TEXT PRIMARY KEY,"
             " class_name TEXT NOT NULL DEFAULT '',"
             " every_sec INTEGER NOT NULL DEFAULT 60,"
             " first_in_sec INTEGER NOT NULL DEFAULT 5,"
             " queue TEXT NOT NULL DEFAULT '',"
             " description TEXT NOT NULL DEFAULT '',"
             " active INTEGER NOT NULL DEFAULT 1)",

             // The durable callback outbox.
             "CREATE TABLE callbacks ("
             " id {ID},"
             " job_id BIGINT NOT NULL,"
             " task_id BIGINT NOT NULL DEFAULT 0,"
             " url TEXT NOT NULL DEFAULT '',"
             " headers TEXT NOT NULL DEFAULT '',"
             " body TEXT NOT NULL DEFAULT '',"
             " client TEXT NOT NULL DEFAULT '',"
             " state INTEGER NOT NULL DEFAULT 0,"
             " attempts INTEGER NOT NULL DEFAULT 0,"
             " last_error TEXT NOT NULL DEFAULT '',"
             " created_at BIGINT NOT NULL,"
             " next_attempt_at BIGINT NOT NULL,"
             " delivered_at BIGINT NOT NULL DEFAULT 0)",
             "CREATE INDEX callbacks_due ON callbacks (state, next_attempt_at)",
             // The head-of-chain test of dueCallbacks: pending rows of one (job, url) by id.
             "CREATE INDEX callbacks_chain ON callbacks (job_id, url, state, id)",
         }},
        {2,
         {
             // anyStageTask: the engine's fan-in test on every task result of a stage.
             "CREATE INDEX tasks_stage ON tasks (job_id, stage, state)",
         }},
        {3,
         {
             // A task's index entries moved with every change of its state: four indexes
             // held the state, each rewritten at every step of a task's life, most of the
             // dispatcher's page writes per commit. Now one index holds the state, and the
             // claim's index only the queued tasks, which leave it once claimed. Its
             // condition is literal (kQueuedTaskTerm) and the queries repeat it, or no
             // planner could use it.
             "DROP INDEX tasks_claim",
             "DROP INDEX tasks_worker",
             "DROP INDEX tasks_lease",
             "DROP INDEX tasks_stage",
             // claimTasks in priority order, undeliveredTargeted, pending counts by queue.
             std::string("CREATE INDEX tasks_queued ON tasks (queue, priority, id) WHERE ") +
                 kQueuedTaskTerm,
             // Everything else by state: anyStageTask (one probe per state), the leases of
             // assigned and running tasks (no more than the workers' slots), the totals.
             "CREATE INDEX tasks_state ON tasks (state, job_id, stage)",
         }},
        {4,
         {
             // The same for jobs: three indexes held the state (admission, due, failed), so
             // a job's start and its end each moved three entries. Now one index holds the
             // state, and the admission's and the scheduler's indexes only the jobs they look
             // for (conditions: kQueuedJobTerm, kWaitingJobTerm).
             "DROP INDEX jobs_admission",
             "DROP INDEX jobs_due",
             "DROP INDEX jobs_failed",
             // queuedJobs in admission order, queuePosition. The state leads although it
             // is the same in every row: SQLite, without statistics, would otherwise take
             // jobs_state's equality on it and sort.
             std::string("CREATE INDEX jobs_queued ON jobs (queue_state, priority, run_at, id)"
                         " WHERE ") +
                 kQueuedJobTerm,
             // jobsDue: scheduled and pending jobs by run_at.
             std::string("CREATE INDEX jobs_waiting ON jobs (queue_state, run_at) WHERE ") +
                 kWaitingJobTerm,
             // Counts by state (/health, admission), failed jobs, GET /jobs?state=.
             "CREATE INDEX jobs_state ON jobs (queue_state, failed, priority)",
         }},
        {5,
         {},
         {
             // Log rows are only ever read by job (logs_job), yet PostgreSQL kept a second
             // index of them by id: 7 of the ~60 WAL records a job wrote, ~5% of end-to-end
             // throughput. The sequence still numbers them. SQLite's id is the rowid itself,
             // no index of its own, so nothing to drop there.
             "ALTER TABLE logs DROP CONSTRAINT IF EXISTS logs_pkey",
         }},
        {6,
         {},
         {
             // IdBlocks took a block of 256 ids with 256 calls of nextval (0.6 ms, 5% of the
             // submissions' statements). A sequence that steps by 256 gives a block per call.
             // IdBlocks::kBlock (static_assert above).
             "DO $$ BEGIN"
             " EXECUTE format('ALTER SEQUENCE %s INCREMENT BY 256',"
             " pg_get_serial_sequence('jobs', 'id'));"
             " EXECUTE format('ALTER SEQUENCE %s INCREMENT BY 256',"
             " pg_get_serial_sequence('tasks', 'id'));"
             " END $$",
         }},
        {7,
         {
             // PostgreSQL packs a job's log entries of one transaction into one row (SociTx::
             // kLogPack): the first in the columns, the others here. Empty on SQLite.
             "ALTER TABLE logs ADD COLUMN more TEXT NOT NULL DEFAULT ''",
         },
         {
             // The packed entries are numbered after their row's id: SociTx::kLogPack
             // (static_assert above).
             "DO $$ BEGIN"
             " EXECUTE format('ALTER SEQUENCE %s INCREMENT BY 16',"
             " pg_get_serial_sequence('logs', 'id'));"
             " END $$",
         }},
        {8,
         {
             // A job's insert and its last UPDATE (never a HOT one on PostgreSQL: it changes
             // the state) each wrote an entry in every job index. Two of them held little but
             // the same value for every job: the persist flag, which only its filter's `1`
             // finds usefully, and the content id, empty unless the client gives one. Now
             // they hold only the jobs their filters look for; the queries repeat the
             // conditions (kPersistedJobTerm, kContentJobTerm). IF EXISTS: an index a DBA
             // dropped by hand must not stop the upgrade.
             "DROP INDEX IF EXISTS jobs_persist",
             std::string("CREATE INDEX jobs_persisted ON jobs (id) WHERE ") + kPersistedJobTerm,
             "DROP INDEX IF EXISTS jobs_content",
             std::string("CREATE INDEX jobs_content ON jobs (content_id) WHERE ") + kContentJobTerm,
         },
         {
             // No filter reads workflow or priority; they served order_by alone, and little:
             // `ORDER BY priority, id` must still sort each run of equal priorities, and a
             // table holds few values of either (1M jobs of ten priorities: 57-73 ms with the
             // index, 120 ms without; of one, the planner did not use it). With the changes
             // above, a no-op job's statements took 10% less time and wrote a quarter fewer
             // WAL records. SQLite's indexes end in the rowid, so there they give that order
             // outright and stay.
             "DROP INDEX IF EXISTS jobs_workflow",
             "DROP INDEX IF EXISTS jobs_priority",
         }},
    };
    return all;
}

std::string forDialect(std::string sql, Dialect dialect) {
    const std::string token = "{ID}";
    const std::string id =
        dialect == Dialect::Sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
    for (auto pos = sql.find(token); pos != std::string::npos; pos = sql.find(token, pos)) {
        sql.replace(pos, token.size(), id);
    }
    return sql;
}

void exec(soci::session& session, const std::string& sql) { SqlQuery(session).run(sql); }

}  // namespace

int latestSchemaVersion() { return migrations().back().version; }

int appliedSchemaVersion(soci::session& session) {
    int version = 0;
    soci::indicator indicator = soci::i_null;
    SqlQuery query(session);
    query.into(version, indicator).run("SELECT MAX(version) FROM schema_migrations");
    return indicator == soci::i_ok ? version : 0;
}

void applyMigrations(soci::session& session, Dialect dialect, int upTo) {
    exec(session,
         "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
         " applied_at BIGINT NOT NULL)");
    for (const Migration& migration : migrations()) {
        if (migration.version > upTo) break;
        exec(session, dialect == Dialect::Sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
        try {
            if (dialect == Dialect::Postgres) {
                // Two servers opening one fresh database must not both migrate it.
                exec(session, "SELECT pg_advisory_xact_lock(7474201)");
            }
            if (appliedSchemaVersion(session) >= migration.version) {
                exec(session, "ROLLBACK");
                continue;
            }
            for (const std::string& statement : migration.statements) {
                exec(session, forDialect(statement, dialect));
            }
            if (dialect == Dialect::Postgres) {
                for (const std::string& statement : migration.postgresOnly)
                    exec(session, statement);
            }
            SqlQuery record(session);
            record.bind(migration.version)
                .bind(nowMs())
                .run("INSERT INTO schema_migrations (version, applied_at) VALUES (:v, :at)");
            exec(session, "COMMIT");
        } catch (const std::exception& e) {
            try {
                exec(session, "ROLLBACK");
            } catch (const std::exception&) {
                // The connection is gone; the migration error below says why.
            }
            throw StoreError("schema migration " + std::to_string(migration.version) +
                             " failed: " + oneLine(e.what()));
        }
    }
}

}  // namespace te::store
