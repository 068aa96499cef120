package clinic

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// HorizonWeeks is how far past today a plan is materialized: the calendar
// feed shows the next 8 weeks, so one more week keeps its edge filled.
const HorizonWeeks = 9

// input is the engine's input for a stored assignment as of now, with the
// red-flag items the therapist marked known and reviewed for the patient.
func input(a store.Assignment, loc *time.Location, now time.Time, known []programs.KnownRedFlag) (programs.Assignment, error) {
	sched, err := Schedules(a.Params.Schedule)
	if err != nil {
		return programs.Assignment{}, fmt.Errorf("assignment %d: %w", a.ID, err)
	}
	return programs.Assignment{Program: a.Program, Start: a.Start, Location: loc,
		Weeks: Weeks(a.Start, programs.DateOf(now.In(loc))), Baseline: a.Params.Baseline,
		Threshold: a.Params.Threshold, Goal: a.Params.Goal, Schedule: sched, KnownRedFlags: known}, nil
}

// engineMarkings are the patient's markings of red-flag items as the engine
// reads them.
func engineMarkings(ks []store.KnownRedFlag) []programs.KnownRedFlag {
	out := make([]programs.KnownRedFlag, len(ks))
	for i, k := range ks {
		out[i] = k.Engine()
	}
	return out
}

// Weeks is the plan length that covers the start through today plus the horizon.
func Weeks(start, today programs.Date) int {
	elapsed := max(int(today-start), 0) / 7
	return min(elapsed+1+HorizonWeeks, programs.MaxWeeks)
}

// Schedules converts a therapist's schedule overrides to the engine's form.
func Schedules(in map[string]store.ScheduleOverride) (map[string]programs.Schedule, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]programs.Schedule, len(in))
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for k := range in {
			if !yield(k) {
				return
			}
		}
	}) {
		s := in[id]
		var sc programs.Schedule
		var err error
		if len(s.Days) > 0 {
			if sc.Days, err = programs.ParseDays(s.Days); err != nil {
				return nil, fmt.Errorf("schedule for %s: %w", id, err)
			}
		}
		if s.PerWeek < 0 || s.PerWeek > 7 {
			return nil, fmt.Errorf("schedule for %s: per_week must be between 1 and 7", id)
		}
		sc.PerWeek = s.PerWeek
		if sc.Times, err = programs.ParseTimes(s.Times); err != nil {
			return nil, fmt.Errorf("schedule for %s: %w", id, err)
		}
		if (len(sc.Days) == 0) == (sc.PerWeek == 0) || len(sc.Times) == 0 {
			return nil, fmt.Errorf("schedule for %s needs days (or per_week) and at least one time", id)
		}
		out[id] = sc
	}
	return out, nil
}

// rows flattens an engine plan into what the store keeps: sessions and the
// plan's header, weeks and events. A planned session's slot is its order
// among the activity's planned sessions that day, so its identity survives a
// change of time; a session the patient logged on a day with nothing planned
// (an extra) has a negative slot.
func rows(a store.Assignment, plan *programs.Plan) ([]store.Session, store.Plan) {
	var sessions []store.Session
	sp := store.Plan{Header: store.PlanHeader{AssignmentID: a.ID, PatientID: a.PatientID,
		RulesVersion: programs.RulesVersion, Now: plan.Now, Weeks: len(plan.Weeks), Pause: plan.Pause,
		PausedOn: plan.PausedOn, Answers: plan.Answers, FlareOn: plan.FlareOn, FlareAsk: plan.FlareAsk,
		Persistent: plan.Persistent}}
	for _, w := range plan.Weeks {
		sp.Weeks = append(sp.Weeks, store.PlanWeek{Week: w.Week, Start: w.Start, Projected: w.Projected,
			Decision: w.Decision, Signals: w.Signals})
		for i, e := range w.Events {
			sp.Events = append(sp.Events, store.PlanEvent{Week: w.Week, Seq: i + 1, Event: e})
		}
		for _, aw := range w.Activities {
			sp.Weeks = append(sp.Weeks, store.PlanWeek{Week: w.Week, Activity: aw.ID, Start: w.Start,
				Projected: w.Projected, Decision: aw.Decision, Unit: aw.Unit, Dose: aw.Dose, Sets: aw.Sets,
				Goal: aw.Goal, Threshold: aw.Threshold, Learned: aw.Learned, Ceiling: aw.Ceiling, Done: aw.Done,
				Planned: aw.Planned})
			slot, extra, last := 0, 0, programs.Date(0)
			for _, s := range aw.Sessions {
				if s.Date != last {
					slot, extra, last = 0, 0, s.Date
				}
				x := store.Session{AssignmentID: a.ID, PatientID: a.PatientID, Activity: aw.ID, Date: s.Date,
					Time: s.Time, Dose: s.Dose, Sets: aw.Sets, Unit: aw.Unit, Week: w.Week, Status: s.Status,
					Projected: w.Projected, Actual: s.Actual, Pain: s.Pain, Calibration: s.Calibration,
					Extra: s.Extra, Cause: s.Cause}
				if s.Extra {
					extra--
					x.Slot = extra
				} else {
					x.Slot = slot
					slot++
				}
				sessions = append(sessions, x)
			}
		}
	}
	slices.SortStableFunc(sp.Weeks, func(x, y store.PlanWeek) int {
		return cmp.Or(cmp.Compare(x.Week, y.Week), strings.Compare(x.Activity, y.Activity))
	})
	return sessions, sp
}

