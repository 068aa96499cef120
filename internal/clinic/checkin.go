package clinic

import (
	"context"
	"fmt"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// CheckInBackDays is how far back a patient may log daily pain, a flare or
// the weekly check: enough for a forgotten weekend, not so far that old
// weeks are rewritten. A session may be logged up to its program's
// late_log_days (progression.md: 2) after its day; later, the plan has
// counted it as not done.
const CheckInBackDays = 30

// CheckIn is one check-in as a patient sends it: one object of the check-ins
// file format, plus the assignment when an activity is in more than one of
// the patient's programs. A zero Date is today in the patient's zone.
type CheckIn struct {
	programs.CheckIn
	Assignment int64
}

// Recorded is a stored check-in and the patient's state after the re-plan it
// ended in, read in the same transaction.
type Recorded struct {
	ID   int64
	Date programs.Date
	Kind programs.CheckInKind
	State
}

// DefaultCheckInDailyCap is how many check-ins a patient may log in 24
// hours unless configured otherwise: far more than a day of sessions, pain,
// flare and weekly check-ins, far fewer than a script replaying them.
const DefaultCheckInDailyCap = 60

// Limited is a request refused because its sender used up a limit (the
// daily check-in cap); the API answers it with 429.
type Limited struct{ Msg string }

func (l *Limited) Error() string { return l.Msg }

// CheckIn validates a patient's check-in, stores it and re-plans the patient,
// all in one transaction, so that what it answers (paused, in a flare) is
// what was stored. A patient may log at most CheckInDailyCap check-ins in 24
// hours.
func (c *Clinic) CheckIn(ctx context.Context, p store.Patient, in CheckIn) (Recorded, error) {
	out, err := c.CheckIns(ctx, p, []CheckIn{in})
	if err != nil {
		return Recorded{}, err
	}
	return out[0], nil
}

// CheckIns is CheckIn for several check-ins at once, e.g. every session of
// one time of day ("Done all"): all are stored, or none is, and the patient
// is re-planned once. Each counts against the daily cap.
func (c *Clinic) CheckIns(ctx context.Context, p store.Patient, ins []CheckIn) ([]Recorded, error) {
	if len(ins) == 0 {
		return nil, Problemf("nothing to check in")
	}
	today := c.Today(p)
	cis := make([]CheckIn, len(ins))
	for i, in := range ins {
		ci := in.CheckIn
		if ci.Date == 0 {
			ci.Date = today
		}
		if in.Assignment != 0 && ci.Kind != programs.SessionCheckIn {
			return nil, Problemf("assignment belongs to a session check-in only, not to a %s check-in: leave it out", ci.Kind)
		}
		switch {
		case ci.Date > today:
			return nil, Problemf("date %s is in the future; today is %s", ci.Date, today)
		case ci.Date < today.AddDays(-CheckInBackDays):
			return nil, Problemf("date %s is more than %d days ago; check-ins can be logged up to %d days back",
				ci.Date, CheckInBackDays, CheckInBackDays)
		}
		ci.At = time.Time{} // when it was logged is the check-in's CreatedAt
		cis[i] = CheckIn{CheckIn: ci, Assignment: in.Assignment}
	}
	var out []Recorded
	err := c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		if limit := c.checkInCap(); limit > 0 {
			n, err := tx.CheckInsWithin(24 * time.Hour)
			if err != nil {
				return err
			}
			if n+len(cis) > limit {
				return &Limited{fmt.Sprintf("%d check-ins in the last 24 hours is the most pacer takes; try again tomorrow", limit)}
			}
		}
		as, err := tx.Assignments()
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return &Conflict{"there is no plan to check in to yet; your therapist assigns one"}
		}
		var saved []store.CheckIn
		for _, in := range cis {
			row, err := c.checkInRow(as, today, in)
			if err != nil {
				return err
			}
			s, err := tx.AddCheckIn(row)
			if err != nil {
				return err
			}
			saved = append(saved, s)
		}
		st, err := c.replan(tx)
		if err != nil {
			return fmt.Errorf("re-plan after check-in: %w", err)
		}
		for _, s := range saved {
			out = append(out, Recorded{ID: s.ID, Date: s.CheckIn.Date, Kind: s.CheckIn.Kind, State: st})
		}
		return nil
	})
	return out, err
}

// checkInRow checks a check-in against the patient's active assignments and
// makes its row: a session belongs to the assignment whose program has the
// activity; the other kinds belong to the patient and apply to every
// assignment.
func (c *Clinic) checkInRow(as []store.Assignment, today programs.Date, in CheckIn) (store.CheckIn, error) {
	ci := in.CheckIn
	row := store.CheckIn{CheckIn: ci, CreatedAt: c.stamp()}
	prog := as[0].Program
	if ci.Kind == programs.SessionCheckIn {
		var target []store.Assignment
		for _, a := range as {
			if _, has := a.Program.Activity(ci.Activity); has && (in.Assignment == 0 || in.Assignment == a.ID) {
				target = append(target, a)
			}
		}
		switch {
		case len(target) == 0:
			return row, Problemf("activity %q is not in your plan", ci.Activity)
		case len(target) > 1:
			return row, Problemf("activity %q is in more than one of your programs; say which with \"assignment\"", ci.Activity)
		}
		row.AssignmentID, prog = target[0].ID, target[0].Program
		if late := prog.Rules.LateLogDays; ci.Date < today.AddDays(-late) {
			return row, Problemf("date %s is more than %d days ago; a session can be logged up to %d days after its day, and after that it counts as not done",
				ci.Date, late, late)
		}
	}
	if err := ci.Validate(prog); err != nil {
		return row, Problemf("%v", err)
	}
	return row, nil
}

// UndoSession takes back what the patient logged for one session of an
// assignment (a tap on the wrong button) and re-plans: the session is
// planned again, or missed if its day is past the late-logging window. The
// check-ins stay stored and count against the daily cap, so undoing cannot
// be used to re-plan without end. Undoing a session with nothing logged is
// a Conflict.
func (c *Clinic) UndoSession(ctx context.Context, p store.Patient, assignmentID int64, activity string, date programs.Date, at *programs.Clock) (Recorded, error) {
	today := c.Today(p)
	var out Recorded
	err := c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		as, err := tx.Assignments()
		if err != nil {
			return err
		}
		var a *store.Assignment
		for i := range as {
			if as[i].ID == assignmentID {
				a = &as[i]
			}
		}
		if a == nil {
			return Problemf("assignment %d is not one of your active programs", assignmentID)
		}
		if late := a.Program.Rules.LateLogDays; date < today.AddDays(-late) || date > today {
			return Problemf("date %s: only sessions of the last %d days can be undone", date, late+1)
		}
		n, err := tx.RetractSessionCheckIns(assignmentID, activity, date, at)
		if err != nil {
			return err
		}
		if n == 0 {
			return &Conflict{"nothing was logged for this session, so there is nothing to undo"}
		}
		st, err := c.replan(tx)
		if err != nil {
			return fmt.Errorf("re-plan after undo: %w", err)
		}
		out = Recorded{Date: date, Kind: programs.SessionCheckIn, State: st}
		return nil
	})
	return out, err
}

// checkInCap is the daily cap in force.
func (c *Clinic) checkInCap() int {
	if c.CheckInDailyCap == 0 {
		return DefaultCheckInDailyCap
	}
	return c.CheckInDailyCap
}
