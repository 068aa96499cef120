package clinic

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	// Again confirms assigning a program the patient has already (an active
	// assignment of the same program id): without it, that is a Duplicate.
	Again bool
}

// Duplicate is an assignment of a program the patient has already: a second
// copy doubles its sessions, calendar events and reminders, so it takes an
// explicit confirmation (Assignment.Again). It is a Conflict.
type Duplicate struct {
	Conflict
	Existing store.Assignment
}

func (d *Duplicate) Unwrap() error { return &d.Conflict }

// duplicateOf is the patient's active assignment of the program, if any.
func duplicateOf(as []store.Assignment, prog *programs.Program) (store.Assignment, bool) {
	for _, a := range as {
		if a.Status == "active" && a.ProgramID == prog.ID {
			return a, true
		}
	}
	return store.Assignment{}, false
}

// Assign checks an assignment against its program, stores it and plans it,
// in one transaction with the patient's other programs. A program the
// patient has already is a Duplicate unless in.Again confirms it.
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
		if !in.Again {
			as, err := tx.Assignments()
			if err != nil {
				return err
			}
			if old, ok := duplicateOf(as, in.Program); ok {
				return &Duplicate{Conflict{fmt.Sprintf("the patient has %s already (assignment %d, since %s): a second copy "+
					"doubles its sessions, calendar events and reminders; end that one first, or confirm that you want a second copy "+
					`(the API: "again": true)`, in.Program.Name, old.ID, old.Start)}, old}
			}
		}
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
		var window []store.Session
		for _, x := range xs {
			if x.Date >= today.AddDays(-FeedDaysBack) && x.Date < today.AddDays(FeedDaysAhead) {
				window = append(window, x)
			}
		}
		// As the feed words them: sessions at one time are one event.
		for _, g := range SameTime(window, func(int64) *programs.Program { return a.Program }) {
			w := rs.SessionWords(p, g[0])
			if len(g) > 1 {
				w = rs.GroupWords(p, g, time.Hour)
			}
			total += feedEventBytes + 2*link + 8*len(g) + (len(w.Title)+len(w.Description))*11/10
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

// RemoveAssignment takes back an assignment made by mistake, while the
// patient has logged nothing it could have read: no session of it and no
// check-in of theirs since it was assigned. Otherwise it is a Conflict that
// says to end it instead (which keeps its history). A removed assignment is
// gone from the therapist's and the patient's pages; every session of it is
// cancelled, so that calendars drop its events (calendar.md: a removed event
// stays in the feed as CANCELLED), with its reminders, and the patient's
// other programs are re-planned. Removing a removed assignment changes
// nothing.
func (c *Clinic) RemoveAssignment(ctx context.Context, therapistID, assignmentID int64) error {
	p, a, err := c.assignment(ctx, therapistID, assignmentID)
	if err != nil {
		return err
	}
	if a.Status == StatusRemoved {
		return nil
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		cs, err := tx.CheckIns()
		if err != nil {
			return err
		}
		n := 0
		for _, ci := range cs {
			if ci.AssignmentID == a.ID || (ci.AssignmentID == 0 && !ci.CreatedAt.Before(a.CreatedAt)) {
				n++
			}
		}
		if n > 0 {
			return &Conflict{fmt.Sprintf("the patient has logged %d %s since %s was assigned, so it cannot be removed: "+
				"end it instead, which keeps its history and stops its sessions and reminders from today",
				n, plural(n, "check-in", "check-ins"), a.Program.Name)}
		}
		sp, err := tx.Plan(a.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.SavePlan(a.ID, nil, sp, func([]store.Session) []store.Reminder { return nil }, c.Now()); err != nil {
			return err
		}
		a.Status = StatusRemoved
		if err := tx.SetAssignment(a); err != nil {
			return err
		}
		_, err = c.replan(tx)
		return err
	})
}

// The statuses of an assignment.
const (
	StatusActive  = "active"
	StatusEnded   = "ended"
	StatusRemoved = "removed"
)

func plural(n int, one, other string) string {
	if n == 1 {
		return one
	}
	return other
}

// Assigned returns the patient's active assignment of the program, if any:
// assigning it again is a Duplicate.
func (c *Clinic) Assigned(ctx context.Context, p store.Patient, prog *programs.Program) (store.Assignment, bool, error) {
	as, err := c.Store.AllAssignments(ctx, p.ID)
	if err != nil {
		return store.Assignment{}, false, err
	}
	a, ok := duplicateOf(as, prog)
	return a, ok, nil
}

// PreviewWeeks is how many weeks from its start a preview shows.
const PreviewWeeks = 12

// Preview computes the plan an assignment would get, checked as Assign
// checks it, and stores nothing: the therapist sees it before assigning. A
// preview is not a stored plan, so running the engine here is right (the
// pages that show stored plans never run it); it is not a re-plan, so
// EngineRuns does not count it. It reads the patient's check-ins, since a
// patient-level one (a flare, a red flag) applies to a new program too, and
// the red-flag items marked known for them.
func (c *Clinic) Preview(ctx context.Context, therapistID, patientID int64, in Assignment) (*programs.Plan, error) {
	p, err := c.Store.Patient(ctx, therapistID, patientID)
	if err != nil {
		return nil, err
	}
	if in.Program == nil {
		return nil, Problemf("program is required")
	}
	today := c.Today(p)
	if in.Start == 0 {
		in.Start = today
	}
	if err := c.checkParams(p, in.Program, in.Start, in.Params); err != nil {
		return nil, err
	}
	cs, err := c.Store.CheckInsOf(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	ks, err := c.Store.KnownRedFlags(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	loc, err := c.Zone(p.Timezone)
	if err != nil {
		return nil, fmt.Errorf("patient %d: time zone: %w", p.ID, err)
	}
	sched, err := Schedules(in.Params.Schedule)
	if err != nil {
		return nil, Problemf("%v", err)
	}
	elapsed := max(int(today-in.Start), 0) / 7
	as := programs.Assignment{Program: in.Program, Start: in.Start, Location: loc,
		Weeks: min(elapsed+PreviewWeeks, programs.MaxWeeks), Baseline: in.Params.Baseline, Threshold: in.Params.Threshold,
		Goal: in.Params.Goal, Schedule: sched, KnownRedFlags: engineMarkings(ks)}
	plan, err := programs.Compute(as, checkInsOf(cs, 0), nil, c.Now())
	if err != nil {
		return nil, Problemf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return plan, nil
}
