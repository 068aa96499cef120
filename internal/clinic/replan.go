package clinic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
	"pacer/scheduler"
)

// State is a patient's state after a re-plan, over all their active
// programs: paused and why (a red flag pauses them all; the therapist
// pauses one), in a flare since when.
type State struct {
	Paused  bool
	Pause   programs.PauseCause // PausedByRedFlag if any program is; PausedByTherapist if all are
	Answers []string            // the red-flag answers of a red-flag pause
	Urgency programs.Urgency    // the most urgent of the answers that paused
	InFlare bool
	FlareOn programs.Date
	// TherapistReachable is true when a channel can reach the patient's
	// therapist, so that an alert to them can be delivered.
	TherapistReachable bool
}

// planned is one assignment's plan as a re-plan computed and stored it.
type planned struct {
	a    store.Assignment
	plan *programs.Plan
	old  *store.Plan // what the re-plan replaced; nil for a first plan
	rows store.Plan
}

// Replan re-plans every active program of the patient in one write
// transaction: see replan.
func (c *Clinic) Replan(ctx context.Context, patientID int64) error {
	return c.write(ctx, patientID, func(tx *store.PatientTx) error {
		_, err := c.replan(tx)
		return err
	})
}

// ReplanBatch re-plans each patient of ids (give them in ascending order)
// as Replan does, atomically, but several in one write transaction, which
// the store commits once: the hourly review re-plans thousands of patients,
// and one commit (one fsync on SQLite) each would bound it. It returns each
// patient's error by the index of ids (ErrNotFound for one erased since),
// and an error when the transaction as a whole failed, re-planning none.
func (c *Clinic) ReplanBatch(ctx context.Context, ids []int64) ([]error, error) {
	errs, err := c.Store.WithPatients(ctx, ids, func(tx *store.PatientTx) error {
		_, err := c.replanFrom(tx, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if errs[i] == nil {
			c.changed(id)
		}
	}
	return errs, nil
}

// ReplanStale re-plans every patient whose stored plan is missing or was
// computed under older rules (an upgrade), a batch at a time (ReplanBatch),
// and returns how many it re-planned. A patient's failure is logged and the
// others go on.
func (c *Clinic) ReplanStale(ctx context.Context) (int, error) {
	ids, err := c.Store.StalePatients(ctx, programs.RulesVersion)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for len(ids) > 0 {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		batch := ids[:min(len(ids), staleBatch)]
		ids = ids[len(batch):]
		perPatient, err := c.ReplanBatch(ctx, batch)
		if err != nil {
			errs = append(errs, fmt.Errorf("patients %d to %d: %w", batch[0], batch[len(batch)-1], err))
			continue
		}
		for i, err := range perPatient {
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("patient %d: %w", batch[i], err))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// staleBatch is how many patients one write transaction of ReplanStale
// re-plans.
const staleBatch = 100

// replan is the one place a stored plan is computed. Inside tx, which holds
// the patient, it reads the patient's check-ins, overrides, the red-flag
// items their therapist marked known and reviewed, channels and settings, runs the engine for every active assignment, and writes each
// plan's sessions, weeks, events and session reminders; then, once for the
// patient and not once per program, the messages that follow from what
// changed (a flare's plan, a red flag's guidance, therapist alerts, the
// weekly summary). Nothing it writes comes from a read outside tx.
func (c *Clinic) replan(tx *store.PatientTx) (State, error) { return c.replanFrom(tx, false) }

// replanFrom is replan. With recompute, an assignment whose stored plan is
// of an earlier day (the review's case: nothing was logged since) is
// compared with that plan recomputed for its day from the same inputs rather
// than with its rows read back, when the stored digest proves the two the
// same (store.PatientTx.SavePlanOver); the rows written are the same either
// way.
func (c *Clinic) replanFrom(tx *store.PatientTx, recompute bool) (State, error) {
	p := tx.Patient
	now := c.Now()
	loc, err := c.Zone(p.Timezone)
	if err != nil {
		return State{}, fmt.Errorf("patient %d: time zone %q: %w", p.ID, p.Timezone, err)
	}
	as, err := tx.Assignments()
	if err != nil {
		return State{}, err
	}
	all, err := tx.CheckIns()
	if err != nil {
		return State{}, err
	}
	marked, err := tx.KnownRedFlags()
	if err != nil {
		return State{}, err
	}
	known := engineMarkings(marked)
	chs, err := tx.Channels()
	if err != nil {
		return State{}, err
	}
	chs = active(chs) // a pending channel gets its confirmation only
	set, err := tx.NotifySettings()
	if err != nil {
		return State{}, err
	}
	cat := i18n.For(i18n.Parse(set.Language))
	reminders := func(saved []store.Session) []store.Reminder {
		return scheduler.SessionReminders(saved, chs, set, loc, now)
	}
	var plans []planned
	for _, a := range as {
		in, err := input(a, loc, now, known)
		if err != nil {
			return State{}, err
		}
		ovs, err := tx.Overrides(a.ID)
		if err != nil {
			return State{}, err
		}
		plan, err := programs.Compute(in, checkInsOf(all, a.ID), ovs, now)
		c.engineRuns.Add(1)
		if err != nil {
			return State{}, fmt.Errorf("assignment %d: plan: %w", a.ID, err)
		}
		pl := planned{a: a, plan: plan}
		var sessions []store.Session
		sessions, pl.rows = rows(a, plan)
		setShown(p, cat, a.Program, sessions, pl.rows)
		saved := false
		if recompute {
			old, ok, err := c.saveOverRecomputed(tx, a, loc, all, known, ovs, cat, sessions, pl.rows, reminders, now)
			if err != nil {
				return State{}, fmt.Errorf("assignment %d: %w", a.ID, err)
			}
			if saved = ok; ok {
				pl.old = old
			}
		}
		if !saved {
			if old, err := tx.Plan(a.ID); err == nil {
				pl.old = &old
			} else if !errors.Is(err, store.ErrNotFound) {
				return State{}, err
			}
			if _, err := tx.SavePlan(a.ID, sessions, pl.rows, reminders, now); err != nil {
				return State{}, fmt.Errorf("assignment %d: %w", a.ID, err)
			}
		}
		plans = append(plans, pl)
	}
	st := stateOf(plans)
	reach, err := c.messages(tx, plans, chs, set, cat, loc, now)
	if err != nil {
		return State{}, err
	}
	st.TherapistReachable = reach
	return st, nil
}

// setShown sets the Shown digest of each of a plan's sessions.
func setShown(p store.Patient, cat *i18n.Catalog, prog *programs.Program, sessions []store.Session, sp store.Plan) {
	rs := NewReasons(cat, prog, sp)
	shown := map[shownKey]string{} // sessions alike in what the digest reads share it
	for i := range sessions {
		k := rs.shownKey(sessions[i])
		d, ok := shown[k]
		if !ok {
			d = rs.shown(p, sessions[i])
			shown[k] = d
		}
		sessions[i].Shown = d
	}
}

// saveOverRecomputed saves an assignment's new plan over its stored one
// without reading the stored rows back, when it can: when the stored plan
// is of an earlier day than the new one, under the same rules, and
// recomputing it for its day from the same inputs gives the rows its digest
// names. It returns the stored plan (for the messages) and whether it
// saved; when it did not, nothing was written.
func (c *Clinic) saveOverRecomputed(tx *store.PatientTx, a store.Assignment, loc *time.Location, all []store.CheckIn,
	known []programs.KnownRedFlag, ovs []programs.Overriding, cat *i18n.Catalog, sessions []store.Session, sp store.Plan,
	reminders func([]store.Session) []store.Reminder, now time.Time) (*store.Plan, bool, error) {
	h, err := tx.PlanHeader(a.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if h.Digest == "" || h.RulesVersion != programs.RulesVersion || h.Now >= sp.Header.Now {
		return nil, false, nil
	}
	then := h.Now.In(loc, 12*60) // any instant of that day: the engine reads the date
	in, err := input(a, loc, then, known)
	if err != nil {
		return nil, false, err
	}
	// Not counted in engineRuns, which counts re-plans.
	plan, err := programs.Compute(in, checkInsOf(all, a.ID), ovs, then)
	if err != nil {
		return nil, false, nil // the stored plan came from other inputs: read it
	}
	prev, old := rows(a, plan)
	setShown(tx.Patient, cat, a.Program, prev, old)
	old.Header = h
	_, ok, err := tx.SavePlanOver(a.ID, sessions, sp, prev, old, reminders, now)
	if !ok || err != nil {
		return nil, false, err
	}
	return &old, true, nil
}

// checkInsOf are the check-ins the engine reads for an assignment: the
// patient-level ones and the assignment's own.
func checkInsOf(all []store.CheckIn, assignmentID int64) []programs.CheckIn {
	out := make([]programs.CheckIn, 0, len(all))
	for _, c := range all {
		if c.AssignmentID == 0 || c.AssignmentID == assignmentID {
			out = append(out, c.CheckIn)
		}
	}
	return out
}

func stateOf(plans []planned) State {
	var st State
	therapist := len(plans) > 0
	for _, pl := range plans {
		switch pl.plan.Pause {
		case programs.PausedByRedFlag:
			st.Pause, st.Answers, st.Urgency = programs.PausedByRedFlag, pl.plan.Answers, pl.plan.Urgency
		case "":
			therapist = false
		}
		if pl.plan.InFlare {
			st.InFlare = true
			if st.FlareOn == 0 || pl.plan.FlareOn < st.FlareOn {
				st.FlareOn = pl.plan.FlareOn
			}
		}
	}
	if st.Pause == "" && therapist {
		st.Pause = programs.PausedByTherapist
	}
	st.Paused = st.Pause != ""
	return st
}

// shownKey is everything of a session that its Shown digest reads, besides
// what is the same for all of a plan's sessions (the patient, the program,
// the catalogue).
type shownKey struct {
	alarm, near bool
	activity    string
	week, cause int
}

func (r *Reasons) shownKey(x store.Session) shownKey {
	return shownKey{alarm: x.Date >= r.Now && x.Status != programs.Cancelled,
		near: x.Date >= r.Now && x.Date < r.Now.AddDays(instructionDays), activity: x.Activity, week: x.Week, cause: x.Cause}
}

// shown is the Shown digest of a session: of everything its calendar event's
// words are made from beyond the session's own columns, so that a change to
// any of them raises the revision. It digests the inputs of SessionWords
// rather than its output, which would cost a rendering of every session at
// every re-plan; the catalogue's version is among them, so new wording after
// an upgrade raises revisions too.
func (r *Reasons) shown(p store.Patient, x store.Session) string {
	w := newDigest()
	w.str(r.Cat.Version())
	w.bool(p.Discreet)
	w.bool(p.Alarm && x.Date >= r.Now && x.Status != programs.Cancelled)
	w.bool(x.Date >= r.Now && x.Date < r.Now.AddDays(instructionDays))
	if r.Program != nil { // in the reader's language: a new translation raises the revision too
		w.str(r.Program.NameIn(r.lang()))
		if a, ok := r.Program.Activity(x.Activity); ok {
			w.str(a.NameIn(r.lang()))
			w.str(a.InstructionsIn(r.lang()))
		}
	}
	if evs := r.events[x.Week]; x.Cause > 0 && x.Cause <= len(evs) {
		w.json(evs[x.Cause-1])
	} else {
		d, _ := r.Decision(x.Week, x.Activity)
		w.json(d)
	}
	return w.sum()
}
