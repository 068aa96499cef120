package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// JobLastRun returns when the periodic job last ran; ErrNotFound if never.
func (s *Store) JobLastRun(ctx context.Context, name string) (time.Time, error) {
	var at int64
	if err := s.r.QueryRowContext(ctx, s.q(`SELECT last_run_at FROM job_runs WHERE name = ?`), name).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("job %q last run: %w", name, notFound(err))
	}
	return fromMillis(at), nil
}

// SetJobLastRun records that the periodic job ran at at. The record never
// moves back: a late writer (a leader that lost its lock mid-run) cannot
// undo a newer one.
func (s *Store) SetJobLastRun(ctx context.Context, name string, at time.Time) error {
	if name == "" {
		return errors.New("set job last run: the name is empty")
	}
	if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO job_runs (name, last_run_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at
		WHERE job_runs.last_run_at < excluded.last_run_at`), name, millis(at)); err != nil {
		return fmt.Errorf("set job last run %q: %w", name, err)
	}
	return nil
}

// Leader is a role, such as running the periodic jobs, that one replica at
// a time holds.
//
// On PostgreSQL it is a session-level advisory lock held by a connection of
// its own, taken out of the pool until Release. PostgreSQL frees the lock
// when that session ends, so leadership is lost, without notice, if the
// connection dies (a network fault, a server restart, an administrator's
// pg_terminate_backend): call Check before each piece of leader work.
//
// On SQLite there is one daemon per database file (a CLI command beside it
// runs no jobs), so TryLeader always succeeds and Check reports true until
// Release.
type Leader struct {
	conn *sql.Conn // nil on SQLite
	key  int64
	pid  int // the PostgreSQL backend that holds the lock

	mu       sync.Mutex
	lost     bool
	released bool
}

// leaderKey is the advisory lock key of a role. Migrations use another
// (migrationLock), which a 64-bit hash does not meet in practice.
func leaderKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pacer leader\x00" + name))
	return int64(h.Sum64())
}

// TryLeader tries to become the leader for name without waiting: ok is false
// when another replica (or another Leader of this process) holds it. A
// leader keeps the role until Release or until Check reports false.
func (s *Store) TryLeader(ctx context.Context, name string) (l *Leader, ok bool, err error) {
	if name == "" {
		return nil, false, errors.New("try leader: the name is empty")
	}
	if s.dialect != Postgres {
		return &Leader{}, true, nil
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("try leader %q: %w", name, err)
	}
	key := leaderKey(name)
	var pid int
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1), pg_backend_pid()`, key).Scan(&ok, &pid); err != nil {
		// Whether the lock was taken is unknown: end the session, which
		// frees it if so, rather than return it to the pool.
		discard(conn)
		return nil, false, fmt.Errorf("try leader %q: %w", name, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return &Leader{conn: conn, key: key, pid: pid}, true, nil
}

// Check reports whether l still holds the role: on PostgreSQL, it asks the
// lock's session whether it holds the lock. Once false (an error counts: when
// unsure, assume lost, as two leaders are worse than none for a while) it
// stays false: stop the leader's work, Release, and call TryLeader again
// later.
func (l *Leader) Check(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost || l.released {
		return false
	}
	if l.conn == nil {
		return true
	}
	var held bool
	// An advisory lock on one bigint key is classid = its high 32 bits,
	// objid = its low 32 bits, objsubid = 1.
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
			AND classid = $1 AND objid = $2 AND objsubid = 1)`,
		int64(uint64(l.key)>>32), int64(uint32(l.key))).Scan(&held)
	if err != nil || !held {
		l.lost = true
		return false
	}
	return true
}

// Release gives the role up and returns the connection; it is safe to call
// more than once.
func (l *Leader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var unlocked bool
	if err := l.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key).Scan(&unlocked); err != nil || !unlocked {
		discard(l.conn)
		return
	}
	l.conn.Close()
}

// discard closes conn's session instead of returning it to the pool.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}
