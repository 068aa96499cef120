package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"pacer/programs"
)

const sessionColumns = `id, assignment_id, patient_id, activity, date, slot, time, dose, sets, unit, week, status,
	projected, revision, updated_at`

func scanSession(row rowScanner) (Session, error) {
	var (
		x            Session
		date, clock  int64
		unit, status string
		updated      int64
	)
	if err := row.Scan(&x.ID, &x.AssignmentID, &x.PatientID, &x.Activity, &date, &x.Slot, &clock, &x.Dose,
		&x.Sets, &unit, &x.Week, &status, &x.Projected, &x.Revision, &updated); err != nil {
		return Session{}, notFound(err)
	}
	x.Date, x.Time = programs.Date(date), programs.Clock(clock)
	x.Unit, x.Status = programs.Unit(unit), programs.Status(status)
	x.UpdatedAt = fromMillis(updated)
	return x, nil
}

// sessionKey identifies a session of an assignment for good.
type sessionKey struct {
	activity string
	date     programs.Date
	slot     int
}

func keyOf(x *Session) sessionKey { return sessionKey{x.Activity, x.Date, x.Slot} }

// sameContent reports whether two versions of a session would show the same
// in a feed or a reminder.
// sameContent reports whether a calendar would show the two alike: the same
// time, dose, sets, unit, week and projected flag, both cancelled or neither.
// Marking a session done or missed changes its status but not how a calendar
// shows it, so it does not raise the revision (the feed's SEQUENCE).
func sameContent(a, b *Session) bool {
	return a.Time == b.Time && a.Dose == b.Dose && a.Sets == b.Sets && a.Unit == b.Unit &&
		a.Week == b.Week && a.Projected == b.Projected &&
		(a.Status == programs.Cancelled) == (b.Status == programs.Cancelled)
}

// SaveSessions materializes a recomputed plan of an assignment of the patient,
// in one transaction. A wanted session that is new is inserted (revision 0);
// one that a calendar would show differently (see sameContent) is updated with
// its revision raised by one and updated_at set; one whose status alone moved
// (planned, done, missed…) gets the new status and nothing else; an unchanged
// one is left alone (same id, revision and updated_at). A stored session no longer wanted is cancelled
// (revision raised) unless it already is. The assignment's decisions are
// replaced by decisions. When any session changed, the patient's feed_version
// rises by one. The AssignmentID and PatientID fields of want and decisions
// are ignored. It returns how many sessions were inserted or changed.
//
// An assignment that is not the patient's is ErrNotFound.
//
// SaveSessions is SavePlan without reminders: it leaves the outbox alone.
func (s *Store) SaveSessions(ctx context.Context, assignmentID, patientID int64, want []Session, decisions []Decision, now time.Time) (changed int, err error) {
	return s.SavePlan(ctx, assignmentID, patientID, want, decisions, nil, now)
}

