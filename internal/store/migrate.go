package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migrations are append-only: a released file never changes; a schema change
// is a new file with the next number, for both dialects.
//
//go:embed migrations
var migrationFiles embed.FS

// migrationLock is the PostgreSQL advisory lock key under which migrations
// run, so that replicas starting together apply each migration once.
const migrationLock int64 = 0x7061636572_0001 // "pacer", 1

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order, checking that
// they are numbered 1, 2, 3… with no gap.
func migrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s/%s is not named NNNN_name.sql", dir, e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s/%s: expected version %d", dir, m.name, i+1)
		}
	}
	return ms, nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction together with its row in schema_migrations. It refuses a
// database whose schema is newer than this build knows.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.dialect)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for {
		done, err := s.migrateOne(ctx, ms)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the next missing migration and reports whether none was
// missing. The version is read inside the transaction, after the lock (on
// PostgreSQL the advisory lock, on SQLite the write lock BEGIN IMMEDIATE
// takes), so a concurrent migrator's work is seen, not repeated.
func (s *Store) migrateOne(ctx context.Context, ms []migration) (done bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return err
		}
		latest := len(ms)
		if cur > latest {
			return fmt.Errorf("the database schema is version %d, newer than this pacer (%d); upgrade pacer", cur, latest)
		}
		if cur == latest {
			done = true
			return nil
		}
		m := ms[cur]
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), m.version, s.nowMillis())
		return err
	})
	return done, err
}

// SchemaVersion returns the database's schema version: 0 before the first
// migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	exists := `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.dialect == Postgres {
		exists = `SELECT to_regclass('schema_migrations') IS NOT NULL`
	}
	var ok bool
	if err := s.r.QueryRowContext(ctx, exists).Scan(&ok); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if !ok {
		return 0, nil
	}
	var v int
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
