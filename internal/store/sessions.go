package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"pacer/programs"
)

// CauseDropped is the Cause of a session cancelled because the plan no longer
// holds it (a pause, a step-back, a therapist's edit): kept, cancelled, so
// that calendars drop it, but no longer part of the plan.
const CauseDropped = -1

const sessionColumns = `id, assignment_id, patient_id, activity, date, slot, time, dose, sets, unit, week, status,
	projected, actual, pain, calibration, extra, cause, shown, revision, updated_at`

func scanSession(row rowScanner) (Session, error) {
	var (
		x            Session
		date, clock  int64
		unit, status string
		pain         sql.NullInt64
		updated      int64
	)
	if err := row.Scan(&x.ID, &x.AssignmentID, &x.PatientID, &x.Activity, &date, &x.Slot, &clock, &x.Dose,
		&x.Sets, &unit, &x.Week, &status, &x.Projected, &x.Actual, &pain, &x.Calibration, &x.Extra, &x.Cause,
		&x.Shown, &x.Revision, &updated); err != nil {
		return Session{}, notFound(err)
	}
	x.Date, x.Time = programs.Date(date), programs.Clock(clock)
	x.Unit, x.Status = programs.Unit(unit), programs.Status(status)
	if pain.Valid {
		p := int(pain.Int64)
		x.Pain = &p
	}
	x.UpdatedAt = fromMillis(updated)
	return x, nil
}

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// sessionKey identifies a session of an assignment for good.
type sessionKey struct {
	activity string
	date     programs.Date
	slot     int
}

func keyOf(x *Session) sessionKey { return sessionKey{x.Activity, x.Date, x.Slot} }

// sameContent reports whether a calendar would show the two alike: the same
// time, dose, sets, unit, week, projected flag, cause and Shown digest, both
// cancelled or neither. Marking a session done or missed changes its status
// but not how a calendar shows it, so it does not raise the revision (the
// feed's SEQUENCE).
func sameContent(a, b *Session) bool {
	return a.Time == b.Time && a.Dose == b.Dose && a.Sets == b.Sets && a.Unit == b.Unit &&
		a.Week == b.Week && a.Projected == b.Projected && a.Cause == b.Cause && a.Shown == b.Shown &&
		(a.Status == programs.Cancelled) == (b.Status == programs.Cancelled)
}

// sameRecord reports whether the two hold the same record of what was done.
func sameRecord(a, b *Session) bool {
	return a.Status == b.Status && a.Actual == b.Actual && a.Calibration == b.Calibration && a.Extra == b.Extra &&
		(a.Pain == nil) == (b.Pain == nil) && (a.Pain == nil || *a.Pain == *b.Pain)
}

