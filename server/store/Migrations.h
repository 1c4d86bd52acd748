#pragma once

#include <soci/soci.h>

#include <limits>

namespace te::store {

enum class Dialect { Sqlite, Postgres };

// Brings the schema of the database behind `session` to the newest version, one transaction
// per migration, recording each in schema_migrations(version). Safe to call on every open and
// from several processes at once (PostgreSQL: advisory lock; SQLite: BEGIN IMMEDIATE).
// Throws StoreError. `upTo` stops at that version: the upgrade test builds an old schema so.
void applyMigrations(soci::session& session, Dialect dialect,
                     int upTo = std::numeric_limits<int>::max());

// The version the code expects after applyMigrations.
int latestSchemaVersion();

// The condition of the partial index tasks_queued (migration 3): a planner uses a partial
// index only for a query that repeats its condition (a bound parameter does not), so the
// queries build theirs from this. Never change it: that takes a new migration.
extern const char* const kQueuedTaskTerm;  // state = 1 (TaskState::Queued)
// The same for the partial job indexes of migration 4, jobs_queued and jobs_waiting.
extern const char* const kQueuedJobTerm;   // queue_state = 0 (JobState::Queued)
extern const char* const kWaitingJobTerm;  // queue_state IN (3, 5) (Pending, Scheduled)
// And those of migration 8, jobs_persisted and jobs_content: only the jobs that GET /jobs's
// persist=1 and search filters can find are in them.
extern const char* const kPersistedJobTerm;  // persist = 1
extern const char* const kContentJobTerm;    // content_id <> ''

// Highest applied version; 0 for an empty database.
int appliedSchemaVersion(soci::session& session);

}  // namespace te::store
