// Package reminderload is the fixture of pacer's reminder benchmark: it seeds
// an SQLite store with many patients whose session reminders fall due at one
// instant, runs the local HTTPS webhook sink that counts their arrival, and
// summarizes the lateness. scheduler's BenchmarkDispatch and
// scripts/reminder-load use it; production code must not import it.
//
// The rows are written with SQL in one transaction, because the store's
// methods commit one row at a time and would take minutes for 100,000
// patients. The rows are the ones the store writes itself (the test reads
// them back through the store), so what is measured is pacer's own path.
package reminderload

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// The program every seeded patient has, and the activity reminded.
const (
	ProgramID  = "walking"
	ActivityID = "walk"
)

// Seed describes the patients to add.
type Seed struct {
	Patients int
	// Due is when every reminder falls due; the session is at its local
	// minute (a reminder with the default lead of 0 is due at the session).
	Due time.Time
	// HookURL is the webhook sink's base URL; patient n's channel posts to
	// HookURL/hook/n, so the sink can tell who was reminded.
	HookURL string
	// Zone is every patient's IANA time zone; "UTC" when empty.
	Zone string
	// JobsRanAt, if set, records the periodic jobs (review, retention,
	// digest) as run then, as in a daemon that has been running: without
	// it, `pacer serve` catches up a review of every patient at start.
	JobsRanAt time.Time
}

// SeedSQLite migrates the SQLite store at path and adds one therapist and
// s.Patients patients, each with an active walking assignment, a planned
// session at s.Due, a webhook channel and a pending session reminder for
// it, due at s.Due. The store must have no patients yet.
func SeedSQLite(ctx context.Context, path string, s Seed) error {
	if s.Patients <= 0 || s.Due.IsZero() || s.HookURL == "" {
		return errors.New("seed: patients, due time and hook URL are required")
	}
	if s.Zone == "" {
		s.Zone = "UTC"
	}
	loc, err := time.LoadLocation(s.Zone)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	prog, ok := lib.Get(ProgramID)
	if !ok {
		return fmt.Errorf("seed: no %s program in the library", ProgramID)
	}
	act, ok := prog.Activity(ActivityID)
	if !ok {
		return fmt.Errorf("seed: the %s program has no activity %s", ProgramID, ActivityID)
	}

	st, err := store.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	err = st.Migrate(ctx)
	var t store.Therapist
	if err == nil {
		t, err = st.CreateTherapist(ctx, fmt.Sprintf("load-%d@pacer.invalid", time.Now().UnixNano()), "Load test", false)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	db, err := Open(path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM patients`).Scan(&have); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if have > 0 {
		return fmt.Errorf("seed: the store already has %d patients; seed a new file", have)
	}

	stmts := map[string]string{
		"patient": `INSERT INTO patients (id, therapist_id, name, email, timezone, discreet, alarm, feed_token_hash,
			checkin_token_hash, feed_nonce, checkin_nonce, feed_version, created_at)
			VALUES (?, ?, ?, '', ?, 1, 1, ?, ?, ?, ?, 0, ?)`,
		"assignment": `INSERT INTO assignments (id, patient_id, program_id, program, start_date, params, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, '{}', 'active', ?, ?)`,
		"session": `INSERT INTO sessions (id, assignment_id, patient_id, activity, date, slot, time, dose, sets, unit, week,
			status, projected, revision, updated_at)
			VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 1, 'planned', 0, 0, ?)`,
		"channel": `INSERT INTO channels (id, patient_id, type, config, created_at) VALUES (?, ?, 'webhook', ?, ?)`,
		"reminder": `INSERT INTO reminders (kind, session_id, patient_id, channel_id, dedupe_key, due_at, status,
			next_attempt_at, created_at) VALUES ('session', ?, ?, ?, ?, ?, 'pending', ?, ?)`,
	}
	prepared := map[string]*sql.Stmt{}
	for name, q := range stmts {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("seed: %s: %w", name, err)
		}
		defer st.Close()
		prepared[name] = st
	}

	now := time.Now().UnixMilli()
	local := s.Due.In(loc)
	date := programs.DateOf(local)
	minute := local.Hour()*60 + local.Minute()
	due := s.Due.UnixMilli()
	snapshot := prog.YAML()
	sets := max(act.Sets, 1)
	// Every patient has the same program, so the snapshots are equal (as
	// they are for everyone given a template that was not edited since).
	for n := 1; n <= s.Patients; n++ {
		id := int64(n)
		feedNonce, checkinNonce := rand.Text(), rand.Text()
		config, err := json.Marshal(map[string]string{"type": "webhook", "url": HookURL(s.HookURL, id)})
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		rows := []struct {
			name string
			args []any
		}{
			{"patient", []any{id, t.ID, "Patient " + strconv.Itoa(n), s.Zone,
				store.HashToken("feed " + feedNonce), store.HashToken("checkin " + checkinNonce),
				[]byte(feedNonce)[:16], []byte(checkinNonce)[:16], now}},
			{"assignment", []any{id, id, ProgramID, snapshot, int64(date), now, now}},
			{"session", []any{id, id, id, ActivityID, int64(date), minute, act.Baseline, sets, string(act.Unit), now}},
			{"channel", []any{id, id, string(config), now}},
			{"reminder", []any{id, id, id, fmt.Sprintf("session:%d:%d", id, id), due, due, now}},
		}
		for _, r := range rows {
			if _, err := prepared[r.name].ExecContext(ctx, r.args...); err != nil {
				return fmt.Errorf("seed: patient %d: %s: %w", n, r.name, err)
			}
		}
	}
	if !s.JobsRanAt.IsZero() {
		for _, job := range []string{"review", "retention", "digest"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO job_runs (name, last_run_at) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`, job, s.JobsRanAt.UnixMilli()); err != nil {
				return fmt.Errorf("seed: job runs: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Fresh statistics, as a long-running database would have them.
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	return nil
}

// HookURL is the webhook URL of patient id's channel.
func HookURL(base string, id int64) string {
	return base + "/hook/" + strconv.FormatInt(id, 10)
}

// Rearm makes every session reminder pending again, due at due, as if
// freshly written: for a benchmark that drains the same rows more than once.
func Rearm(ctx context.Context, path string, due time.Time) error {
	db, err := Open(path)
	if err != nil {
		return fmt.Errorf("rearm: %w", err)
	}
	defer db.Close()
	ms := due.UnixMilli()
	if _, err := db.ExecContext(ctx, `UPDATE reminders SET status = 'pending', due_at = ?, next_attempt_at = ?,
		attempts = 0, lease_until = NULL, sent_at = NULL, last_error = '', skip_reason = '' WHERE kind = 'session'`, ms, ms); err != nil {
		return fmt.Errorf("rearm: %w", err)
	}
	return nil
}

// Counts returns how many reminders have each status.
func Counts(ctx context.Context, path string) (map[string]int, error) {
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT status, COUNT(*) FROM reminders GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		out[status] = n
	}
	return out, rows.Err()
}

// Open opens the SQLite file at path as the store's writer does (WAL, foreign
// keys, a busy timeout, BEGIN IMMEDIATE), on one connection. The store must
// have been opened once, so that the file exists in WAL mode.
func Open(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	name := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", name) // registered by the store's import of modernc.org/sqlite
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}