// savePlan materializes a recomputed plan of an assignment of the patient,
// inside tx. A wanted session that is new is inserted (revision 0); one that a
// calendar would show differently (see sameContent) is updated with its
// revision raised by one and updated_at set; one whose record alone moved
// (status, actual dose, pain) gets the new record and nothing else; an
// unchanged one is left alone (same id, revision and updated_at). A stored
// session no longer wanted is cancelled (revision raised) unless it already
// is, with Cause CauseDropped. The plan's header, weeks and events replace the
// assignment's (old, when not nil, is what the assignment's plan rows hold
// now, read in tx). When any session changed, the patient's feed_version
// rises by one. The AssignmentID and PatientID fields of want are ignored.
//
// When reminders is not nil it is called once the sessions are written, with
// all of the assignment's sessions as now stored, and the rows it returns are
// upserted as saveReminders (outbox.go) says. It returns how many sessions
// were inserted or changed.
//
// When prev is not nil, the assignment's sessions are known to be prev (and,
// besides, only cancelled ones no longer wanted), and old its plan weeks and
// events: savePlan reads only the sessions' ids, not their rows. It returns
// errUnknownRows, having written nothing, when a wanted session is stored
// but not in prev (a cancelled one wanted again), whose row it would need.
func (s *Store) savePlan(ctx context.Context, tx dbtx, assignmentID, patientID int64, want []Session, plan Plan,
	old *Plan, prev []Session, reminders func(saved []Session) []Reminder, now time.Time) (changed int, err error) {
	wanted := make(map[sessionKey]*Session, len(want))
	for i := range want {
		k := keyOf(&want[i])
		if _, dup := wanted[k]; dup {
			return 0, fmt.Errorf("save plan: %s on %s slot %d is wanted twice", k.activity, k.date, k.slot)
		}
		wanted[k] = &want[i]
	}
	at := millis(now)
	var id int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM assignments WHERE id = ? AND patient_id = ?`),
		assignmentID, patientID).Scan(&id); err != nil {
		return 0, fmt.Errorf("save plan: assignment %d of patient %d: %w", assignmentID, patientID, notFound(err))
	}
	var have map[sessionKey]*Session
	if prev == nil {
		have, err = s.loadSessions(ctx, tx, assignmentID)
	} else {
		have, err = s.knownSessions(ctx, tx, assignmentID, prev, wanted)
	}
	if err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	plan.Header.Digest = PlanDigest(want, plan.Weeks, plan.Events)

	// saved is every session of the assignment as it is once written, as a
	// read after the writes would return it.
	saved := make([]Session, 0, max(len(have), len(want)))
	for i := range want {
		w := &want[i]
		old, ok := have[keyOf(w)]
		x := *w
		x.AssignmentID, x.PatientID = assignmentID, patientID
		switch {
		case !ok:
			x.Revision, x.UpdatedAt = 0, fromMillis(at)
			err = tx.QueryRowContext(ctx, s.q(`INSERT INTO sessions (assignment_id, patient_id, activity, date, slot,
					time, dose, sets, unit, week, status, projected, actual, pain, calibration, extra, cause, shown,
					revision, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id`),
				assignmentID, patientID, w.Activity, int64(w.Date), w.Slot,
				int64(w.Time), w.Dose, w.Sets, string(w.Unit), w.Week, string(w.Status), w.Projected, w.Actual,
				nullInt(w.Pain), w.Calibration, w.Extra, w.Cause, w.Shown, at).Scan(&x.ID)
		case !sameContent(old, w):
			x.ID, x.Revision, x.UpdatedAt = old.ID, old.Revision+1, fromMillis(at)
			_, err = tx.ExecContext(ctx, s.q(`UPDATE sessions SET time = ?, dose = ?, sets = ?, unit = ?,
					week = ?, status = ?, projected = ?, actual = ?, pain = ?, calibration = ?, extra = ?, cause = ?,
					shown = ?, revision = revision + 1, updated_at = ?
				WHERE id = ?`), int64(w.Time), w.Dose, w.Sets, string(w.Unit), w.Week,
				string(w.Status), w.Projected, w.Actual, nullInt(w.Pain), w.Calibration, w.Extra, w.Cause, w.Shown,
				at, old.ID)
		case !sameRecord(old, w):
			x = *old
			x.Status, x.Actual, x.Pain, x.Calibration, x.Extra = w.Status, w.Actual, w.Pain, w.Calibration, w.Extra
			saved = append(saved, x)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET status = ?, actual = ?, pain = ?, calibration = ?,
					extra = ? WHERE id = ?`), string(w.Status), w.Actual, nullInt(w.Pain), w.Calibration,
				w.Extra, old.ID); err != nil {
				return 0, fmt.Errorf("save plan: %w", err)
			}
			continue
		default:
			saved = append(saved, *old)
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("save plan: %w", err)
		}
		saved = append(saved, x)
		changed++
	}
	var gone []*Session
	for k, old := range have {
		if _, ok := wanted[k]; ok {
			continue
		}
		if old.Status != programs.Cancelled {
			gone = append(gone, old)
		} else {
			saved = append(saved, *old)
		}
	}
	slices.SortFunc(gone, func(a, b *Session) int { return cmp.Compare(a.ID, b.ID) }) // a fixed order, as PostgreSQL locks rows
	for _, x := range gone {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET status = ?, cause = ?, revision = revision + 1,
			updated_at = ? WHERE id = ?`), string(programs.Cancelled), CauseDropped, at, x.ID); err != nil {
			return 0, fmt.Errorf("save plan: %w", err)
		}
		y := *x
		y.Status, y.Cause, y.Revision, y.UpdatedAt = programs.Cancelled, CauseDropped, x.Revision+1, fromMillis(at)
		saved = append(saved, y)
		changed++
	}

	if reminders != nil {
		if err := s.saveReminders(ctx, tx, assignmentID, patientID, saved, reminders, now); err != nil {
			return 0, fmt.Errorf("save plan: %w", err)
		}
	}
	if err := s.replacePlan(ctx, tx, assignmentID, patientID, plan, old, now); err != nil {
		return 0, fmt.Errorf("save plan: %w", err)
	}
	if changed > 0 {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE patients SET feed_version = feed_version + 1 WHERE id = ?`),
			patientID); err != nil {
			return 0, fmt.Errorf("save plan: %w", err)
		}
	}
	return changed, nil
}

