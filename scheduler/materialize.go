// Package scheduler turns plans into stored sessions and, later, runs pacer's
// scheduled work from rows in the store. It owns when the engine runs; it
// imports programs and the store, never HTTP.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// HorizonWeeks is how far past today a plan is materialized: the calendar
// feed shows the next 8 weeks, so one more week keeps its edge filled.
const HorizonWeeks = 9

// Store is what the materializer needs of the store.
type Store interface {
	CheckIns(ctx context.Context, patientID, assignmentID int64) ([]programs.CheckIn, error)
	Overrides(ctx context.Context, assignmentID int64) ([]programs.Overriding, error)
	SavePlan(ctx context.Context, assignmentID, patientID int64, want []store.Session, decisions []store.Decision,
		reminders func(saved []store.Session) []store.Reminder, now time.Time) (int, error)
	Channels(ctx context.Context, patientID int64) ([]store.Channel, error)
	NotifySettings(ctx context.Context, patientID int64) (store.NotifySettings, error)
}

// Materializer recomputes an assignment's plan through the engine and writes
// the changed sessions in one transaction.
type Materializer struct {
	Store Store
	Now   func() time.Time
	Wake  func() // tells the dispatcher new reminders may be due; may be nil
	// Alerts, when set, tells the therapist of a flare that has become persistent.
	Alerts *Alerts
}

// Input rebuilds the engine's input from an assignment row.
func Input(p store.Patient, a store.Assignment, now time.Time) (programs.Assignment, error) {
	prog, err := programs.Parse(fmt.Sprintf("assignment %d", a.ID), a.Program)
	if err != nil {
		return programs.Assignment{}, fmt.Errorf("assignment %d: stored program: %w", a.ID, err)
	}
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return programs.Assignment{}, fmt.Errorf("patient %d: time zone %q: %w", p.ID, p.Timezone, err)
	}
	var params store.Params
	if len(a.Params) > 0 {
		if err := json.Unmarshal(a.Params, &params); err != nil {
			return programs.Assignment{}, fmt.Errorf("assignment %d: stored parameters: %w", a.ID, err)
		}
	}
	sched, err := Schedules(params.Schedule)
	if err != nil {
		return programs.Assignment{}, fmt.Errorf("assignment %d: %w", a.ID, err)
	}
	return programs.Assignment{Program: prog, Start: a.Start, Location: loc, Weeks: Weeks(a.Start, programs.DateOf(now.In(loc))),
		Baseline: params.Baseline, Threshold: params.Threshold, Goal: params.Goal, Schedule: sched}, nil
}

// Weeks is the plan length that covers the start through today plus the horizon.
func Weeks(start, today programs.Date) int {
	elapsed := max(int(today-start), 0) / 7
	return min(elapsed+1+HorizonWeeks, programs.MaxWeeks)
}

// Schedules converts schedule overrides to the engine's form.
func Schedules(in map[string]store.ScheduleOverride) (map[string]programs.Schedule, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]programs.Schedule, len(in))
	for id, s := range in {
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

// Plan computes the assignment's plan as of now, without writing anything.
func (m *Materializer) Plan(ctx context.Context, p store.Patient, a store.Assignment) (*programs.Plan, *programs.Program, error) {
	now := m.Now()
	in, err := Input(p, a, now)
	if err != nil {
		return nil, nil, err
	}
	cs, err := m.Store.CheckIns(ctx, p.ID, a.ID)
	if err != nil {
		return nil, nil, err
	}
	ovs, err := m.Store.Overrides(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	plan, err := programs.Compute(in, cs, ovs, now)
	if err != nil {
		return nil, nil, fmt.Errorf("assignment %d: plan: %w", a.ID, err)
	}
	return plan, in.Program, nil
}

// Materialize recomputes the plan and stores its sessions, its decisions and
// the reminders of its coming sessions, all in one transaction.
func (m *Materializer) Materialize(ctx context.Context, p store.Patient, a store.Assignment) (*programs.Plan, error) {
	plan, _, err := m.Plan(ctx, p, a)
	if err != nil {
		return nil, err
	}
	chs, err := m.Store.Channels(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	set, err := m.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return nil, fmt.Errorf("patient %d: time zone: %w", p.ID, err)
	}
	now := m.Now()
	reminders := func(saved []store.Session) []store.Reminder { return SessionReminders(saved, chs, set, loc, now) }
	sessions, decisions := Rows(a, plan)
	if _, err := m.Store.SavePlan(ctx, a.ID, p.ID, sessions, decisions, reminders, now); err != nil {
		return nil, fmt.Errorf("assignment %d: save plan: %w", a.ID, err)
	}
	if m.Alerts != nil {
		if err := m.Alerts.Persistent(ctx, p, plan, now); err != nil {
			return nil, fmt.Errorf("assignment %d: alert: %w", a.ID, err)
		}
		if err := m.Alerts.WeekSummary(ctx, p, a, plan, set, loc, now); err != nil {
			return nil, fmt.Errorf("assignment %d: weekly summary: %w", a.ID, err)
		}
	}
	if m.Wake != nil {
		m.Wake()
	}
	return plan, nil
}

// Rows flattens a plan into session and decision rows. A session's slot is its
// order among the activity's planned sessions that day, so its identity
// survives a change of time; extra sessions the patient logged are not
// materialized (they are check-ins, not plan).
func Rows(a store.Assignment, plan *programs.Plan) ([]store.Session, []store.Decision) {
	var (
		sessions  []store.Session
		decisions []store.Decision
	)
	for _, w := range plan.Weeks {
		decisions = append(decisions, store.Decision{AssignmentID: a.ID, Week: w.Week, Code: w.Decision.Code, Reason: w.Decision.Reason()})
		for _, aw := range w.Activities {
			decisions = append(decisions, store.Decision{AssignmentID: a.ID, Week: w.Week, Activity: aw.ID,
				Code: aw.Decision.Code, Reason: aw.Decision.Reason()})
			slot, last := 0, programs.Date(0)
			for _, s := range aw.Sessions {
				if s.Extra {
					continue
				}
				if s.Date != last {
					slot, last = 0, s.Date
				}
				sessions = append(sessions, store.Session{AssignmentID: a.ID, PatientID: a.PatientID, Activity: aw.ID,
					Date: s.Date, Slot: slot, Time: s.Time, Dose: s.Dose, Sets: aw.Sets, Unit: aw.Unit, Week: w.Week,
					Status: s.Status, Projected: w.Projected})
				slot++
			}
		}
	}
	return sessions, decisions
}
