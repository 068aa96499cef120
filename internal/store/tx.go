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

// PatientTx is one write transaction that holds one patient: every write
// that changes a patient's plan (a check-in, an override, an assignment, new
// channels or settings) and the re-plan that follows it run in one, reading
// only through it. On PostgreSQL it holds the patient's row lock (SELECT …
// FOR UPDATE) from its first statement; on SQLite the write transaction
// begins (BEGIN IMMEDIATE) before anything is read. So two writers for one
// patient never plan from each other's stale reads, and a red flag's pause
// can never be overwritten by a plan computed before it.
type PatientTx struct {
	s   *Store
	tx  *sql.Tx
	db  dbtx // tx, with each statement prepared once per transaction
	ctx context.Context
	// Patient is the patient as read under the lock.
	Patient Patient
	// FeedChanged is set when a session of the patient changed.
	FeedChanged bool
	// read holds the plans Plan read, until SavePlan replaces them, so that
	// it compares the new plan with them without reading them again.
	read map[int64]Plan
}

// WithPatient runs fn in a PatientTx of the patient and commits if fn returns
// nil, telling the other replicas (notify.go); a missing patient is
// ErrNotFound.
func (s *Store) WithPatient(ctx context.Context, patientID int64, fn func(tx *PatientTx) error) (err error) {
	defer s.timed("patient_tx", time.Now(), &err)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		db := s.stmtCache(tx)
		defer db.close()
		return s.withPatient(ctx, tx, db, patientID, fn)
	})
}

func (s *Store) withPatient(ctx context.Context, tx *sql.Tx, db *stmtCache, patientID int64, fn func(tx *PatientTx) error) error {
	p, err := scanPatient(db.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+` FROM patients WHERE id = ?`+
		s.forUpdate()), patientID))
	if err != nil {
		return fmt.Errorf("patient %d: %w", patientID, err)
	}
	if err := fn(&PatientTx{s: s, tx: tx, db: db, ctx: ctx, Patient: p}); err != nil {
		return err
	}
	return s.notifyChanged(ctx, tx, patientID)
}

// WithPatients runs fn for each patient of ids, in that order, in one write
// transaction, and commits once: as WithPatient for each (the other replicas
// are told of each patient whose fn succeeded), but with one commit (one
// fsync on SQLite) for them all. Each patient's fn runs in a
// savepoint of its own, so that it is still atomic: when fn fails, or the
// patient is gone (ErrNotFound), what it wrote is rolled back and the others
// go on. It returns each patient's error, by the index of ids (all nil when
// every fn succeeded), and an error when the transaction as a whole failed,
// in which case nothing was written. On PostgreSQL each patient's row lock
// is held until the commit: give ids in ascending order, so that two
// transactions lock patients in one order.
func (s *Store) WithPatients(ctx context.Context, ids []int64, fn func(tx *PatientTx) error) (errs []error, err error) {
	defer s.timed("patients_tx", time.Now(), &err)
	errs = make([]error, len(ids))
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		db := s.stmtCache(tx)
		defer db.close()
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT patient`); err != nil {
				return err
			}
			errs[i] = s.withPatient(ctx, tx, db, id, fn)
			if errs[i] != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT patient`); err != nil {
					return errors.Join(errs[i], err)
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT patient`); err != nil {
				return errors.Join(errs[i], err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// Context is the transaction's context.
func (t *PatientTx) Context() context.Context { return t.ctx }

// Assignments returns the patient's active assignments by id.
func (t *PatientTx) Assignments() ([]Assignment, error) {
	return t.s.assignments(t.ctx, t.db, t.Patient.ID, true)
}

// AllAssignments returns the patient's assignments, ended ones too, by id.
func (t *PatientTx) AllAssignments() ([]Assignment, error) {
	return t.s.assignments(t.ctx, t.db, t.Patient.ID, false)
}

// CheckIns returns all of the patient's check-ins, in the order they were
// added.
func (t *PatientTx) CheckIns() ([]CheckIn, error) { return t.s.checkIns(t.ctx, t.db, t.Patient.ID) }

// Overrides returns an assignment's overrides in the order they were added.
func (t *PatientTx) Overrides(assignmentID int64) ([]programs.Overriding, error) {
	return t.s.overrides(t.ctx, t.db, assignmentID)
}

// Channels returns the patient's channels by id.
func (t *PatientTx) Channels() ([]Channel, error) {
	return t.s.channels(t.ctx, t.db, patientOwner(t.Patient.ID), "")
}

// TherapistChannels returns the patient's therapist's channels by id.
func (t *PatientTx) TherapistChannels() ([]Channel, error) {
	return t.s.channels(t.ctx, t.db, therapistOwner(t.Patient.TherapistID), "")
}

// Therapist returns the patient's therapist.
func (t *PatientTx) Therapist() (Therapist, error) {
	th, err := scanTherapist(t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT `+therapistColumns+`
		FROM therapists WHERE id = ?`), t.Patient.TherapistID))
	if err != nil {
		return Therapist{}, fmt.Errorf("therapist %d: %w", t.Patient.TherapistID, err)
	}
	return th, nil
}