// replacePlan makes plan the assignment's: its header always (it records
// when the plan was computed), and of its weeks and events only the rows that
// differ, which after the first re-plan of a day are few or none. old, when
// not nil, is what the assignment's rows hold now; else they are read.
func (s *Store) replacePlan(ctx context.Context, tx dbtx, assignmentID, patientID int64, plan Plan, old *Plan, now time.Time) error {
	h := plan.Header
	answers, err := json.Marshal(h.Answers)
	if err != nil {
		return err
	}
	if h.Answers == nil {
		answers = []byte("[]")
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO plans (assignment_id, patient_id, rules_version, now, planned_at,
			weeks, pause, paused_on, answers, flare_on, flare_ask, persistent, digest)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (assignment_id) DO UPDATE SET rules_version = excluded.rules_version, now = excluded.now,
			planned_at = excluded.planned_at, weeks = excluded.weeks, pause = excluded.pause,
			paused_on = excluded.paused_on, answers = excluded.answers, flare_on = excluded.flare_on,
			flare_ask = excluded.flare_ask, persistent = excluded.persistent, digest = excluded.digest`),
		assignmentID, patientID, h.RulesVersion, int64(h.Now), millis(now), h.Weeks, string(h.Pause),
		int64(h.PausedOn), string(answers), int64(h.FlareOn), int64(h.FlareAsk), h.Persistent, h.Digest); err != nil {
		return fmt.Errorf("plan header: %w", err)
	}
	if old == nil {
		body, err := s.planBody(ctx, tx, assignmentID)
		if err != nil {
			return err
		}
		old = &body
	}
	if err := s.replaceWeeks(ctx, tx, assignmentID, old.Weeks, plan.Weeks); err != nil {
		return err
	}
	if !slices.EqualFunc(old.Events, plan.Events, samePlanEvent) {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM plan_events WHERE assignment_id = ?`), assignmentID); err != nil {
			return err
		}
		for _, e := range plan.Events {
			facts, err := json.Marshal(e.Facts)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO plan_events (assignment_id, week, seq, date, code,
					activity, facts) VALUES (?, ?, ?, ?, ?, ?, ?)`),
				assignmentID, e.Week, e.Seq, int64(e.Date), string(e.Code), e.Activity, string(facts)); err != nil {
				return fmt.Errorf("plan event week %d #%d: %w", e.Week, e.Seq, err)
			}
		}
	}
	return nil
}

// replaceWeeks makes want the assignment's plan weeks, given have, what they
// are: a row is written only when it is new or differs, and deleted only
// when it is no longer wanted.
func (s *Store) replaceWeeks(ctx context.Context, tx dbtx, assignmentID int64, have, want []PlanWeek) error {
	type key struct {
		week     int
		activity string
	}
	stored := make(map[key]*PlanWeek, len(have))
	for i := range have {
		stored[key{have[i].Week, have[i].Activity}] = &have[i]
	}
	given := make(map[key]bool, len(want))
	for _, w := range want {
		k := key{w.Week, w.Activity}
		if given[k] {
			return fmt.Errorf("plan week %d %q is given twice", w.Week, w.Activity)
		}
		given[k] = true
		old, ok := stored[k]
		delete(stored, k)
		if ok && samePlanWeek(*old, w) {
			continue
		}
		facts, err := json.Marshal(w.Decision.Facts)
		if err != nil {
			return err
		}
		var signals sql.NullString
		if w.Signals != nil {
			b, _ := json.Marshal(w.Signals)
			signals = sql.NullString{String: string(b), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO plan_weeks (assignment_id, week, activity, start_date,
				projected, code, decided_for, facts, unit, dose, sets, goal, threshold, learned, ceiling, done,
				planned, signals)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (assignment_id, week, activity) DO UPDATE SET start_date = excluded.start_date,
				projected = excluded.projected, code = excluded.code, decided_for = excluded.decided_for,
				facts = excluded.facts, unit = excluded.unit, dose = excluded.dose, sets = excluded.sets,
				goal = excluded.goal, threshold = excluded.threshold, learned = excluded.learned,
				ceiling = excluded.ceiling, done = excluded.done, planned = excluded.planned,
				signals = excluded.signals`),
			assignmentID, w.Week, w.Activity, int64(w.Start), w.Projected,
			string(w.Decision.Code), w.Decision.Activity, string(facts), string(w.Unit), w.Dose, w.Sets, w.Goal,
			w.Threshold, w.Learned, w.Ceiling, w.Done, w.Planned, signals); err != nil {
			return fmt.Errorf("plan week %d %q: %w", w.Week, w.Activity, err)
		}
	}
	gone := make([]key, 0, len(stored))
	for k := range stored {
		gone = append(gone, k)
	}
	slices.SortFunc(gone, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.week, b.week), strings.Compare(a.activity, b.activity))
	})
	for _, k := range gone {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM plan_weeks WHERE assignment_id = ? AND week = ? AND activity = ?`),
			assignmentID, k.week, k.activity); err != nil {
			return err
		}
	}
	return nil
}

// samePlanWeek reports whether two plan weeks would be stored alike.
func samePlanWeek(a, b PlanWeek) bool {
	return sameFacts(a.Decision.Facts, b.Decision.Facts) &&
		(a.Signals == nil) == (b.Signals == nil) && (a.Signals == nil || *a.Signals == *b.Signals) &&
		a.Week == b.Week && a.Activity == b.Activity &&
		a.Start == b.Start && a.Projected == b.Projected && a.Decision.Code == b.Decision.Code &&
		a.Decision.Activity == b.Decision.Activity && a.Unit == b.Unit && a.Dose == b.Dose && a.Sets == b.Sets &&
		a.Goal == b.Goal && a.Threshold == b.Threshold && a.Learned == b.Learned && a.Ceiling == b.Ceiling &&
		a.Done == b.Done && a.Planned == b.Planned
}

func samePlanEvent(a, b PlanEvent) bool {
	return sameFacts(a.Facts, b.Facts) && a.Week == b.Week && a.Seq == b.Seq && a.Date == b.Date && a.Code == b.Code &&
		a.Activity == b.Activity
}

// sameFacts reports whether two facts are stored as the same JSON: equal
// fields, with a nil list equal to an empty one (both are left out). It
// compares what appendFacts writes of each, which is every field.
func sameFacts(a, b programs.Facts) bool {
	var x, y [512]byte
	return bytes.Equal(appendFacts(x[:0], &a), appendFacts(y[:0], &b))
}

// errUnknownRows: see savePlan.
var errUnknownRows = errors.New("a wanted session's stored row is not known")

// knownSessions keys prev, the sessions the caller knows an assignment to
// have, with their ids read from the store (from the unique index alone).
// A session of wanted that is stored but not in prev is errUnknownRows.
func (s *Store) knownSessions(ctx context.Context, tx dbtx, assignmentID int64, prev []Session,
	wanted map[sessionKey]*Session) (map[sessionKey]*Session, error) {
	have := make(map[sessionKey]*Session, len(prev))
	for i := range prev {
		have[keyOf(&prev[i])] = &prev[i]
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id, activity, date, slot FROM sessions WHERE assignment_id = ?`), assignmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k    sessionKey
			id   int64
			date int64
		)
		if err := rows.Scan(&id, &k.activity, &date, &k.slot); err != nil {
			return nil, err
		}
		k.date = programs.Date(date)
		x, ok := have[k]
		switch {
		case ok:
			x.ID = id
		case wanted[k] != nil:
			return nil, errUnknownRows
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for k, x := range have {
		if x.ID == 0 {
			return nil, fmt.Errorf("%s on %s slot %d: %w", k.activity, k.date, k.slot, errUnknownRows)
		}
	}
	return have, nil
}

