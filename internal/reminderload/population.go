package reminderload

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/programs"
)

// Zone is a time zone and its share of a population's patients.
type Zone struct {
	Name   string
	Weight float64
}

// Spread is where the seeded patients live when they are spread over
// realistic time zones: the countries whose languages pacer's catalogues
// speak (English and German), in proportion to their populations in
// millions. The largest group whose day begins in the same hour is the
// eastern time of the United States and Canada, 31%.
var Spread = []Zone{
	{"America/New_York", 140}, {"America/Detroit", 5}, {"America/Indiana/Indianapolis", 7},
	{"America/Kentucky/Louisville", 3}, {"America/Toronto", 25},
	{"America/Chicago", 95}, {"America/Winnipeg", 2},
	{"America/Denver", 20}, {"America/Phoenix", 7}, {"America/Edmonton", 5},
	{"America/Los_Angeles", 52}, {"America/Vancouver", 7},
	{"America/Anchorage", 1}, {"Pacific/Honolulu", 1.5}, {"America/Halifax", 2}, {"America/St_Johns", 0.5},
	{"Europe/London", 67}, {"Europe/Dublin", 5},
	{"Europe/Berlin", 84}, {"Europe/Vienna", 9}, {"Europe/Zurich", 9},
	{"Australia/Sydney", 8}, {"Australia/Melbourne", 7}, {"Australia/Brisbane", 5}, {"Australia/Perth", 3},
	{"Australia/Adelaide", 1.4}, {"Pacific/Auckland", 5},
}

// Population describes patients seeded as a running pacer holds them: each
// with the walking program assigned HistoryDays ago, most of its past
// sessions checked in, a webhook channel, and everything a re-plan stores
// (sessions, plan weeks and events, reminders), as of Now.
type Population struct {
	Patients int
	Zones    []Zone // where they live; one zone is the worst case
	// Now is the instant the stored plans are of: every plan was computed
	// then, as if each patient had been re-planned at that moment.
	Now time.Time
	// HookURL is the webhook sink's base URL (see Seed.HookURL).
	HookURL string
	// Key is the server's secret key, so that the seeded feed and
	// check-in links are the ones the server accepts.
	Key []byte
	// HistoryDays is about how long ago the program started (default 15:
	// in its third week); the templates of a zone start up to a week
	// apart from it.
	HistoryDays int
	// Templates is how many patients per zone are built through the clinic
	// (default 8): they start on different days of the week and miss
	// different sessions, so that on any day some patients' plans change
	// much and others' little, as in a real population.
	Templates int
	// JobsRanAt records the periodic jobs as run then (see Seed.JobsRanAt).
	JobsRanAt time.Time
	// Feeds is about how many feed paths to return, spread over the
	// patients (default 3 per zone).
	Feeds int
	// Log, if set, is told the progress.
	Log func(format string, args ...any)
}

// Seeded is what SeedPopulation made.
type Seeded struct {
	// Templates are the patients seeded through the clinic, by zone;
	// every other patient is a copy of one of them.
	Templates map[string][]int64
	// Feeds are the feed paths (/feed/TOKEN.ics) of a few patients per zone,
	// for a load on the feeds.
	Feeds []string
}

