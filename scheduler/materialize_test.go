package scheduler

import (
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

func TestRowsGiveStableSlots(t *testing.T) {
	p, err := programs.Parse("t.yaml", []byte(`
id: t
name: T
activities:
  - {id: walk, name: Walk, kind: aerobic, unit: minutes, baseline: 10, goal: 20,
     schedule: {days: [mon], times: ["18:00", "07:30"]}, instructions: Walk.}
`))
	if err != nil {
		t.Fatal(err)
	}
	start := programs.MakeDate(2026, 1, 5)
	// A logged extra walk on Tuesday is a check-in, not a planned session.
	cs := []programs.CheckIn{{Date: start.AddDays(1), Kind: programs.SessionCheckIn, Activity: "walk", Status: programs.Done}}
	plan, err := programs.Compute(programs.Assignment{Program: p, Start: start, Location: time.UTC, Weeks: 2}, cs, nil, start.AddDays(2).In(time.UTC, 0))
	if err != nil {
		t.Fatal(err)
	}
	sessions, decisions := Rows(store.Assignment{ID: 7, PatientID: 3}, plan)
	var got []string
	for _, s := range sessions {
		got = append(got, s.Date.String()+" "+s.Time.String()+" slot "+string(rune('0'+s.Slot)))
		if s.AssignmentID != 7 || s.PatientID != 3 || s.Unit != programs.Minutes {
			t.Errorf("row %+v", s)
		}
	}
	want := "2026-01-05 07:30 slot 0,2026-01-05 18:00 slot 1,2026-01-12 07:30 slot 0,2026-01-12 18:00 slot 1"
	if strings.Join(got, ",") != want {
		t.Errorf("rows %s\nwant %s", strings.Join(got, ","), want)
	}
	if len(decisions) != 4 || decisions[0].Activity != "" || decisions[1].Activity != "walk" || decisions[1].Reason == "" {
		t.Errorf("decisions %+v: want a week-level and an activity decision per week", decisions)
	}
	if !sessions[2].Projected || sessions[0].Projected {
		t.Error("week 2 is projected, week 1 is not")
	}
}

func TestWeeksCoverTheHorizon(t *testing.T) {
	start := programs.MakeDate(2026, 1, 5)
	for _, tt := range []struct {
		today programs.Date
		want  int
	}{
		{start.AddDays(-10), 1 + HorizonWeeks},
		{start, 1 + HorizonWeeks},
		{start.AddDays(6), 1 + HorizonWeeks},
		{start.AddDays(7), 2 + HorizonWeeks},
		{start.AddDays(7 * 200), programs.MaxWeeks},
	} {
		if got := Weeks(start, tt.today); got != tt.want {
			t.Errorf("Weeks(start, start%+d) = %d, want %d", int(tt.today-start), got, tt.want)
		}
	}
}

func TestSchedules(t *testing.T) {
	got, err := Schedules(map[string]store.ScheduleOverride{"walk": {Days: []string{"fri", "mon"}, Times: []string{"18:00", "07:30"}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := got["walk"]; len(s.Days) != 2 || s.Days[0] != time.Monday || s.Times[0].String() != "07:30" {
		t.Errorf("schedule %+v", s)
	}
	for _, tt := range []struct {
		in   store.ScheduleOverride
		want string
	}{
		{store.ScheduleOverride{Days: []string{"funday"}, Times: []string{"07:30"}}, `schedule for walk: unknown day "funday"`},
		{store.ScheduleOverride{Days: []string{"mon"}, Times: []string{"7:30"}}, `schedule for walk: time "7:30" is not HH:MM`},
		{store.ScheduleOverride{Times: []string{"07:30"}}, "schedule for walk needs days (or per_week) and at least one time"},
		{store.ScheduleOverride{Days: []string{"mon"}, PerWeek: 2, Times: []string{"07:30"}}, "schedule for walk needs days (or per_week)"},
		{store.ScheduleOverride{PerWeek: 9, Times: []string{"07:30"}}, "per_week must be between 1 and 7"},
	} {
		if _, err := Schedules(map[string]store.ScheduleOverride{"walk": tt.in}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.in, err, tt.want)
		}
	}
}