// planOf rebuilds the engine's plan from what the store keeps of an
// assignment: the same value the re-plan that stored it computed, so that
// the plan API and the pages read the stored plan, not a second run of the
// engine.
func planOf(a store.Assignment, loc *time.Location, sp store.Plan, sessions []store.Session) *programs.Plan {
	h := sp.Header
	plan := &programs.Plan{Program: a.Program.ID, Start: a.Start, Timezone: loc.String(), Now: h.Now,
		Paused: h.Pause != "", InFlare: h.FlareOn != 0, Pause: h.Pause, PausedOn: h.PausedOn, Answers: h.Answers,
		FlareOn: h.FlareOn, FlareAsk: h.FlareAsk, Persistent: h.Persistent, Weeks: make([]programs.Week, h.Weeks)}
	type key struct {
		week     int
		activity string
	}
	acts := map[key]*programs.ActivityWeek{}
	for i := range plan.Weeks {
		w := &plan.Weeks[i]
		w.Week, w.Start = i+1, a.Start.AddDays(7*i)
		w.Activities = make([]programs.ActivityWeek, len(a.Program.Activities))
		for j := range a.Program.Activities {
			acts[key{w.Week, a.Program.Activities[j].ID}] = &w.Activities[j]
		}
	}
	for _, pw := range sp.Weeks {
		if pw.Week < 1 || pw.Week > len(plan.Weeks) {
			continue
		}
		w := &plan.Weeks[pw.Week-1]
		if pw.Activity == "" {
			w.Start, w.Projected, w.Decision, w.Signals = pw.Start, pw.Projected, pw.Decision, pw.Signals
			continue
		}
		if aw := acts[key{pw.Week, pw.Activity}]; aw != nil {
			*aw = programs.ActivityWeek{ID: pw.Activity, Unit: pw.Unit, Dose: pw.Dose, Sets: pw.Sets,
				Decision: pw.Decision, Goal: pw.Goal, Threshold: pw.Threshold, Learned: pw.Learned,
				Ceiling: pw.Ceiling, Done: pw.Done, Planned: pw.Planned, Sessions: []programs.Session{}}
			if act, ok := a.Program.Activity(pw.Activity); ok { // the tiny-threshold rule follows from the threshold
				aw.EveryOther = act.Tiny(a.Program.Rules, pw.Threshold)
			}
		}
	}
	for _, e := range sp.Events {
		if e.Week >= 1 && e.Week <= len(plan.Weeks) {
			plan.Weeks[e.Week-1].Events = append(plan.Weeks[e.Week-1].Events, e.Event)
		}
	}
	plan.Urgency = PauseUrgency(sp)
	// The engine lists a day's planned sessions in slot order, then the
	// extras the patient logged, in the order they were logged.
	xs := slices.Clone(sessions)
	slices.SortStableFunc(xs, func(x, y store.Session) int {
		return cmp.Or(cmp.Compare(x.Date, y.Date), cmp.Compare(order(x), order(y)))
	})
	for _, x := range xs {
		aw := acts[key{x.Week, x.Activity}]
		if aw == nil || x.Cause == store.CauseDropped {
			continue
		}
		aw.Sessions = append(aw.Sessions, programs.Session{Date: x.Date, Time: x.Time, Dose: x.Dose, Status: x.Status,
			Actual: x.Actual, Pain: x.Pain, Calibration: x.Calibration, Extra: x.Extra, Cause: x.Cause})
	}
	return plan
}

// order places planned sessions (slot 0, 1, …) before extras (slot -1, -2, …).
func order(x store.Session) int {
	if x.Slot < 0 {
		return 1<<20 - x.Slot
	}
	return x.Slot
}

// PauseUrgency is the urgency of a stored plan's red-flag pause
// (programs.Plan.Urgency): that of the pause's last event, which the engine
// raises when a screen answered while paused is more urgent; "" when no red
// flag pauses it, or for a pause from before the tiers.
func PauseUrgency(sp store.Plan) programs.Urgency {
	h := sp.Header
	if h.Pause != programs.PausedByRedFlag {
		return ""
	}
	var u programs.Urgency
	for _, e := range sp.Events { // in order: the last of the pause says
		if e.Code == programs.PausedRedFlag && e.Date >= h.PausedOn {
			u = e.Facts.Urgency
		}
	}
	return u
}
