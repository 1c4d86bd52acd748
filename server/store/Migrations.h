#pragma once

#include <soci/soci.h>

namespace te::store {

enum class Dialect { Sqlite, Postgres };

// Brings the schema of the database behind `session` to the newest version, one transaction
// per migration, recording each in schema_migrations(version). Safe to call on every open and
// from several processes at once (PostgreSQL: advisory lock; SQLite: BEGIN IMMEDIATE).
// Throws StoreError.
void applyMigrations(soci::session& session, Dialect dialect);

// The version the code expects after applyMigrations.
int latestSchemaVersion();

// The condition of the partial index tasks_queued (migration 3): a planner uses a partial
// index only for a query that repeats its condition (a bound parameter does not), so the
// queries build theirs from this. Never change it: that takes a new migration.
extern const char* const kQueuedTaskTerm;  // state = 1 (TaskState::Queued)

// Highest applied version; 0 for an empty database.
int appliedSchemaVersion(soci::session& session);

}  // namespace te::store
