package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pacer/programs"
)

// The therapist's side of the red-flag screen: items marked known and
// reviewed for a patient, and acknowledgements of screens.

// KnownRedFlag is a red-flag item a therapist marked known and reviewed for a
// patient, from Since (MarkedAt) until it was un-marked (Until, UnmarkedAt;
// zero while it is marked). An item is marked at most once at a time; each
// marking is a row of its own.
type KnownRedFlag struct {
	ID         int64
	PatientID  int64
	Item       string
	Since      programs.Date
	MarkedAt   time.Time
	MarkedBy   int64 // 0: unknown (the therapist is gone)
	Until      programs.Date
	UnmarkedAt time.Time
	UnmarkedBy int64
}

// Marked reports whether the item is marked now.
func (k KnownRedFlag) Marked() bool { return k.UnmarkedAt.IsZero() }

// Engine is the marking as the engine reads it.
func (k KnownRedFlag) Engine() programs.KnownRedFlag {
	return programs.KnownRedFlag{ID: k.Item, Since: k.Since, At: k.MarkedAt, Until: k.Until, UntilAt: k.UnmarkedAt}
}

// RedFlagAck is a therapist's acknowledgement of a red-flag screen (a
// red_flag check-in).
type RedFlagAck struct {
	CheckInID      int64
	PatientID      int64
	TherapistID    int64 // 0: unknown (the therapist is gone)
	AcknowledgedAt time.Time
}

const knownRedFlagColumns = `id, patient_id, item, since_date, marked_at, marked_by, until_date, unmarked_at, unmarked_by`

func scanKnownRedFlag(row rowScanner) (KnownRedFlag, error) {
	var (
		k                    KnownRedFlag
		since, marked        int64
		by, until, at, unmBy sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.PatientID, &k.Item, &since, &marked, &by, &until, &at, &unmBy); err != nil {
		return k, err
	}
	k.Since, k.MarkedAt, k.MarkedBy = programs.Date(since), fromMillis(marked), by.Int64
	k.Until, k.UnmarkedAt, k.UnmarkedBy = programs.Date(until.Int64), nullMillis(at), unmBy.Int64
	return k, nil
}

func (s *Store) knownRedFlags(ctx context.Context, db dbtx, patientID int64) ([]KnownRedFlag, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT `+knownRedFlagColumns+` FROM known_red_flags
		WHERE patient_id = ? ORDER BY id`), patientID)
	if err != nil {
		return nil, fmt.Errorf("known red flags: %w", err)
	}
	defer rows.Close()
	var out []KnownRedFlag
	for rows.Next() {
		k, err := scanKnownRedFlag(rows)
		if err != nil {
			return nil, fmt.Errorf("known red flags: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("known red flags: %w", err)
	}
	return out, nil
}

// KnownRedFlags returns every marking of the patient's, current and ended,
// in the order they were made.
func (s *Store) KnownRedFlags(ctx context.Context, patientID int64) (_ []KnownRedFlag, err error) {
	defer s.timed("known_red_flags", time.Now(), &err)
	return s.knownRedFlags(ctx, s.r, patientID)
}

// KnownRedFlags returns every marking of the patient's, as KnownRedFlags.
func (t *PatientTx) KnownRedFlags() ([]KnownRedFlag, error) {
	return t.s.knownRedFlags(t.ctx, t.db, t.Patient.ID)
}

// at is the instant a change is stamped with: the caller's when given (a
// history replayed), else the store's clock.
func (s *Store) at(t time.Time) int64 {
	if t.IsZero() {
		return s.nowMillis()
	}
	return millis(t)
}

// MarkRedFlagKnown marks the item known and reviewed for the patient from
// since on, by the therapist, at at (zero: the store's clock). It returns the
// marking and whether it is new: an item marked already stays as it was.
func (t *PatientTx) MarkRedFlagKnown(item string, since programs.Date, therapistID int64, at time.Time) (KnownRedFlag, bool, error) {
	k, err := scanKnownRedFlag(t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT `+knownRedFlagColumns+`
		FROM known_red_flags WHERE patient_id = ? AND item = ? AND unmarked_at IS NULL`), t.Patient.ID, item))
	if err == nil {
		return k, false, nil
	}
	if err != sql.ErrNoRows {
		return k, false, fmt.Errorf("mark red flag known: %w", err)
	}
	k, err = scanKnownRedFlag(t.tx.QueryRowContext(t.ctx, t.s.q(`INSERT INTO known_red_flags (patient_id, item,
			since_date, marked_at, marked_by) VALUES (?, ?, ?, ?, ?) RETURNING `+knownRedFlagColumns),
		t.Patient.ID, item, int64(since), t.s.at(at), nullID(therapistID)))
	if err != nil {
		return k, false, fmt.Errorf("mark red flag known: %w", err)
	}
	return k, true, nil
}

