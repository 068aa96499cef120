package clinic

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// Assignment is what a therapist gives to assign a program to a patient.
type Assignment struct {
	Program *programs.Program
	// Start is the first day of week 1; 0 is today in the patient's zone.
	Start  programs.Date
	Params store.Params
}

// Assign checks an assignment against its program, stores it and plans it,
// in one transaction with the patient's other programs.
func (c *Clinic) Assign(ctx context.Context, therapistID, patientID int64, in Assignment) (store.Assignment, error) {
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return store.Assignment{}, err
	}
	if in.Program == nil {
		return store.Assignment{}, Problemf("program is required")
	}
	if in.Start == 0 {
		in.Start = c.Today(p)
	}
	if err := c.checkParams(p, in.Program, in.Start, in.Params); err != nil {
		return store.Assignment{}, err
	}
	var a store.Assignment
	err = c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		var err error
		a, err = tx.CreateAssignment(store.Assignment{ProgramID: in.Program.ID, Program: in.Program, Start: in.Start,
			Params: in.Params, Status: "active"})
		if err != nil {
			return err
		}
		if _, err = c.replan(tx); err != nil {
			return err
		}
		return c.checkFeedSize(tx)
	})
	return a, err
}

// AssignTemplate assigns a built-in template from today with its defaults.
func (c *Clinic) AssignTemplate(ctx context.Context, therapistID, patientID int64, templateID string) (store.Assignment, error) {
	prog, ok := c.Library.Get(templateID)
	if !ok {
		return store.Assignment{}, Problemf("no template %q: use one of %s", templateID, strings.Join(c.Library.IDs(), ", "))
	}
	return c.Assign(ctx, therapistID, patientID, Assignment{Program: prog})
}

// How far from today a program may start: a plan is computed from its start,
// and at most programs.MaxWeeks weeks of it are kept.
const (
	maxStartBack  = 7 * programs.MaxWeeks
	maxStartAhead = 366
)

// checkParams checks an assignment's parameters and schedule against its
// program and says what to fix.
func (c *Clinic) checkParams(p store.Patient, prog *programs.Program, start programs.Date, params store.Params) error {
	loc, err := c.Zone(p.Timezone)
	if err != nil {
		return fmt.Errorf("patient %d: time zone: %w", p.ID, err)
	}
	today := c.Today(p)
	if start < today.AddDays(-maxStartBack) || start > today.AddDays(maxStartAhead) {
		return Problemf("start %s is too far from today (%s): a program starts at most %d weeks back or a year ahead",
			start, today, programs.MaxWeeks)
	}
	for _, act := range prog.Activities {
		base, thr := act.Baseline, act.Threshold
		if v, ok := params.Baseline[act.ID]; ok {
			base = v
		}
		if v, ok := params.Threshold[act.ID]; ok {
			thr = v
		}
		if thr > 0 && thr < base {
			return Problemf("threshold %d for %s is below its baseline %d: the threshold is the dose known to bring on a flare, "+
				"so it lies above what the patient manages today; raise the threshold or lower the baseline", thr, act.ID, base)
		}
	}
	sched, err := Schedules(params.Schedule)
	if err != nil {
		return Problemf("%v", err)
	}
	check := programs.Assignment{Program: prog, Start: start, Location: loc, Weeks: 1,
		Baseline: params.Baseline, Threshold: params.Threshold, Goal: params.Goal, Schedule: sched}
	if err := check.Validate(); err != nil {
		return Problemf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}

// assignment loads the therapist's assignment with its patient.
func (c *Clinic) assignment(ctx context.Context, therapistID, assignmentID int64) (store.Patient, store.Assignment, error) {
	a, err := c.Store.Assignment(ctx, therapistID, assignmentID)
	if err != nil {
		return store.Patient{}, a, err
	}
	p, err := c.Store.Patient(ctx, therapistID, a.PatientID)
	return p, a, err
}

// EditSchedule replaces an active assignment's days and times per activity
// (activities not named keep theirs) and re-plans: sessions from today on
// move, history stays.
func (c *Clinic) EditSchedule(ctx context.Context, therapistID, assignmentID int64, sched map[string]store.ScheduleOverride) error {
	p, a, err := c.assignment(ctx, therapistID, assignmentID)
	if err != nil {
		return err
	}
	if a.Status != "active" {
		return &Conflict{"this program has ended; assign it again to change its schedule"}
	}
	params := a.Params
	params.Schedule = map[string]store.ScheduleOverride{}
	for id, s := range a.Params.Schedule {
		params.Schedule[id] = s
	}
	for id, s := range sched {
		params.Schedule[id] = s
	}
	if err := c.checkParams(p, a.Program, a.Start, params); err != nil {
		return err
	}
	a.Params = params
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		if err := tx.SetAssignment(a); err != nil {
			return err
		}
		if _, err := c.replan(tx); err != nil {
			return err
		}
		return c.checkFeedSize(tx)
	})
}