// SeedPopulation seeds p.Patients patients into the empty store at dsn (an
// SQLite path or a PostgreSQL URL). For each zone it builds one patient
// through pacer's own clinic — added, given a webhook channel, assigned the
// walking program, checked in evening by evening (every fourth session
// left missed), and re-planned at p.Now — and then copies that patient's
// rows in every table as many times as the zone's share asks, each copy
// with ids, links, names, channel and dedupe keys of its own. So the
// database holds what a server that planned every patient itself would
// hold, at a cost of rows written rather than re-plans computed;
// VerifyPopulation re-plans a sample to show that nothing changes.
func SeedPopulation(ctx context.Context, dsn string, p Population) (Seeded, error) {
	if p.HistoryDays == 0 {
		p.HistoryDays = 15
	}
	if p.Templates == 0 {
		p.Templates = 8
	}
	if p.Patients < len(p.Zones)*p.Templates || p.Now.IsZero() || p.HookURL == "" || len(p.Key) == 0 {
		return Seeded{}, errors.New("seed population: patients (at least one per template), zones, now, hook URL and key are required")
	}
	logf := p.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return Seeded{}, err
	}
	out, clones, err := seedTemplates(ctx, st, p)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Seeded{}, fmt.Errorf("seed population: %w", err)
	}
	logf("seeded the template patients of %d zones through the clinic; copying them", len(out.Templates))
	var w rowWriter
	if IsPostgres(dsn) {
		w, err = newPostgresWriter(ctx, dsn)
	} else {
		w, err = newSQLiteWriter(ctx, dsn)
	}
	if err != nil {
		return Seeded{}, fmt.Errorf("seed population: %w", err)
	}
	if err := copyTemplates(ctx, w, p, &out, clones, logf); err != nil {
		w.close(false)
		return Seeded{}, fmt.Errorf("seed population: %w", err)
	}
	if err := w.close(true); err != nil {
		return Seeded{}, fmt.Errorf("seed population: %w", err)
	}
	if !p.JobsRanAt.IsZero() {
		db, err := Open(dsn)
		if err != nil {
			return Seeded{}, err
		}
		defer db.Close()
		for _, job := range []string{"review", "retention", "digest"} {
			if _, err := db.ExecContext(ctx, rebind(dsn, `INSERT INTO job_runs (name, last_run_at) VALUES (?, ?)
				ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at`), job, p.JobsRanAt.UnixMilli()); err != nil {
				return Seeded{}, fmt.Errorf("seed population: job runs: %w", err)
			}
		}
	}
	return out, nil
}

// seedTemplates migrates the store and builds p.Templates patients per zone
// through the clinic; it returns how many copies each template needs.
func seedTemplates(ctx context.Context, st *store.Store, p Population) (Seeded, map[int64]int, error) {
	out := Seeded{Templates: map[string][]int64{}}
	if err := st.Migrate(ctx); err != nil {
		return out, nil, err
	}
	if ps, err := st.ActivePatientsAfter(ctx, 0, 1); err != nil || len(ps) > 0 {
		return out, nil, errors.Join(err, errors.New("the store already has patients; seed a new one"))
	}
	keys, err := clinic.NewKeyring(p.Key)
	if err != nil {
		return out, nil, err
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return out, nil, err
	}
	prog, ok := lib.Get(ProgramID)
	if !ok {
		return out, nil, fmt.Errorf("no %s program in the library", ProgramID)
	}
	th, err := st.CreateTherapist(ctx, fmt.Sprintf("population-%d@pacer.invalid", time.Now().UnixNano()), "Load test", false)
	if err != nil {
		return out, nil, err
	}
	now := p.Now
	base, _ := url.Parse("https://pacer.invalid")
	c := &clinic.Clinic{Store: st, Keys: keys, BaseURL: base, Library: lib, Now: func() time.Time { return now },
		Log: slog.New(slog.DiscardHandler)}

	total := 0.0
	for _, z := range p.Zones {
		total += z.Weight
	}
	clones := map[int64]int{}
	left := p.Patients
	for i, z := range p.Zones {
		n := int(float64(p.Patients) * z.Weight / total)
		if i == len(p.Zones)-1 {
			n = left
		}
		n = max(n, p.Templates)
		left -= n
		loc, err := c.Zone(z.Name)
		if err != nil {
			return out, nil, err
		}
		today := programs.DateOf(p.Now.In(loc))
		for t := range p.Templates {
			// Start on different days of the week; miss every missEvery-th
			// session (none for some).
			start := today.AddDays(-p.HistoryDays - t)
			missEvery := []int{0, 3, 4, 5, 6, 8, 0, 10}[t%8]
			id, err := template(ctx, c, st, th.ID, prog, z.Name, loc, start, today, missEvery, p, &now)
			if err != nil {
				return out, nil, fmt.Errorf("template %s #%d: %w", z.Name, t+1, err)
			}
			now = p.Now
			if err := c.Replan(ctx, id); err != nil {
				return out, nil, err
			}
			out.Templates[z.Name] = append(out.Templates[z.Name], id)
			clones[id] = n/p.Templates - 1
			if t == p.Templates-1 {
				clones[id] = n - (p.Templates-1)*(n/p.Templates) - 1
			}
		}
	}
	return out, clones, nil
}

