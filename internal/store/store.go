package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The dialects Dialect reports.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is pacer's database. It is safe for concurrent use.
type Store struct {
	dialect string
	// w takes every write. On SQLite it holds one connection, so writes are
	// serialized in the process and never meet SQLITE_BUSY from each other;
	// r is a separate pool of read-only connections, so reads (feeds under
	// load) do not queue behind writes. On PostgreSQL both are one pool.
	w, r *sql.DB
	// dsn is the PostgreSQL URL, for ListenChanges' connection of its own.
	dsn string
	now func() time.Time
	// programs holds decoded program snapshots by the SHA-256 of their YAML,
	// at most maxPrograms of them (program); held counts them.
	programs sync.Map
	held     atomic.Int64
	// observe, if set, is told how long each operation took (SetObserver).
	observe func(op string, start time.Time, err error)
}

// SetObserver sets the hook told each store operation's name, start and
// outcome (for the metrics); set it before the store is used.
func (s *Store) SetObserver(fn func(op string, start time.Time, err error)) { s.observe = fn }

// timed reports an operation to the observer: defer s.timed("op", time.Now(), &err).
func (s *Store) timed(op string, start time.Time, err *error) {
	if s.observe != nil {
		s.observe(op, start, *err)
	}
}

// dbtx is *sql.DB or *sql.Tx: what a query runs on.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Open opens the database named by dsn: a PostgreSQL URL (postgres:// or
// postgresql://), or else an SQLite file path, optionally written sqlite:PATH.
// A missing SQLite file is created, with its directory (mode 0700). Open does
// not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	switch {
	case path == "":
		return nil, errors.New("open store: the database path is empty; give a file path, sqlite:PATH or a postgres:// URL")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("open store: %q is not supported; give a file path (tests: one in t.TempDir())", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := privateFiles(abs); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// A file: URI, so that '?', '#' or '%' in the path are escaped rather than
	// read as the start of the parameters.
	name := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	const common = "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	// _txlock=immediate takes the write lock at BEGIN, so a transaction never
	// has to upgrade a read lock, which fails at once with SQLITE_BUSY
	// whatever busy_timeout says when another process holds the write lock.
	// synchronous=FULL syncs the WAL at every commit: a committed check-in or
	// reminder outcome survives a power loss, not only a crash of pacer.
	// secure_delete overwrites deleted content with zeros, so that an erased
	// patient's name does not linger in free pages of the file.
	w, err := sql.Open("sqlite", name+common+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	if err := w.PingContext(ctx); err != nil { // creates the file and switches it to WAL
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	r, err := sql.Open("sqlite", name+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return &Store{dialect: SQLite, w: w, r: r, now: time.Now}, nil
}

// privateFiles creates the database file readable by its owner only (mode
// 0600) if it does not exist, and takes other users' access away from the
// database and its WAL and shared-memory files if they have any: they hold
// patients' health data. SQLite gives the files it creates the database
// file's mode.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("make %s private (mode 0600): %w", p, err)
		}
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{dialect: Postgres, w: db, r: db, dsn: dsn, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks that the database answers, on both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("ping store: %w", err)
		}
	}
	return nil
}

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// q rebinds a query written with ? placeholders for the dialect: PostgreSQL
// numbers them ($1, $2, …). Queries must not hold a literal '?'.
func (s *Store) q(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := range len(query) {
		if c := query[i]; c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// inTx runs fn in one write transaction and commits if fn returns nil. When
// ctx ends during the transaction, the error says so (context.Canceled or
// DeadlineExceeded), whatever statement noticed first.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return ctxErr(ctx, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return ctxErr(ctx, err)
	}
	return ctxErr(ctx, tx.Commit())
}

// ctxErr makes err say that ctx ended, when it did: database/sql rolls a
// transaction back as its context ends, so the statement that fails may
// report only that its transaction or statement is closed.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// within runs fn in tx when it is not nil, else in a write transaction of its
// own (see inTx).
func (s *Store) within(ctx context.Context, tx *sql.Tx, fn func(tx *sql.Tx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return s.inTx(ctx, fn)
}

// millis is how instants are stored: UTC unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the time.Time for a stored instant; two reads of one value
// compare equal with ==.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nowMillis is the store clock's current instant, at the stored precision.
func (s *Store) nowMillis() int64 { return millis(s.now()) }

func nullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMillis(n.Int64)
}

// isUnique reports whether err is a violated unique or primary-key
// constraint.
func isUnique(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == "23505" // unique_violation
	}
	return false
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// checkHash rejects an empty token hash, which would match nothing and only
// hide a caller's mistake.
func checkHash(hashes ...[]byte) error {
	for _, h := range hashes {
		if len(h) == 0 {
			return errors.New("empty token hash")
		}
	}
	return nil
}