// The calendar feed's window: the last 14 days (so cancelled events reach
// clients) and the next 8 weeks.
const (
	FeedDaysBack  = 14
	FeedDaysAhead = 56
)

// MaxFeedBytes is the most a patient's calendar feed may hold: Google drops
// the events of a feed past 1 MB.
const MaxFeedBytes = 1_000_000

// feedEventBytes bounds what an event adds to a feed beyond its title and
// description: its other properties (UID, times, status, sequence, the
// session link twice, the alarm), line folding and escaping.
// TestFeedSizeEstimate checks it against rendered feeds.
const feedEventBytes = 600

// checkFeedSize refuses a plan, in the transaction that stored it, whose
// calendar feed would pass MaxFeedBytes: too many sessions in the feed's
// window (times a day, days a week, programs) or too much text.
func (c *Clinic) checkFeedSize(tx *store.PatientTx) error {
	n, err := c.feedSize(tx)
	if err != nil {
		return err
	}
	if n > MaxFeedBytes {
		return Problemf("this plan would make the patient's calendar about %d KB, past the %d KB calendar apps accept: "+
			"schedule fewer times a day or days a week, shorten the instructions, or end another program first",
			n/1000, MaxFeedBytes/1000)
	}
	return nil
}

// feedSize estimates, from above, the bytes of the patient's calendar feed
// as stored in tx: every session in the window of every program, worded as
// the feed words it.
func (c *Clinic) feedSize(tx *store.PatientTx) (int, error) {
	p := tx.Patient
	set, err := tx.NotifySettings()
	if err != nil {
		return 0, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	today := c.Today(p)
	as, err := tx.AllAssignments()
	if err != nil {
		return 0, err
	}
	link := len(c.URL("/s/")) + 54 // a session link's token is 54 characters
	total := 2000                  // the calendar's header and time zone
	for _, a := range as {
		sp, err := tx.Plan(a.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		rs := NewReasons(cat, a.Program, sp)
		xs, err := tx.Sessions(a.ID)
		if err != nil {
			return 0, err
		}
		for _, x := range xs {
			if x.Date < today.AddDays(-FeedDaysBack) || x.Date >= today.AddDays(FeedDaysAhead) {
				continue
			}
			w := rs.SessionWords(p, x)
			total += feedEventBytes + 2*link + (len(w.Title)+len(w.Description))*11/10
		}
	}
	return total, nil
}

// EndAssignment ends an active assignment: its history stays, its sessions
// from today on that nobody checked in are cancelled (so calendars drop them)
// with their reminders, and the patient's other programs are re-planned.
func (c *Clinic) EndAssignment(ctx context.Context, therapistID, assignmentID int64) error {
	p, a, err := c.assignment(ctx, therapistID, assignmentID)
	if err != nil {
		return err
	}
	if a.Status != "active" {
		return nil // ending an ended program changes nothing
	}
	today := c.Today(p)
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		sp, err := tx.Plan(a.ID)
		if err != nil {
			return err
		}
		var keep []store.Session
		xs, err := tx.Sessions(a.ID)
		if err != nil {
			return err
		}
		for _, x := range xs {
			if x.Cause == store.CauseDropped || (x.Date >= today && x.Status == programs.Planned) {
				continue
			}
			keep = append(keep, x)
		}
		if _, err := tx.SavePlan(a.ID, keep, sp, func([]store.Session) []store.Reminder { return nil }, c.Now()); err != nil {
			return err
		}
		a.Status = "ended"
		if err := tx.SetAssignment(a); err != nil {
			return err
		}
		_, err = c.replan(tx)
		return err
	})
}