// template adds a patient through the clinic, with a webhook channel and the
// program assigned from start, and checks in every planned session at 20:00
// on its day, up to p.Now, but for every missEvery-th; *now is the clinic's
// clock.
func template(ctx context.Context, c *clinic.Clinic, st *store.Store, therapist int64, prog *programs.Program, zone string,
	loc *time.Location, start, today programs.Date, missEvery int, p Population, now *time.Time) (int64, error) {
	*now = start.In(loc, 8*60)
	pt, err := c.AddPatient(ctx, therapist, clinic.NewPatient{Name: "Template " + zone, Timezone: zone, Discreet: true})
	if err != nil {
		return 0, err
	}
	if err := st.WithPatient(ctx, pt.ID, func(tx *store.PatientTx) error {
		cfg, _ := json.Marshal(map[string]string{"type": "webhook", "url": HookURL(p.HookURL, pt.ID)})
		_, err := tx.SetChannels([]store.Channel{{Type: "webhook", Config: cfg}})
		return err
	}); err != nil {
		return 0, err
	}
	if _, err := c.Assign(ctx, therapist, pt.ID, clinic.Assignment{Program: prog, Start: start}); err != nil {
		return 0, err
	}
	planned := 0
	for d := start; d <= today && d.In(loc, 20*60).Before(p.Now); d = d.AddDays(1) {
		xs, err := st.Sessions(ctx, pt.ID, d, d)
		if err != nil {
			return 0, err
		}
		if len(xs) == 0 || xs[0].Status == programs.Cancelled {
			continue
		}
		if planned++; missEvery > 0 && planned%missEvery == 0 {
			continue
		}
		*now = d.In(loc, 20*60)
		if _, err := c.CheckIn(ctx, pt, clinic.CheckIn{CheckIn: programs.CheckIn{Date: d, Kind: programs.SessionCheckIn,
			Activity: ActivityID, Status: programs.Done}}); err != nil {
			return 0, fmt.Errorf("check-in on %s: %w", d, err)
		}
	}
	return pt.ID, nil
}

// rowWriter writes rows of the tables, in the order the references need.
type rowWriter interface {
	write(ctx context.Context, table string, columns []string, rows [][]any) error
	// commit ends a transaction and begins the next.
	commit(ctx context.Context) error
	close(ok bool) error
	db() dbQuerier
}

type dbQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// templateRows are one table's rows of a template patient.
type templateRows struct {
	table   string
	columns []string
	rows    [][]any
}

