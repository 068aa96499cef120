// Package reminderload is the fixture of pacer's reminder benchmark: it seeds
// an SQLite or PostgreSQL store with many patients whose session reminders
// fall due at one instant, runs the local HTTPS webhook sink that counts
// their arrival by dedupe key, and summarizes the lateness. scheduler's
// BenchmarkDispatch and crash test and scripts/reminder-load use it;
// production code must not import it.
//
// The rows are written with SQL in one transaction (COPY on PostgreSQL),
// because the store's methods commit one row at a time and would take
// minutes for 100,000 patients. The rows are the ones the store writes
// itself (the test reads them back through the store), so what is measured
// is pacer's own path.
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
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	f, err := newFixture(ctx, path, s)
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
	if err := noPatients(ctx, tx); err != nil {
		return err
	}
	for _, t := range f.tables(func(b bool) any { return b }) {
		insert, err := tx.PrepareContext(ctx, `INSERT INTO `+t.name+` (`+strings.Join(t.columns, ", ")+`)
			VALUES (?`+strings.Repeat(", ?", len(t.columns)-1)+`)`)
		if err != nil {
			return fmt.Errorf("seed: %s: %w", t.name, err)
		}
		defer insert.Close()
		for n := 1; n <= s.Patients; n++ {
			if _, err := insert.ExecContext(ctx, t.row(int64(n))...); err != nil {
				return fmt.Errorf("seed: patient %d: %s: %w", n, t.name, err)
			}
		}
	}
	if err := f.jobRuns(ctx, tx); err != nil {
		return err
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

// SeedAt is SeedPostgres for a PostgreSQL URL, SeedSQLite otherwise.
func SeedAt(ctx context.Context, dsn string, s Seed) error {
	if IsPostgres(dsn) {
		return SeedPostgres(ctx, dsn, s)
	}
	return SeedSQLite(ctx, dsn, s)
}

// SeedPostgres is SeedSQLite on the PostgreSQL database (and schema, if its
// search_path names one) at dsn, with COPY.
func SeedPostgres(ctx context.Context, dsn string, s Seed) error {
	f, err := newFixture(ctx, dsn, s)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var have int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM patients`).Scan(&have); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if have > 0 {
		return fmt.Errorf("seed: the store already has %d patients; seed a new schema", have)
	}
	for _, t := range f.tables(func(b bool) any { return b }) {
		n := int64(0)
		rows := pgx.CopyFromFunc(func() ([]any, error) {
			if n == int64(s.Patients) {
				return nil, nil
			}
			n++
			return t.row(n), nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, rows); err != nil {
			return fmt.Errorf("seed: %s: %w", t.name, err)
		}
		// COPY wrote the ids; the identity goes on after them.
		if t.columns[0] == "id" {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, t.name, s.Patients); err != nil {
				return fmt.Errorf("seed: %s: %w", t.name, err)
			}
		}
	}
	if !f.seed.JobsRanAt.IsZero() {
		for _, job := range []string{"review", "retention", "digest"} {
			if _, err := tx.Exec(ctx, `INSERT INTO job_runs (name, last_run_at) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`, job, f.seed.JobsRanAt.UnixMilli()); err != nil {
				return fmt.Errorf("seed: job runs: %w", err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	return nil
}

// fixture makes the seeded rows.
type fixture struct {
	seed      Seed
	therapist int64
	snapshot  []byte
	act       *programs.Activity
	date      programs.Date
	minute    int
	now       int64
}

// newFixture checks s, migrates the store at dsn and adds the therapist
// through the store's own methods.
func newFixture(ctx context.Context, dsn string, s Seed) (*fixture, error) {
	if s.Patients <= 0 || s.Due.IsZero() || s.HookURL == "" {
		return nil, errors.New("patients, due time and hook URL are required")
	}
	if s.Zone == "" {
		s.Zone = "UTC"
	}
	loc, err := time.LoadLocation(s.Zone)
	if err != nil {
		return nil, err
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return nil, err
	}
	prog, ok := lib.Get(ProgramID)
	if !ok {
		return nil, fmt.Errorf("no %s program in the library", ProgramID)
	}
	act, ok := prog.Activity(ActivityID)
	if !ok {
		return nil, fmt.Errorf("the %s program has no activity %s", ProgramID, ActivityID)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	local := s.Due.In(loc)
	// Every patient has the same program, so the snapshots are equal (as
	// they are for everyone given a template that was not edited since).
	return &fixture{seed: s, therapist: t.ID, snapshot: prog.YAML(), act: act, date: programs.DateOf(local),
		minute: local.Hour()*60 + local.Minute(), now: time.Now().UnixMilli()}, nil
}

// table is one table's columns, and its row for patient n.
type table struct {
	name    string
	columns []string
	row     func(n int64) []any
}

// tables are the rows of each patient, table by table in the order their
// references need; boolean is how the dialect takes a boolean.
func (f *fixture) tables(boolean func(bool) any) []table {
	s, due := f.seed, f.seed.Due.UnixMilli()
	sets := max(f.act.Sets, 1)
	return []table{
		{"patients", []string{"id", "therapist_id", "name", "email", "timezone", "discreet", "alarm", "feed_token_hash",
			"checkin_token_hash", "feed_nonce", "checkin_nonce", "feed_version", "created_at"},
			func(n int64) []any {
				feedNonce, checkinNonce := rand.Text(), rand.Text()
				return []any{n, f.therapist, "Patient " + strconv.FormatInt(n, 10), "", s.Zone, boolean(true), boolean(true),
					store.HashToken("feed " + feedNonce), store.HashToken("checkin " + checkinNonce),
					[]byte(feedNonce)[:16], []byte(checkinNonce)[:16], int64(0), f.now}
			}},
		{"assignments", []string{"id", "patient_id", "program_id", "program", "start_date", "params", "status",
			"created_at", "updated_at"},
			func(n int64) []any {
				return []any{n, n, ProgramID, f.snapshot, int64(f.date), "{}", "active", f.now, f.now}
			}},
		// A plan header under the current rules, as a daemon that planned
		// the patient holds: without it `pacer serve` re-plans every patient
		// at start (store.StalePatients), which replaces the seeded session
		// by the program's own and cancels its reminder.
		{"plans", []string{"assignment_id", "patient_id", "rules_version", "now", "planned_at", "weeks", "pause",
			"paused_on", "answers", "flare_on", "persistent"},
			func(n int64) []any {
				return []any{n, n, int64(programs.RulesVersion), int64(f.date), f.now, int64(1), "", int64(0), "[]", int64(0), boolean(false)}
			}},
		{"sessions", []string{"id", "assignment_id", "patient_id", "activity", "date", "slot", "time", "dose", "sets",
			"unit", "week", "status", "projected", "revision", "updated_at"},
			func(n int64) []any {
				return []any{n, n, n, ActivityID, int64(f.date), int64(0), int64(f.minute), int64(f.act.Baseline),
					int64(sets), string(f.act.Unit), int64(1), "planned", boolean(false), int64(0), f.now}
			}},
		{"channels", []string{"id", "patient_id", "type", "config", "created_at"},
			func(n int64) []any {
				// The store's canonical form: keys sorted, no spaces.
				config, _ := json.Marshal(map[string]string{"type": "webhook", "url": HookURL(s.HookURL, n)})
				return []any{n, n, "webhook", string(config), f.now}
			}},
		{"reminders", []string{"kind", "session_id", "patient_id", "channel_id", "dedupe_key", "due_at", "status",
			"next_attempt_at", "created_at"},
			func(n int64) []any {
				return []any{"session", n, n, n, fmt.Sprintf("session:%d:%d", n, n), due, "pending", due, f.now}
			}},
	}
}

// jobRuns records the periodic jobs as run at JobsRanAt, if set (SQLite).
func (f *fixture) jobRuns(ctx context.Context, tx *sql.Tx) error {
	if f.seed.JobsRanAt.IsZero() {
		return nil
	}
	for _, job := range []string{"review", "retention", "digest"} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_runs (name, last_run_at) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`, job, f.seed.JobsRanAt.UnixMilli()); err != nil {
			return fmt.Errorf("seed: job runs: %w", err)
		}
	}
	return nil
}