// PlanDigest digests what a re-plan writes of an assignment: its sessions
// (every column savePlan compares or writes, in the order given), plan weeks
// and events. Two plans with equal digests store equal rows.
func PlanDigest(sessions []Session, weeks []PlanWeek, events []PlanEvent) string {
	h := sha256.New()
	b := make([]byte, 0, 256)
	num := func(n int64) { b = strconv.AppendInt(b, n, 10); b = append(b, ',') }
	str := func(v string) { b = appendString(b, v); b = append(b, ',') }
	flag := func(v bool) { b = strconv.AppendBool(b, v); b = append(b, ',') }
	for i := range sessions {
		x := &sessions[i]
		b = append(b[:0], 's')
		str(x.Activity)
		num(int64(x.Date))
		num(int64(x.Slot))
		num(int64(x.Time))
		num(int64(x.Dose))
		num(int64(x.Sets))
		str(string(x.Unit))
		num(int64(x.Week))
		str(string(x.Status))
		flag(x.Projected)
		num(int64(x.Actual))
		flag(x.Pain != nil)
		if x.Pain != nil {
			num(int64(*x.Pain))
		}
		flag(x.Calibration)
		flag(x.Extra)
		num(int64(x.Cause))
		str(x.Shown)
		h.Write(append(b, '\n'))
	}
	for _, w := range weeks {
		b = append(b[:0], 'w')
		b = appendFacts(b, &w.Decision.Facts)
		if w.Signals != nil {
			num(int64(w.Signals.Function))
			num(int64(w.Signals.Symptoms))
			num(int64(w.Signals.Confidence))
		}
		num(int64(w.Week))
		str(w.Activity)
		num(int64(w.Start))
		flag(w.Projected)
		str(string(w.Decision.Code))
		str(w.Decision.Activity)
		str(string(w.Unit))
		for _, n := range []int{w.Dose, w.Sets, w.Goal, w.Threshold, w.Ceiling, w.Done, w.Planned} {
			num(int64(n))
		}
		flag(w.Learned)
		h.Write(append(b, '\n'))
	}
	for _, e := range events {
		b = append(b[:0], 'e')
		b = appendFacts(b, &e.Facts)
		num(int64(e.Week))
		num(int64(e.Seq))
		num(int64(e.Date))
		str(string(e.Code))
		str(e.Activity)
		h.Write(append(b, '\n'))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// factsFields is how many fields programs.Facts has: appendFacts writes
// each, and a test fails when a field is added that it does not know.
const factsFields = 31

// appendFacts appends every field of f, as its JSON would hold it (an empty
// list as none), without the cost of encoding/json.
func appendFacts(b []byte, f *programs.Facts) []byte {
	for _, n := range []int{f.Dose, f.Prev, f.Done, f.Planned, f.Percent, f.Days, f.Weeks, f.Rise, f.Baseline,
		f.Goal, f.Threshold, f.Ceiling, f.PrevCeiling, f.Granule, int(f.Flare), int(f.From), int(f.Until), int(f.Since)} {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ',')
	}
	for _, v := range []bool{f.Projected, f.Calibrated, f.Logged, f.Capped, f.Carried, f.Exempt, f.EveryOther} {
		b = strconv.AppendBool(b, v)
		b = append(b, ',')
	}
	b = appendString(b, string(f.Clamp))
	b = appendString(b, string(f.Change))
	b = appendString(b, string(f.Urgency))
	b = strconv.AppendInt(b, int64(len(f.Doses)), 10)
	for _, d := range f.Doses {
		b = appendString(b, d.Activity)
		b = strconv.AppendInt(b, int64(d.Dose), 10)
		b = append(b, ',')
	}
	for _, list := range [][]string{f.Answers, f.Known} {
		b = strconv.AppendInt(b, int64(len(list)), 10)
		for _, a := range list {
			b = appendString(b, a)
		}
	}
	return append(b, ';')
}

// appendString appends v prefixed with its length, which delimits it
// whatever it holds, at a fraction of the cost of quoting it.
func appendString(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// loadSessions reads all of an assignment's sessions, keyed, closing the rows
// before the caller writes on the same connection.
func (s *Store) loadSessions(ctx context.Context, tx dbtx, assignmentID int64) (map[sessionKey]*Session, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE assignment_id = ?`), assignmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := make(map[sessionKey]*Session)
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		have[keyOf(&x)] = &x
	}
	return have, rows.Err()
}

// Sessions returns the patient's planned sessions (of every assignment,
// cancelled ones included, extra ones the patient logged not) dated from
// through to, ordered by date, time, assignment, activity and slot.
func (s *Store) Sessions(ctx context.Context, patientID int64, from, to programs.Date) (_ []Session, err error) {
	defer s.timed("sessions", time.Now(), &err)
	return s.sessions(ctx, s.r, `patient_id = ? AND date >= ? AND date <= ? AND `+s.not("extra"),
		patientID, int64(from), int64(to))
}

// AssignmentSessions returns all of an assignment's sessions, extra ones
// included, in the same order.
func (s *Store) AssignmentSessions(ctx context.Context, assignmentID int64) (_ []Session, err error) {
	defer s.timed("assignment_sessions", time.Now(), &err)
	return s.sessions(ctx, s.r, `assignment_id = ?`, assignmentID)
}

func (s *Store) sessions(ctx context.Context, db dbtx, where string, args ...any) ([]Session, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE `+where+`
		ORDER BY date, time, assignment_id, activity, slot`), args...)
	if err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	defer rows.Close()
	var xs []Session
	for rows.Next() {
		x, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
		xs = append(xs, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sessions: %w", err)
	}
	return xs, nil
}

// not is a condition that a boolean column is false, in either dialect.
func (s *Store) not(col string) string {
	if s.dialect == Postgres {
		return "NOT " + col
	}
	return col + " = 0"
}

// Plan returns what the last re-plan stored of an assignment besides its
// sessions; an assignment never planned is ErrNotFound.
func (s *Store) Plan(ctx context.Context, assignmentID int64) (_ Plan, err error) {
	defer s.timed("plan", time.Now(), &err)
	p, err := s.plan(ctx, s.r, assignmentID)
	if err != nil {
		return Plan{}, fmt.Errorf("plan of assignment %d: %w", assignmentID, err)
	}
	return p, nil
}

func (s *Store) plan(ctx context.Context, db dbtx, assignmentID int64) (p Plan, err error) {
	p.Header, err = s.planHeader(ctx, db, assignmentID)
	if err != nil {
		return Plan{}, err
	}
	body, err := s.planBody(ctx, db, assignmentID)
	if err != nil {
		return Plan{}, err
	}
	p.Weeks, p.Events = body.Weeks, body.Events
	return p, nil
}

// planHeader reads an assignment's plan header; ErrNotFound if never planned.
func (s *Store) planHeader(ctx context.Context, db dbtx, assignmentID int64) (PlanHeader, error) {
	var (
		h                           PlanHeader
		pause, answers              string
		now, paused, flare, ask, at int64
	)
	err := db.QueryRowContext(ctx, s.q(`SELECT assignment_id, patient_id, rules_version, now, planned_at, weeks, pause,
			paused_on, answers, flare_on, flare_ask, persistent, digest
		FROM plans WHERE assignment_id = ?`), assignmentID).Scan(&h.AssignmentID, &h.PatientID, &h.RulesVersion,
		&now, &at, &h.Weeks, &pause, &paused, &answers, &flare, &ask, &h.Persistent, &h.Digest)
	if err != nil {
		return PlanHeader{}, notFound(err)
	}
	h.Now, h.PlannedAt, h.Pause = programs.Date(now), fromMillis(at), programs.PauseCause(pause)
	h.PausedOn, h.FlareOn, h.FlareAsk = programs.Date(paused), programs.Date(flare), programs.Date(ask)
	if err := json.Unmarshal([]byte(answers), &h.Answers); err != nil {
		return PlanHeader{}, fmt.Errorf("answers: %w", err)
	}
	if len(h.Answers) == 0 {
		h.Answers = nil
	}
	return h, nil
}

// planBody reads an assignment's plan weeks and events.
func (s *Store) planBody(ctx context.Context, db dbtx, assignmentID int64) (Plan, error) {
	var p Plan
	rows, err := db.QueryContext(ctx, s.q(`SELECT week, activity, start_date, projected, code, decided_for, facts, unit,
			dose, sets, goal, threshold, learned, ceiling, done, planned, signals
		FROM plan_weeks WHERE assignment_id = ? ORDER BY week, activity`), assignmentID)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			w           PlanWeek
			start       int64
			code, facts string
			unit        string
			signals     sql.NullString
		)
		if err := rows.Scan(&w.Week, &w.Activity, &start, &w.Projected, &code, &w.Decision.Activity, &facts, &unit,
			&w.Dose, &w.Sets, &w.Goal, &w.Threshold, &w.Learned, &w.Ceiling, &w.Done, &w.Planned, &signals); err != nil {
			return p, err
		}
		w.Start, w.Decision.Code, w.Unit = programs.Date(start), programs.Code(code), programs.Unit(unit)
		if err := json.Unmarshal([]byte(facts), &w.Decision.Facts); err != nil {
			return p, fmt.Errorf("week %d %q: facts: %w", w.Week, w.Activity, err)
		}
		if signals.Valid {
			w.Signals = new(programs.Signals)
			if err := json.Unmarshal([]byte(signals.String), w.Signals); err != nil {
				return p, fmt.Errorf("week %d: signals: %w", w.Week, err)
			}
		}
		p.Weeks = append(p.Weeks, w)
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	rows.Close()
	erows, err := db.QueryContext(ctx, s.q(`SELECT week, seq, date, code, activity, facts
		FROM plan_events WHERE assignment_id = ? ORDER BY week, seq`), assignmentID)
	if err != nil {
		return p, err
	}
	defer erows.Close()
	for erows.Next() {
		var (
			e           PlanEvent
			date        int64
			code, facts string
		)
		if err := erows.Scan(&e.Week, &e.Seq, &date, &code, &e.Activity, &facts); err != nil {
			return p, err
		}
		e.Date, e.Code = programs.Date(date), programs.Code(code)
		if err := json.Unmarshal([]byte(facts), &e.Facts); err != nil {
			return p, fmt.Errorf("event week %d #%d: facts: %w", e.Week, e.Seq, err)
		}
		p.Events = append(p.Events, e)
	}
	return p, erows.Err()
}