// The tables a patient's rows live in, with the columns copied, in the
// order their references need; where picks the template's rows.
var patientTables = []struct{ table, columns, where string }{
	{"patients", "id, therapist_id, name, email, timezone, discreet, alarm, feed_token_hash, checkin_token_hash, feed_nonce, checkin_nonce, feed_version, created_at", "id = ?"},
	{"assignments", "id, patient_id, program_id, program, start_date, params, status, created_at, updated_at", "patient_id = ?"},
	{"checkins", "id, patient_id, assignment_id, date, kind, body, created_at, retracted_at", "patient_id = ?"},
	{"sessions", "id, assignment_id, patient_id, activity, date, slot, time, dose, sets, unit, week, status, projected, actual, pain, calibration, extra, cause, shown, revision, updated_at", "patient_id = ?"},
	{"plans", "assignment_id, patient_id, rules_version, now, planned_at, weeks, pause, paused_on, answers, flare_on, flare_ask, persistent, digest", "patient_id = ?"},
	{"plan_weeks", "assignment_id, week, activity, start_date, projected, code, decided_for, facts, unit, dose, sets, goal, threshold, learned, ceiling, done, planned, signals", "assignment_id IN (SELECT id FROM assignments WHERE patient_id = ?)"},
	{"plan_events", "assignment_id, week, seq, date, code, activity, facts", "assignment_id IN (SELECT id FROM assignments WHERE patient_id = ?)"},
	{"channels", "id, patient_id, therapist_id, type, config, created_at", "patient_id = ?"},
	{"notify_settings", "patient_id, quiet_start, quiet_end, quiet_drop, lead_minutes, nudge_hours, language, updated_at", "patient_id = ?"},
	{"reminders", "id, kind, session_id, patient_id, therapist_id, channel_id, dedupe_key, due_at, status, attempts, next_attempt_at, lease_until, last_error, skip_reason, payload, sent_at, created_at", "patient_id = ? AND therapist_id IS NULL"},
}

