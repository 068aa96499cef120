package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Changes between replicas. Several `pacer serve` may share one PostgreSQL
// database, and each caches what it derives from a patient's rows (the
// rendered feed, found by its token). Every transaction that changes a
// patient's rows queues a notice in itself (pg_notify), so PostgreSQL
// delivers it to every listening replica when, and only when, it commits;
// ListenChanges hears them. SQLite serves one process, whose own hooks
// (clinic.Changed) see every change: nothing is sent there.

// changesChannel is the PostgreSQL channel the notices go on. A notice's
// payload is "<schema>:<patient id>" or "<schema>:*" (every patient): pacers
// in other schemas of the same database hear it too, and ignore it.
const changesChannel = "pacer_changes"

// notifyChanged queues, in tx, the notice that the patient's rows changed.
func (s *Store) notifyChanged(ctx context.Context, tx *sql.Tx, patientID int64) error {
	return s.notify(ctx, tx, strconv.FormatInt(patientID, 10))
}

// notifyAll queues, in tx, the notice that any patient's rows may have
// changed.
func (s *Store) notifyAll(ctx context.Context, tx *sql.Tx) error { return s.notify(ctx, tx, "*") }

func (s *Store) notify(ctx context.Context, tx *sql.Tx, what string) error {
	if s.dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+changesChannel+`', current_schema() || ':' || $1)`,
		what); err != nil {
		return fmt.Errorf("notify replicas: %w", err)
	}
	return nil
}

// ErrNoReplicas is ListenChanges on SQLite: one process serves the database,
// so there are no other replicas to hear.
var ErrNoReplicas = errors.New("listen for changes: an SQLite store has no other replicas")

// changeCheck is how long ListenChanges waits for a notice before it checks
// that its connection still answers: a connection cut without a word (a
// dropped network path) would otherwise wait for ever, hearing nothing.
const changeCheck = 30 * time.Second

// ListenChanges listens, on a connection of its own, for the changes that
// any replica (this one included) commits, until the connection fails or ctx
// ends, and returns why (ctx's error when it ended). It calls listening once
// notices flow: changes committed before then were not heard. For each
// notice it calls changed with the patient's id, or with all set when any
// patient may have changed.
func (s *Store) ListenChanges(ctx context.Context, listening func(), changed func(patientID int64, all bool)) error {
	if s.dialect != Postgres {
		return ErrNoReplicas
	}
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	defer func() {
		closing, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(closing)
	}()
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	// The name tells an operator (and a test) whose connection this is.
	if _, err := conn.Exec(ctx, `SELECT set_config('application_name', $1, false)`,
		"pacer changes "+schema); err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+changesChannel); err != nil {
		return fmt.Errorf("listen for changes: %w", err)
	}
	listening()
	prefix := schema + ":"
	for {
		wait, cancel := context.WithTimeout(ctx, changeCheck)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: the connection must still answer.
			ping, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Ping(ping)
			cancel()
			if err != nil {
				return fmt.Errorf("listen for changes: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("listen for changes: %w", err)
		}
		what, ours := strings.CutPrefix(n.Payload, prefix)
		if !ours {
			continue
		}
		if what == "*" {
			changed(0, true)
			continue
		}
		id, err := strconv.ParseInt(what, 10, 64)
		changed(id, err != nil) // a notice not understood: anything may have changed
	}
}