func noPatients(ctx context.Context, tx *sql.Tx) error {
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM patients`).Scan(&have); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if have > 0 {
		return fmt.Errorf("seed: the store already has %d patients; seed a new file", have)
	}
	return nil
}

// HookURL is the webhook URL of patient id's channel.
func HookURL(base string, id int64) string {
	return base + "/hook/" + strconv.FormatInt(id, 10)
}

// Rearm makes every session reminder pending again, due at due, as if
// freshly written: for a benchmark that drains the same rows more than once.
// dsn is an SQLite path or a PostgreSQL URL.
func Rearm(ctx context.Context, dsn string, due time.Time) error {
	db, err := Open(dsn)
	if err != nil {
		return fmt.Errorf("rearm: %w", err)
	}
	defer db.Close()
	ms := due.UnixMilli()
	if _, err := db.ExecContext(ctx, rebind(dsn, `UPDATE reminders SET status = 'pending', due_at = ?, next_attempt_at = ?,
		attempts = 0, lease_until = NULL, sent_at = NULL, last_error = '', skip_reason = '' WHERE kind = 'session'`), ms, ms); err != nil {
		return fmt.Errorf("rearm: %w", err)
	}
	return nil
}

// Counts returns how many reminders have each status; dsn is an SQLite path
// or a PostgreSQL URL.
func Counts(ctx context.Context, dsn string) (map[string]int, error) {
	db, err := Open(dsn)
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

// IsPostgres reports whether dsn is a PostgreSQL URL rather than an SQLite
// path.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// rebind numbers the ? placeholders of query for PostgreSQL.
func rebind(dsn, query string) string {
	if !IsPostgres(dsn) {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Open opens the database at dsn: a PostgreSQL URL, or an SQLite file path,
// opened as the store's writer opens it (WAL, synchronous=FULL, foreign
// keys, a busy timeout, BEGIN IMMEDIATE) on one connection. An SQLite store
// must have been opened once, so that the file exists in WAL mode.
func Open(dsn string) (*sql.DB, error) {
	if IsPostgres(dsn) {
		return sql.Open("pgx", dsn) // registered by the store's import of pgx/v5/stdlib
	}
	abs, err := filepath.Abs(dsn)
	if err != nil {
		return nil, err
	}
	name := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", name) // registered by the store's import of modernc.org/sqlite
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// PostgresSchema creates a schema of its own, with a random name, in the
// PostgreSQL database at base, and returns base with a search_path that
// names it, and a function that drops it.
func PostgresSchema(ctx context.Context, base string) (dsn string, drop func() error, err error) {
	u, err := url.Parse(base)
	if err != nil || !IsPostgres(base) {
		return "", nil, fmt.Errorf("postgres schema: %q is not a postgres:// URL", base)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	schema := "pacer_load_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("postgres schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() error {
		_, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		return errors.Join(err, admin.Close())
	}, nil
}