// readTemplate reads a template patient's rows, table by table. Reminders
// due before now are recorded sent, as a running server would have sent
// them.
func readTemplate(ctx context.Context, db dbQuerier, dsn string, id int64, now time.Time) ([]templateRows, error) {
	var out []templateRows
	for _, t := range patientTables {
		rows, err := db.QueryContext(ctx, rebind(dsn, `SELECT `+t.columns+` FROM `+t.table+` WHERE `+t.where+` ORDER BY 1`), id)
		if err != nil {
			return nil, fmt.Errorf("read template %d: %s: %w", id, t.table, err)
		}
		cols := strings.Split(t.columns, ", ")
		tr := templateRows{table: t.table, columns: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			tr.rows = append(tr.rows, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if t.table == "reminders" {
			at := col(cols, "due_at")
			for _, r := range tr.rows {
				if due := asInt(r[at]); due < now.UnixMilli() && r[col(cols, "status")] == "pending" {
					r[col(cols, "status")], r[col(cols, "sent_at")], r[col(cols, "attempts")] = "sent", due, int64(1)
				}
			}
		}
		out = append(out, tr)
	}
	return out, nil
}

func col(cols []string, name string) int {
	for i, c := range cols {
		if c == name {
			return i
		}
	}
	panic("no column " + name)
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return 0
}

// copyTemplates writes each template's copies; the templates' own rows are
// rewritten too (their sent reminders).
func copyTemplates(ctx context.Context, w rowWriter, p Population, seeded *Seeded, clones map[int64]int, logf func(string, ...any)) error {
	keys, err := clinic.NewKeyring(p.Key)
	if err != nil {
		return err
	}
	next := map[string]int64{}
	for _, t := range []string{"patients", "assignments", "checkins", "sessions", "channels", "reminders"} {
		var maxID sql.NullInt64
		rows, err := w.db().QueryContext(ctx, `SELECT MAX(id) FROM `+t)
		if err != nil {
			return err
		}
		rows.Next()
		rows.Scan(&maxID)
		rows.Close()
		next[t] = maxID.Int64
	}
	const perCommit = 2000
	done := 0
	start := time.Now()
	buf := map[string][][]any{}
	flush := func() error {
		for _, t := range patientTables {
			if rows := buf[t.table]; len(rows) > 0 {
				if err := w.write(ctx, t.table, strings.Split(t.columns, ", "), rows); err != nil {
					return fmt.Errorf("%s: %w", t.table, err)
				}
				buf[t.table] = rows[:0]
			}
		}
		return w.commit(ctx)
	}
	for _, z := range p.Zones {
		for _, tid := range seeded.Templates[z.Name] {
			tpl, err := readTemplate(ctx, w.db(), dsnOf(w), tid, p.Now)
			if err != nil {
				return err
			}
			// The template's reminders, now sent where due: rewritten in place.
			if err := w.write(ctx, "reminders:replace", tpl[len(tpl)-1].columns, tpl[len(tpl)-1].rows); err != nil {
				return err
			}
			for n := range clones[tid] {
				c, err := clonePatient(tpl, next, keys, p.HookURL)
				if err != nil {
					return err
				}
				for _, t := range c {
					buf[t.table] = append(buf[t.table], t.rows...)
				}
				if every := max(p.Patients/max(p.Feeds, 1), 1); (p.Feeds == 0 && n == 0) || (p.Feeds > 0 && done%every == 0) {
					seeded.Feeds = append(seeded.Feeds, feedPath(keys, c[0].rows[0]))
				}
				if done++; done%perCommit == 0 {
					if err := flush(); err != nil {
						return err
					}
					if done%(50*perCommit) == 0 {
						logf("copied %d patients in %v", done, time.Since(start).Round(time.Second))
					}
				}
			}
		}
	}
	return flush()
}

func feedPath(keys clinic.Keyring, patient []any) string {
	return "/feed/" + keys.FeedToken(patient[9].([]byte)) + ".ics"
}

// clonePatient copies a template's rows with fresh ids (taken from next),
// links, name, channel URL and dedupe keys.
func clonePatient(tpl []templateRows, next map[string]int64, keys clinic.Keyring, hookURL string) ([]templateRows, error) {
	ids := map[string]map[int64]int64{}
	newID := func(table string, old int64) int64 {
		next[table]++
		if ids[table] == nil {
			ids[table] = map[int64]int64{}
		}
		ids[table][old] = next[table]
		return next[table]
	}
	mapped := func(table string, v any) any {
		if v == nil {
			return nil
		}
		id, ok := ids[table][asInt(v)]
		if !ok {
			return v
		}
		return id
	}
	out := make([]templateRows, len(tpl))
	var patient int64
	for i, t := range tpl {
		out[i] = templateRows{table: t.table, columns: t.columns, rows: make([][]any, len(t.rows))}
		for j, r := range t.rows {
			x := append([]any(nil), r...)
			switch t.table {
			case "patients":
				patient = newID("patients", asInt(x[0]))
				feed, err := clinic.NewNonce()
				if err != nil {
					return nil, err
				}
				checkin, err := clinic.NewNonce()
				if err != nil {
					return nil, err
				}
				x[0], x[2] = patient, "Patient "+strconv.FormatInt(patient, 10)
				x[7], x[8] = store.HashToken(keys.FeedToken(feed)), store.HashToken(keys.CheckinToken(checkin))
				x[9], x[10] = feed, checkin
			case "assignments":
				x[0], x[1] = newID("assignments", asInt(x[0])), patient
			case "checkins":
				x[0], x[1], x[2] = newID("checkins", asInt(x[0])), patient, mapped("assignments", x[2])
			case "sessions":
				x[0], x[1], x[2] = newID("sessions", asInt(x[0])), mapped("assignments", x[1]), patient
			case "plans":
				x[0], x[1] = mapped("assignments", x[0]), patient
			case "plan_weeks", "plan_events":
				x[0] = mapped("assignments", x[0])
			case "channels":
				x[0], x[1] = newID("channels", asInt(x[0])), patient
				cfg, _ := json.Marshal(map[string]string{"type": "webhook", "url": HookURL(hookURL, patient)})
				x[4] = string(cfg)
			case "notify_settings":
				x[0] = patient
			case "reminders":
				x[0], x[2], x[3], x[5] = newID("reminders", asInt(x[0])), mapped("sessions", x[2]), patient, mapped("channels", x[5])
				key, err := cloneKey(asString(x[6]), asInt(x[2]), asInt(x[5]), patient)
				if err != nil {
					return nil, err
				}
				x[6] = key
			}
			out[i].rows[j] = x
		}
	}
	return out, nil
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// cloneKey is a reminder's dedupe key for the copy: kind:session:channel for
// a session's reminders, kind:pPATIENT:date:channel for a message.
func cloneKey(key string, session, channel, patient int64) (string, error) {
	parts := strings.Split(key, ":")
	switch {
	case len(parts) == 3:
		return fmt.Sprintf("%s:%d:%d", parts[0], session, channel), nil
	case len(parts) == 4 && strings.HasPrefix(parts[1], "p"):
		return fmt.Sprintf("%s:p%d:%s:%d", parts[0], patient, parts[2], channel), nil
	}
	return "", fmt.Errorf("dedupe key %q: unknown form", key)
}

// sqliteWriter bulk-loads an SQLite file: without a journal and without
// syncs while it loads (a crash mid-seed only spoils the seed), back in WAL
// mode when it closes.
type sqliteWriter struct {
	path  string
	conn  *sql.DB
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func newSQLiteWriter(ctx context.Context, path string) (*sqliteWriter, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	name := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String() + "?_pragma=foreign_keys(0)"
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, pragma := range []string{`PRAGMA journal_mode=DELETE`, `PRAGMA journal_mode=OFF`, `PRAGMA synchronous=OFF`,
		`PRAGMA cache_size=-262144`} {
		if _, err := db.ExecContext(ctx, pragma); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", pragma, err)
		}
	}
	w := &sqliteWriter{path: path, conn: db, stmts: map[string]*sql.Stmt{}}
	w.tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

func (w *sqliteWriter) db() dbQuerier { return w.tx }

// rowsPerInsert is how many rows one INSERT statement carries.
const rowsPerInsert = 64

func (w *sqliteWriter) write(ctx context.Context, table string, columns []string, rows [][]any) error {
	verb := "INSERT"
	if t, ok := strings.CutSuffix(table, ":replace"); ok {
		table, verb = t, "INSERT OR REPLACE"
	}
	one := "(?" + strings.Repeat(", ?", len(columns)-1) + ")"
	for len(rows) > 0 {
		n := min(len(rows), rowsPerInsert)
		q := verb + ` INTO ` + table + ` (` + strings.Join(columns, ", ") + `) VALUES ` + one + strings.Repeat(", "+one, n-1)
		st, ok := w.stmts[q]
		if !ok {
			var err error
			if st, err = w.tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			w.stmts[q] = st
		}
		args := make([]any, 0, n*len(columns))
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (w *sqliteWriter) commit(ctx context.Context) error {
	for _, st := range w.stmts {
		st.Close()
	}
	clear(w.stmts)
	if err := w.tx.Commit(); err != nil {
		return err
	}
	var err error
	w.tx, err = w.conn.BeginTx(ctx, nil)
	return err
}

func (w *sqliteWriter) close(ok bool) error {
	defer w.conn.Close()
	if !ok {
		w.tx.Rollback()
		return nil
	}
	if err := w.tx.Commit(); err != nil {
		return err
	}
	// Statistics as a long-running database has them (sampled), and the
	// journal mode pacer opens the file in.
	for _, q := range []string{`PRAGMA analysis_limit=1000`, `ANALYZE`, `PRAGMA journal_mode=WAL`} {
		if _, err := w.conn.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// postgresWriter bulk-loads PostgreSQL with COPY.
type postgresWriter struct {
	dsn  string
	conn *pgx.Conn
	std  *sql.DB
	tx   pgx.Tx
}

func newPostgresWriter(ctx context.Context, dsn string) (*postgresWriter, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	std, err := sql.Open("pgx", dsn)
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Close(ctx)
		std.Close()
		return nil, err
	}
	return &postgresWriter{dsn: dsn, conn: conn, std: std, tx: tx}, nil
}

// db reads through a connection of its own: the template rows it reads are
// committed, and the copies are not read back.
func (w *postgresWriter) db() dbQuerier { return w.std }

func (w *postgresWriter) write(ctx context.Context, table string, columns []string, rows [][]any) error {
	if t, ok := strings.CutSuffix(table, ":replace"); ok {
		for _, r := range rows { // the template's few reminders
			if _, err := w.tx.Exec(ctx, `UPDATE `+t+` SET status = $2, sent_at = $3, attempts = $4 WHERE id = $1`,
				r[0], r[col(columns, "status")], r[col(columns, "sent_at")], r[col(columns, "attempts")]); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := w.tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
	return err
}

func (w *postgresWriter) commit(ctx context.Context) error {
	if err := w.tx.Commit(ctx); err != nil {
		return err
	}
	var err error
	w.tx, err = w.conn.Begin(ctx)
	return err
}

func (w *postgresWriter) close(ok bool) error {
	ctx := context.Background()
	defer w.conn.Close(ctx)
	defer w.std.Close()
	if !ok {
		return w.tx.Rollback(ctx)
	}
	if err := w.tx.Commit(ctx); err != nil {
		return err
	}
	// COPY wrote the ids; each identity goes on after them.
	for _, t := range []string{"patients", "assignments", "checkins", "sessions", "channels", "reminders"} {
		if _, err := w.conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT MAX(id) FROM `+t+`))`, t); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	_, err := w.conn.Exec(ctx, `ANALYZE`)
	return err
}

func dsnOf(w rowWriter) string {
	if pw, ok := w.(*postgresWriter); ok {
		return pw.dsn
	}
	return ""
}

// VerifyPopulation re-plans sample patients of a seeded population at p.Now,
// as the server would, and returns an error naming what changed: nothing
// must, beyond each plan's planned_at, or the copies are not what pacer
// itself writes.
func VerifyPopulation(ctx context.Context, dsn string, p Population, sample []int64) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := clinic.NewKeyring(p.Key)
	if err != nil {
		return err
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return err
	}
	base, _ := url.Parse("https://pacer.invalid")
	c := &clinic.Clinic{Store: st, Keys: keys, BaseURL: base, Library: lib, Now: func() time.Time { return p.Now },
		Log: slog.New(slog.DiscardHandler)}
	db, err := Open(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	dump := func(id int64) (string, error) {
		var b strings.Builder
		for _, t := range patientTables {
			cols := t.columns
			if t.table == "plans" {
				cols = strings.Replace(cols, "planned_at, ", "", 1)
			}
			rows, err := db.QueryContext(ctx, rebind(dsn, `SELECT `+cols+` FROM `+t.table+` WHERE `+t.where+` ORDER BY 1, 2, 3`), id)
			if err != nil {
				return "", err
			}
			n := len(strings.Split(cols, ", "))
			for rows.Next() {
				vals := make([]any, n)
				ptrs := make([]any, n)
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return "", err
				}
				fmt.Fprintf(&b, "%s %v\n", t.table, vals)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return "", err
			}
		}
		return b.String(), nil
	}
	var errs []error
	for _, id := range sample {
		before, err := dump(id)
		if err != nil {
			return err
		}
		if err := c.Replan(ctx, id); err != nil {
			return fmt.Errorf("verify: re-plan patient %d: %w", id, err)
		}
		after, err := dump(id)
		if err != nil {
			return err
		}
		if before != after {
			errs = append(errs, fmt.Errorf("verify: a re-plan of patient %d changed its rows:\n%s", id, diffLines(before, after)))
		}
	}
	return errors.Join(errs...)
}

// diffLines lists the lines of a and b that the other lacks.
func diffLines(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ina, inb := in(a), in(b)
	var out []string
	for _, l := range strings.Split(a, "\n") {
		if !inb[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ina[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
