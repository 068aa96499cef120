package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"pacer/programs"
)

// A patient's data, all of it: what an export returns and an erasure deletes.

// PatientData is everything stored about one patient, read in one snapshot.
type PatientData struct {
	Patient     Patient
	Assignments []Assignment // every one, ended ones included, by id
	CheckIns    []CheckIn    // in the order they were added
	Overrides   []Override   // of every assignment, in the order they were added
	Sessions    []Session    // every materialized session, by date
	Plans       []Plan       // of every assignment that was planned, by assignment
	// KnownRedFlags are the therapist's markings of red-flag items, and
	// RedFlagAcks their acknowledgements of red-flag screens.
	KnownRedFlags []KnownRedFlag
	RedFlagAcks   []RedFlagAck
}

// PatientData reads the therapist's patient and all their rows in one read
// transaction. Another therapist's patient is ErrNotFound.
func (s *Store) PatientData(ctx context.Context, therapistID, patientID int64) (_ PatientData, err error) {
	defer s.timed("patient_data", time.Now(), &err)
	var d PatientData
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead // one snapshot for every statement
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return d, fmt.Errorf("patient data: %w", err)
	}
	defer tx.Rollback()
	if d.Patient, err = scanPatient(tx.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+`
		FROM patients WHERE id = ? AND therapist_id = ?`), patientID, therapistID)); err != nil {
		return d, fmt.Errorf("patient data: patient %d: %w", patientID, err)
	}
	err = each(ctx, tx, s.q(`SELECT `+assignmentColumns+` FROM assignments a WHERE a.patient_id = ? ORDER BY a.id`),
		[]any{patientID}, func(r *sql.Rows) error {
			a, err := s.scanAssignment(r)
			d.Assignments = append(d.Assignments, a)
			return err
		})
	if err == nil {
		err = each(ctx, tx, s.q(`SELECT id, assignment_id, body, created_at FROM checkins WHERE patient_id = ? AND retracted_at IS NULL
			ORDER BY id`),
			[]any{patientID}, func(r *sql.Rows) error {
				var (
					c          = CheckIn{PatientID: patientID}
					assignment sql.NullInt64
					body       string
					created    int64
				)
				if err := r.Scan(&c.ID, &assignment, &body, &created); err != nil {
					return err
				}
				if err := json.Unmarshal([]byte(body), &c.CheckIn); err != nil {
					return fmt.Errorf("check-in %d: %w", c.ID, err)
				}
				c.AssignmentID, c.CreatedAt = assignment.Int64, fromMillis(created)
				d.CheckIns = append(d.CheckIns, c)
				return nil
			})
	}
	if err == nil {
		err = each(ctx, tx, s.q(`SELECT o.id, o.assignment_id, o.date, o.kind, o.activity, o.value, o.created_at
			FROM overrides o JOIN assignments a ON a.id = o.assignment_id WHERE a.patient_id = ? ORDER BY o.id`),
			[]any{patientID}, func(r *sql.Rows) error {
				var (
					o             Override
					date, created int64
					kind          string
				)
				if err := r.Scan(&o.ID, &o.AssignmentID, &date, &kind, &o.Activity, &o.Value, &created); err != nil {
					return err
				}
				o.Date, o.Kind, o.CreatedAt = programs.Date(date), programs.OverrideKind(kind), fromMillis(created)
				o.At = o.CreatedAt
				d.Overrides = append(d.Overrides, o)
				return nil
			})
	}
	if err == nil {
		err = each(ctx, tx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE patient_id = ?
			ORDER BY date, time, assignment_id, activity, slot`),
			[]any{patientID}, func(r *sql.Rows) error {
				x, err := scanSession(r)
				d.Sessions = append(d.Sessions, x)
				return err
			})
	}
	if err == nil {
		d.KnownRedFlags, err = s.knownRedFlags(ctx, tx, patientID)
	}
	if err == nil {
		d.RedFlagAcks, err = s.redFlagAcks(ctx, tx, patientID, 0)
	}
	for _, a := range d.Assignments {
		if err != nil {
			break
		}
		var p Plan
		if p, err = s.plan(ctx, tx, a.ID); err == nil {
			d.Plans = append(d.Plans, p)
		} else if errors.Is(err, ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return PatientData{}, fmt.Errorf("patient data: %w", err)
	}
	return d, nil
}

// each runs query and calls f for every row.
func each(ctx context.Context, tx *sql.Tx, query string, args []any, f func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ErasePatient deletes the therapist's patient and every row of theirs
// (plans, overrides, sessions, check-ins, assignments, channels, messages,
// and the therapist's alerts and digests that name them) in one
// transaction. Tables added later that hold a patient's rows must reference
// patients (or their sessions or assignments) with ON DELETE CASCADE, so that
// the last statement takes them too; the store test checks every table with
// a patient_id column. The other replicas are told (notify.go). Another
// therapist's patient is ErrNotFound and nothing changes.
//
// On SQLite, deleted content is overwritten (secure_delete, see Open) and
// the write-ahead log is checkpointed and truncated afterwards, so that the
// patient's name and email are gone from the files too.
func (s *Store) ErasePatient(ctx context.Context, therapistID, patientID int64) (err error) {
	defer s.timed("erase_patient", time.Now(), &err)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// On PostgreSQL the row lock makes a concurrent check-in for this
		// patient wait, then fail its foreign key, rather than slip in
		// between the deletes; SQLite has one writer anyway.
		lock := `SELECT id FROM patients WHERE id = ? AND therapist_id = ?`
		if s.dialect == Postgres {
			lock += ` FOR UPDATE`
		}
		var id int64
		if err := tx.QueryRowContext(ctx, s.q(lock), patientID, therapistID).Scan(&id); err != nil {
			return fmt.Errorf("patient %d: %w", patientID, notFound(err))
		}
		ofAssignments := ` WHERE assignment_id IN (SELECT id FROM assignments WHERE patient_id = ?)`
		for _, stmt := range []string{
			// A digest names several patients: it goes as a whole.
			`DELETE FROM reminders WHERE id IN (SELECT reminder_id FROM reminder_patients WHERE patient_id = ?)`,
			`DELETE FROM plan_weeks` + ofAssignments,
			`DELETE FROM plan_events` + ofAssignments,
			`DELETE FROM plans WHERE patient_id = ?`,
			`DELETE FROM overrides` + ofAssignments,
			`DELETE FROM sessions WHERE patient_id = ?`,
			`DELETE FROM checkins WHERE patient_id = ?`,
			`DELETE FROM assignments WHERE patient_id = ?`,
			`DELETE FROM patients WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(stmt), patientID); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		return s.notifyChanged(ctx, tx, patientID)
	})
	if err != nil {
		return fmt.Errorf("erase patient: %w", err)
	}
	if err := s.checkpoint(ctx); err != nil {
		return fmt.Errorf("erase patient: the patient is erased, but %w", err)
	}
	return nil
}

// ErrNotCheckpointed means the write-ahead log could not be truncated after
// an erasure because readers kept it busy: the data is deleted, and its old
// copies leave the log at the next checkpoint.
var ErrNotCheckpointed = errors.New("readers kept the write-ahead log busy; old copies of the erased rows leave it at the next checkpoint")

// checkpoint copies the SQLite write-ahead log into the database and
// truncates it, so that old versions of pages (with erased rows) do not stay
// in the log file. A reader holding an old snapshot makes it wait; it tries
// for a few seconds, then reports that it could not. PostgreSQL: nothing.
func (s *Store) checkpoint(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	for try := 0; ; try++ {
		var busy, logged, moved int
		if err := s.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if try == 50 {
			return ErrNotCheckpointed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