// UnmarkRedFlagKnown ends the item's current marking for the patient on
// until, by the therapist, at at (zero: the store's clock), and reports
// whether it was marked.
func (t *PatientTx) UnmarkRedFlagKnown(item string, until programs.Date, therapistID int64, at time.Time) (bool, error) {
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE known_red_flags SET until_date = ?, unmarked_at = ?, unmarked_by = ?
		WHERE patient_id = ? AND item = ? AND unmarked_at IS NULL`),
		int64(until), t.s.at(at), nullID(therapistID), t.Patient.ID, item)
	if err != nil {
		return false, fmt.Errorf("unmark red flag: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("unmark red flag: %w", err)
	}
	return n > 0, nil
}

// AcknowledgeRedFlag records that the therapist saw the patient's red-flag
// screen checkInID, at at (zero: the store's clock), and returns the
// acknowledgement: the first one when it was acknowledged before. A check-in
// that is not a red-flag screen of the patient's is ErrNotFound.
func (t *PatientTx) AcknowledgeRedFlag(checkInID, therapistID int64, at time.Time) (RedFlagAck, error) {
	var kind string
	err := t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT kind FROM checkins WHERE id = ? AND patient_id = ?`),
		checkInID, t.Patient.ID).Scan(&kind)
	if err != nil {
		return RedFlagAck{}, fmt.Errorf("acknowledge red flag: check-in %d: %w", checkInID, notFound(err))
	}
	if kind != string(programs.RedFlagCheckIn) {
		return RedFlagAck{}, fmt.Errorf("acknowledge red flag: check-in %d is a %s check-in: %w", checkInID, kind, ErrNotFound)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`INSERT INTO red_flag_acks (checkin_id, patient_id, therapist_id,
			acknowledged_at) VALUES (?, ?, ?, ?) ON CONFLICT (checkin_id) DO NOTHING`),
		checkInID, t.Patient.ID, nullID(therapistID), t.s.at(at)); err != nil {
		return RedFlagAck{}, fmt.Errorf("acknowledge red flag: %w", err)
	}
	acks, err := t.s.redFlagAcks(t.ctx, t.tx, t.Patient.ID, checkInID)
	if err != nil || len(acks) != 1 {
		return RedFlagAck{}, fmt.Errorf("acknowledge red flag: read back: %d, %w", len(acks), err)
	}
	return acks[0], nil
}

// RedFlagAcks returns the acknowledgements of the patient's red-flag
// screens, by check-in.
func (s *Store) RedFlagAcks(ctx context.Context, patientID int64) (_ []RedFlagAck, err error) {
	defer s.timed("red_flag_acks", time.Now(), &err)
	return s.redFlagAcks(ctx, s.r, patientID, 0)
}

// redFlagAcks reads the patient's acknowledgements, or only checkInID's.
func (s *Store) redFlagAcks(ctx context.Context, db dbtx, patientID, checkInID int64) ([]RedFlagAck, error) {
	query := `SELECT checkin_id, therapist_id, acknowledged_at FROM red_flag_acks WHERE patient_id = ?`
	args := []any{patientID}
	if checkInID != 0 {
		query += ` AND checkin_id = ?`
		args = append(args, checkInID)
	}
	rows, err := db.QueryContext(ctx, s.q(query+` ORDER BY checkin_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("red flag acknowledgements: %w", err)
	}
	defer rows.Close()
	var out []RedFlagAck
	for rows.Next() {
		a := RedFlagAck{PatientID: patientID}
		var by sql.NullInt64
		var at int64
		if err := rows.Scan(&a.CheckInID, &by, &at); err != nil {
			return nil, fmt.Errorf("red flag acknowledgements: %w", err)
		}
		a.TherapistID, a.AcknowledgedAt = by.Int64, fromMillis(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("red flag acknowledgements: %w", err)
	}
	return out, nil
}

// answered is SQL that holds for a red-flag check-in with a yes: its body
// lists answers (an empty list is left out of the JSON).
var answered = `c.kind = 'red_flag' AND c.body LIKE '%"answers":%'`
