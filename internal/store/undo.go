package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"pacer/programs"
)

// RetractSessionCheckIns undoes the patient's check-ins in force of one
// session: the assignment's activity on date, at time at (any time when
// nil). They stay stored, and count against the daily cap on check-ins
// (CheckInsWithin), but no plan, page or export reads them again. It
// returns how many it undid; none is not an error.
func (t *PatientTx) RetractSessionCheckIns(assignmentID int64, activity string, date programs.Date, at *programs.Clock) (int, error) {
	rows, err := t.tx.QueryContext(t.ctx, t.s.q(`SELECT id, body FROM checkins
		WHERE patient_id = ? AND assignment_id = ? AND kind = ? AND date = ? AND retracted_at IS NULL ORDER BY id`),
		t.Patient.ID, assignmentID, string(programs.SessionCheckIn), int64(date))
	if err != nil {
		return 0, fmt.Errorf("undo check-in: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var (
			id   int64
			body string
			c    programs.CheckIn
		)
		if err := rows.Scan(&id, &body); err != nil {
			rows.Close()
			return 0, fmt.Errorf("undo check-in: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			rows.Close()
			return 0, fmt.Errorf("undo check-in %d: %w", id, err)
		}
		if c.Activity == activity && (at == nil || c.Time == nil || *c.Time == *at) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("undo check-in: %w", err)
	}
	now := t.s.nowMillis()
	for _, id := range ids {
		if _, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE checkins SET retracted_at = ? WHERE id = ?`), now, id); err != nil {
			return 0, fmt.Errorf("undo check-in: %w", err)
		}
	}
	return len(ids), nil
}

// TherapistAlerts are the alerts of a kind (scheduler.KindAlertRedFlag…)
// about the patient queued for their therapist since the instant given,
// oldest first: whether and how far they went (pending, sent, failed,
// skipped) is what a patient may be told about them.
func (s *Store) TherapistAlerts(ctx context.Context, patientID int64, kind string, since time.Time) ([]Reminder, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+reminderColumns+` FROM reminders
		WHERE patient_id = ? AND therapist_id IS NOT NULL AND kind = ? AND created_at >= ?
		ORDER BY created_at, id`), patientID, kind, millis(since))
	if err != nil {
		return nil, fmt.Errorf("therapist alerts: %w", err)
	}
	rs, err := scanReminders(rows)
	if err != nil {
		return nil, fmt.Errorf("therapist alerts: %w", err)
	}
	return rs, nil
}