// SavePlan is SaveSessions that also writes the plan's reminders in the same
// transaction. When reminders is not nil it is called once the sessions are
// written, with all of the assignment's sessions as now stored (IDs,
// revisions, cancelled ones too), and the rows it returns are upserted by
// DedupeKey: a new key is inserted pending; a pending row whose DueAt or
// Payload changed is updated; one skipped as "cancelled" is pending again;
// rows of other statuses are left alone; a pending row of the assignment's
// sessions that is no longer returned and not yet due at now is skipped as
// "cancelled". Details in saveReminders (outbox.go). If any part fails,
// nothing is written.
func (s *Store) SavePlan(ctx context.Context, assignmentID, patientID int64, want []Session, decisions []Decision,
	reminders func(saved []Session) []Reminder, now time.Time) (changed int, err error) {
	wanted := make(map[sessionKey]*Session, len(want))
	for i := range want {
		k := keyOf(&want[i])
		if _, dup := wanted[k]; dup {
			return 0, fmt.Errorf("save sessions: %s on %s slot %d is wanted twice", k.activity, k.date, k.slot)
		}
		wanted[k] = &want[i]
	}
	at := millis(now)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		changed = 0
		// On PostgreSQL the row lock serializes two replicas materializing
		// the same assignment; SQLite has one writer anyway.
		lock := `SELECT id FROM assignments WHERE id = ? AND patient_id = ?`
		if s.dialect == Postgres {
			lock += ` FOR UPDATE`
		}
		var id int64
		if err := tx.QueryRowContext(ctx, s.q(lock), assignmentID, patientID).Scan(&id); err != nil {
			return fmt.Errorf("assignment %d of patient %d: %w", assignmentID, patientID, notFound(err))
		}

		have, err := s.loadSessions(ctx, tx, assignmentID)
		if err != nil {
			return err
		}

		insert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO sessions (assignment_id, patient_id, activity, date, slot,
				time, dose, sets, unit, week, status, projected, revision, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`))
		if err != nil {
			return err
		}
		defer insert.Close()
		update, err := tx.PrepareContext(ctx, s.q(`UPDATE sessions SET time = ?, dose = ?, sets = ?, unit = ?,
				week = ?, status = ?, projected = ?, revision = revision + 1, updated_at = ?
			WHERE id = ?`))
		if err != nil {
			return err
		}
		defer update.Close()
		setStatus, err := tx.PrepareContext(ctx, s.q(`UPDATE sessions SET status = ? WHERE id = ?`))
		if err != nil {
			return err
		}
		defer setStatus.Close()

		for i := range want {
			w := &want[i]
			old, ok := have[keyOf(w)]
			switch {
			case !ok:
				_, err = insert.ExecContext(ctx, assignmentID, patientID, w.Activity, int64(w.Date), w.Slot,
					int64(w.Time), w.Dose, w.Sets, string(w.Unit), w.Week, string(w.Status), w.Projected, at)
			case !sameContent(old, w):
				_, err = update.ExecContext(ctx, int64(w.Time), w.Dose, w.Sets, string(w.Unit), w.Week,
					string(w.Status), w.Projected, at, old.ID)
			case old.Status != w.Status:
				if _, err := setStatus.ExecContext(ctx, string(w.Status), old.ID); err != nil {
					return err
				}
				continue
			default:
				continue
			}
			if err != nil {
				return err
			}
			changed++
		}
		var gone []int64
		for k, old := range have {
			if _, ok := wanted[k]; !ok && old.Status != programs.Cancelled {
				gone = append(gone, old.ID)
			}
		}
		slices.Sort(gone) // rows in a fixed order, as PostgreSQL locks them
		for _, id := range gone {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET status = ?, revision = revision + 1, updated_at = ?
				WHERE id = ?`), string(programs.Cancelled), at, id); err != nil {
				return err
			}
			changed++
		}

		if reminders != nil {
			if err := s.saveReminders(ctx, tx, assignmentID, patientID, reminders, now); err != nil {
				return err
			}
		}

		if err := s.replaceDecisions(ctx, tx, assignmentID, decisions); err != nil {
			return err
		}

		if changed > 0 {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE patients SET feed_version = feed_version + 1 WHERE id = ?`),
				patientID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("save sessions: %w", err)
	}
	return changed, nil
}

// replaceDecisions makes decisions the assignment's, writing nothing when
// they already are (the usual case when a plan is recomputed).
func (s *Store) replaceDecisions(ctx context.Context, tx *sql.Tx, assignmentID int64, decisions []Decision) error {
	have, err := s.decisions(ctx, tx, assignmentID)
	if err != nil {
		return err
	}
	want := make([]Decision, len(decisions))
	for i, d := range decisions {
		d.AssignmentID = assignmentID
		want[i] = d
	}
	slices.SortFunc(want, compareDecisions)
	if slices.Equal(have, want) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM decisions WHERE assignment_id = ?`), assignmentID); err != nil {
		return err
	}
	for _, d := range want {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO decisions (assignment_id, week, activity, code, reason)
			VALUES (?, ?, ?, ?, ?)`), assignmentID, d.Week, d.Activity, string(d.Code), d.Reason); err != nil {
			return fmt.Errorf("decision week %d %q: %w", d.Week, d.Activity, err)
		}
	}
	return nil
}

// compareDecisions orders decisions as Decisions returns them.
func compareDecisions(a, b Decision) int {
	return cmp.Or(cmp.Compare(a.Week, b.Week), strings.Compare(a.Activity, b.Activity))
}

// loadSessions reads all of an assignment's sessions, keyed, closing the rows
// before the caller writes on the same connection.
func (s *Store) loadSessions(ctx context.Context, tx *sql.Tx, assignmentID int64) (map[sessionKey]*Session, error) {
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

// Sessions returns the patient's sessions (of every assignment, cancelled ones
// included) dated from through to, ordered by date, time, assignment,
// activity and slot.
func (s *Store) Sessions(ctx context.Context, patientID int64, from, to programs.Date) ([]Session, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions
		WHERE patient_id = ? AND date >= ? AND date <= ?
		ORDER BY date, time, assignment_id, activity, slot`), patientID, int64(from), int64(to))
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

// Decisions returns the assignment's weekly decisions ordered by week, then
// activity ("", the week's own, first).
func (s *Store) Decisions(ctx context.Context, assignmentID int64) ([]Decision, error) {
	ds, err := s.decisions(ctx, s.r, assignmentID)
	if err != nil {
		return nil, fmt.Errorf("decisions: %w", err)
	}
	return ds, nil
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) decisions(ctx context.Context, db querier, assignmentID int64) ([]Decision, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT assignment_id, week, activity, code, reason FROM decisions
		WHERE assignment_id = ? ORDER BY week, activity`), assignmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []Decision
	for rows.Next() {
		var (
			d    Decision
			code string
		)
		if err := rows.Scan(&d.AssignmentID, &d.Week, &d.Activity, &code, &d.Reason); err != nil {
			return nil, err
		}
		d.Code = programs.Code(code)
		ds = append(ds, d)
	}
	return ds, rows.Err()
}