// NotifySettings returns the patient's reminder settings.
func (t *PatientTx) NotifySettings() (NotifySettings, error) {
	return t.s.notifySettings(t.ctx, t.db, t.Patient.ID)
}

// Plan returns what the last re-plan stored of an assignment of the
// patient's; one never planned is ErrNotFound.
func (t *PatientTx) Plan(assignmentID int64) (Plan, error) {
	p, err := t.s.plan(t.ctx, t.db, assignmentID)
	if err == nil {
		if t.read == nil {
			t.read = map[int64]Plan{}
		}
		t.read[assignmentID] = p
	}
	return p, err
}

// AddCheckIn stores a check-in of the patient (PatientID is set).
func (t *PatientTx) AddCheckIn(c CheckIn) (CheckIn, error) {
	c.PatientID = t.Patient.ID
	return t.s.addCheckIn(t.ctx, t.tx, c)
}

// AddOverride stores a therapist's override of an assignment of the patient.
func (t *PatientTx) AddOverride(o Override) (Override, error) {
	if err := t.owns(o.AssignmentID); err != nil {
		return Override{}, fmt.Errorf("add override: %w", err)
	}
	return t.s.addOverride(t.ctx, t.tx, o)
}

// CreateAssignment adds an assignment for the patient (PatientID is set).
func (t *PatientTx) CreateAssignment(a Assignment) (Assignment, error) {
	a.PatientID = t.Patient.ID
	return t.s.createAssignment(t.ctx, t.tx, a)
}

// SetAssignment stores an assignment's status and parameters; one that is
// not the patient's is ErrNotFound.
func (t *PatientTx) SetAssignment(a Assignment) error {
	params, err := json.Marshal(a.Params)
	if err != nil {
		return fmt.Errorf("set assignment: %w", err)
	}
	res, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE assignments SET status = ?, params = ?, updated_at = ?
		WHERE id = ? AND patient_id = ?`), a.Status, string(params), t.s.nowMillis(), a.ID, t.Patient.ID)
	if err != nil {
		return fmt.Errorf("set assignment: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("set assignment %d: %w", a.ID, ErrNotFound)
	}
	return nil
}

func (t *PatientTx) owns(assignmentID int64) error {
	var id int64
	err := t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT id FROM assignments WHERE id = ? AND patient_id = ?`),
		assignmentID, t.Patient.ID).Scan(&id)
	if err != nil {
		return fmt.Errorf("assignment %d: %w", assignmentID, notFound(err))
	}
	return nil
}

// SavePlan materializes an assignment's recomputed plan: its sessions, its
// weeks, events and header, and (when reminders is not nil) the reminders of
// its sessions; see savePlan. It returns how many sessions changed.
func (t *PatientTx) SavePlan(assignmentID int64, sessions []Session, plan Plan,
	reminders func(saved []Session) []Reminder, now time.Time) (int, error) {
	var old *Plan
	if p, ok := t.read[assignmentID]; ok {
		old = &p
		delete(t.read, assignmentID)
	}
	n, err := t.s.savePlan(t.ctx, t.db, assignmentID, t.Patient.ID, sessions, plan, old, nil, reminders, now)
	if n > 0 {
		t.FeedChanged = true
	}
	return n, err
}

// PlanHeader returns the header of what the last re-plan stored of an
// assignment of the patient's; one never planned is ErrNotFound.
func (t *PatientTx) PlanHeader(assignmentID int64) (PlanHeader, error) {
	return t.s.planHeader(t.ctx, t.db, assignmentID)
}

