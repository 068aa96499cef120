package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrPostgresBackup is Backup or Restore on PostgreSQL, whose own tools do it
// better.
var ErrPostgresBackup = errors.New("the store is PostgreSQL: back it up with pg_dump (e.g. pg_dump --format=custom --file=pacer.dump DBNAME) and restore it with pg_restore")

// Backup writes a consistent copy of the SQLite store to path while others
// keep reading and writing (VACUUM INTO reads one snapshot). The copy is
// written beside path, synced, checked with CheckBackup and then renamed into
// place, so path is never a half-written file. An existing path is an error
// unless replace is set. The file is created with mode 0600: it holds health
// data.
func (s *Store) Backup(ctx context.Context, path string, replace bool) (version int, err error) {
	if s.dialect == Postgres {
		return 0, ErrPostgresBackup
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(abs); err == nil && !replace {
		return 0, fmt.Errorf("backup: %s exists; choose another file or replace it with --force", abs)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*.partial")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()
	// VACUUM INTO accepts an empty file; it runs on the writer connection
	// because the read pool is query-only.
	if _, err := s.w.ExecContext(ctx, `VACUUM INTO ?`, tmpName); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmpName); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if version, err = CheckBackup(ctx, tmpName); err != nil {
		return 0, fmt.Errorf("backup: the copy does not check out: %w", err)
	}
	if err := os.Rename(tmpName, abs); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return version, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// sqliteURI is a file: URI for path with the given query, so that '?', '#'
// or '%' in the path are escaped rather than read as parameters.
func sqliteURI(path, query string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String() + "?" + query
}

// CheckBackup opens an SQLite file read-only and returns its schema version
// if it is an intact pacer database of a schema this build knows.
func CheckBackup(ctx context.Context, path string) (int, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		return 0, fmt.Errorf("%s is not a pacer backup: it is empty or not a file", abs)
	}
	db, err := sql.Open("sqlite", sqliteURI(abs, "mode=ro&_pragma=busy_timeout(5000)"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil {
		return 0, fmt.Errorf("%s is not an SQLite database: %w", abs, err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("%s is damaged: %s", abs, check)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
		AND name IN ('schema_migrations', 'therapists', 'patients', 'sessions')`).Scan(&tables); err != nil {
		return 0, err
	}
	if tables != 4 {
		return 0, fmt.Errorf("%s is an SQLite database but not pacer's", abs)
	}
	var version int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return 0, err
	}
	ms, err := migrations(SQLite)
	if err != nil {
		return 0, err
	}
	if version < 1 || version > len(ms) {
		return 0, fmt.Errorf("%s has schema version %d; this pacer knows versions 1 to %d: restore it with the pacer that made it, or a newer one", abs, version, len(ms))
	}
	return version, nil
}

// Restore replaces the SQLite database dsn names with the backup at from,
// through SQLite's backup API, after checking the backup with CheckBackup. It
// refuses to replace an existing database unless replace is set, and refuses
// a database that any process has open (a running pacer): it takes an
// exclusive lock first and holds it until the copy is done. Restart pacer
// after a restore; it migrates the restored database if it is older.
func Restore(ctx context.Context, dsn, from string, replace bool) (version int, err error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return 0, ErrPostgresBackup
	}
	path, err := filepath.Abs(strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	src, err := filepath.Abs(from)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if src == path {
		return 0, errors.New("restore: the backup is the database itself")
	}
	if version, err = CheckBackup(ctx, src); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 && !replace {
		return 0, fmt.Errorf("restore: %s exists; stop pacer, then add --force to replace it with the backup", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if err := privateFiles(path); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	// locking_mode=EXCLUSIVE keeps the lock BEGIN EXCLUSIVE takes after the
	// transaction ends; with busy_timeout 0 the lock fails at once while
	// another connection, in this process or another, has the file open.
	db, err := sql.Open("sqlite", sqliteURI(path, "_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)"))
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		if e, ok := errors.AsType[*sqlite.Error](err); ok && e.Code()&0xff == sqlite3.SQLITE_BUSY {
			return 0, fmt.Errorf("restore: %s is in use; stop pacer (systemctl stop pacer) and try again", path)
		}
		return 0, fmt.Errorf("restore: lock %s: %w", path, err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(interface {
			NewRestore(string) (*sqlite.Backup, error)
		})
		if !ok {
			return errors.New("the SQLite driver has no backup API")
		}
		b, err := r.NewRestore(sqliteURI(src, "mode=ro"))
		if err != nil {
			return err
		}
		for {
			more, err := b.Step(-1)
			if err != nil {
				b.Finish()
				return err
			}
			if !more {
				return b.Finish()
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("restore: copy %s: %w", src, err)
	}
	var check string
	if err := conn.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check); err != nil || check != "ok" {
		return 0, fmt.Errorf("restore: the restored database does not check out: %v %s", err, check)
	}
	return version, nil
}
