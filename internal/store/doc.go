// Package store owns pacer's persistent state: the schema and its embedded,
// versioned migrations, and every SQL statement pacer runs, for both the
// embedded SQLite database (modernc.org/sqlite, the default) and PostgreSQL
// (pgx, for several replicas). It is the single source of truth for
// therapists, patients, tokens (as hashes), assignments, check-ins, overrides,
// materialized sessions and weekly decisions.
//
// Every patient-scoped read takes the therapist's id and answers ErrNotFound
// for another therapist's rows, so callers cannot leak them by accident.
//
// The store speaks database/sql with hand-written SQL; it knows nothing of
// HTTP or calendars. It must not import net/http or the web, feed or
// scheduler packages: they import it.
package store