// SavePlanOver is SavePlan for a caller that knows what the assignment's
// rows are: prev its sessions and old its plan weeks and events, as a re-plan
// computed them and as the stored header's Digest proves (PlanDigest of prev,
// old.Weeks and old.Events equals it). It reads the sessions' ids, not their
// rows. ok is false, and nothing was written, when the proof fails or a
// wanted session is stored but not in prev; then call SavePlan.
func (t *PatientTx) SavePlanOver(assignmentID int64, sessions []Session, plan Plan, prev []Session, old Plan,
	reminders func(saved []Session) []Reminder, now time.Time) (n int, ok bool, err error) {
	start := time.Now()
	defer func() {
		if ok { // counted by the metrics: how often the review reads no rows back
			t.s.timed("save_plan_over", start, &err)
		}
	}()
	if old.Header.Digest == "" || PlanDigest(prev, old.Weeks, old.Events) != old.Header.Digest {
		return 0, false, nil
	}
	n, err = t.s.savePlan(t.ctx, t.db, assignmentID, t.Patient.ID, sessions, plan, &old, prev, reminders, now)
	if errors.Is(err, errUnknownRows) {
		return 0, false, nil
	}
	if n > 0 {
		t.FeedChanged = true
	}
	return n, err == nil, err
}

// AddReminders adds reminders in the transaction (see Store.AddReminders).
func (t *PatientTx) AddReminders(rs []Reminder) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	return t.s.addReminders(t.ctx, t.tx, rs)
}

// SetChannels makes chs the patient's channels (see Store.SetChannels).
func (t *PatientTx) SetChannels(chs []Channel) ([]Channel, error) {
	return t.s.setChannels(t.ctx, t.tx, patientOwner(t.Patient.ID), chs)
}

// SetTherapistChannels makes chs the patient's therapist's channels.
func (t *PatientTx) SetTherapistChannels(chs []Channel) ([]Channel, error) {
	return t.s.setChannels(t.ctx, t.tx, therapistOwner(t.Patient.TherapistID), chs)
}

// ConfirmChannel confirms the patient's pending channel whose confirmation
// token has the hash, and returns it; ErrNotFound when the patient has no
// such pending channel.
func (t *PatientTx) ConfirmChannel(hash []byte) (Channel, error) {
	if err := checkHash(hash); err != nil {
		return Channel{}, fmt.Errorf("confirm channel: %w", err)
	}
	c, err := scanChannel(t.tx.QueryRowContext(t.ctx, t.s.q(`UPDATE channels SET pending = ?, confirm_nonce = NULL,
			confirm_hash = NULL
		WHERE confirm_hash = ? AND pending AND patient_id = ? RETURNING `+channelColumns), false, hash, t.Patient.ID))
	if err != nil {
		return Channel{}, fmt.Errorf("confirm channel: %w", err)
	}
	return c, nil
}

// CheckInsWithin counts the patient's check-ins logged in the last d, by the
// store's clock, which stamps them (the daily cap on check-ins).
func (t *PatientTx) CheckInsWithin(d time.Duration) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, t.s.q(`SELECT COUNT(*) FROM checkins WHERE patient_id = ? AND created_at > ?`),
		t.Patient.ID, millis(t.s.now().Add(-d))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count check-ins: %w", err)
	}
	return n, nil
}

// AddPushSubscription adds or refreshes a Web Push subscription of the
// patient's (see Store.AddPushSubscription).
func (t *PatientTx) AddPushSubscription(config json.RawMessage) (Channel, error) {
	return t.s.addPushSubscription(t.ctx, t.tx, t.Patient.ID, config)
}

// SetNotifySettings saves the patient's reminder settings.
func (t *PatientTx) SetNotifySettings(n NotifySettings) error {
	n.PatientID = t.Patient.ID
	return t.s.setNotifySettings(t.ctx, t.tx, n)
}

// SetPatient stores the patient's name, email, time zone, discreet and alarm
// settings from p.
func (t *PatientTx) SetPatient(p Patient) error {
	if _, err := t.tx.ExecContext(t.ctx, t.s.q(`UPDATE patients SET name = ?, email = ?, timezone = ?, discreet = ?,
		alarm = ? WHERE id = ?`), p.Name, p.Email, p.Timezone, p.Discreet, p.Alarm, t.Patient.ID); err != nil {
		return fmt.Errorf("set patient: %w", err)
	}
	t.Patient.Name, t.Patient.Email, t.Patient.Timezone = p.Name, p.Email, p.Timezone
	t.Patient.Discreet, t.Patient.Alarm = p.Discreet, p.Alarm
	return nil
}

// Sessions returns all of an assignment's sessions, as AssignmentSessions.
func (t *PatientTx) Sessions(assignmentID int64) ([]Session, error) {
	return t.s.sessions(t.ctx, t.tx, `assignment_id = ? AND patient_id = ?`, assignmentID, t.Patient.ID)
}
