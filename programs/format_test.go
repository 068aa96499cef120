package programs

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseCase is one program file and what Parse must say about it. Columns
// count from 1; a value's column is where the value starts, a key's where the
// key starts, a missing key's where its mapping starts.
type parseCase struct {
	name string
	yaml string
	// want lists every problem as "file:line:col: message", in file order;
	// nil means the program is valid.
	want []string
}

const validWalk = `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`

func walkActivity() Activity {
	return Activity{
		ID: "walk", Name: "Walk", Kind: Aerobic, Unit: Minutes, Sets: 1, Granule: 1,
		Baseline: 10, Goal: 30,
		Schedule:     Schedule{Days: []time.Weekday{time.Monday, time.Wednesday, time.Friday}, Times: []Clock{7*60 + 30}},
		Instructions: "Walk. Stop if it hurts.",
	}
}

var validCases = []struct {
	name string
	yaml string
	want func() *Program
}{
	{"minimal, defaults filled in", validWalk, func() *Program {
		return &Program{ID: "test", Name: "Test", Rules: DefaultRules(), Activities: []Activity{walkActivity()}}
	}},
	{"every optional key", `id: full
name: "  Full  "
description: >-
  Two
  lines.
calibration:
  days: 5
rules:
  start_percent: 70
  step_percent: 5
  ceiling_margin_percent: 0
activities:
  - id: hold
    name: Hold
    kind: stretch
    unit: seconds
    sets: 3
    baseline: 20
    goal: 45
    threshold: 60
    step: 5
    start_percent: 100
    schedule:
      per_week: 3
      times: ["19:00", "07:05"]
    instructions: |
      Hold it.
      Stop if it hurts.
  - id: walk-2
    name: Walk
    kind: aerobic
    unit: minutes
    granule: 5
    baseline: 10
    goal: 30
    schedule:
      days: [daily]
      times: ["00:00", "23:59"]
    instructions: Walk. Stop if it hurts.
`, func() *Program {
		r := DefaultRules()
		r.StartPercent, r.StepPercent, r.CeilingMarginPercent = 70, 5, 0
		return &Program{ID: "full", Name: "Full", Description: "Two lines.", Calibration: &Calibration{Days: 5}, Rules: r,
			Activities: []Activity{{
				ID: "hold", Name: "Hold", Kind: Stretch, Unit: Seconds, Sets: 3, Granule: 5, Baseline: 20, Goal: 45,
				Threshold: 60, Step: 5, StartPercent: 100,
				Schedule:     Schedule{PerWeek: 3, Times: []Clock{7*60 + 5, 19 * 60}},
				Instructions: "Hold it.\nStop if it hurts.",
			}, {
				ID: "walk-2", Name: "Walk", Kind: Aerobic, Unit: Minutes, Sets: 1, Granule: 5, Baseline: 10, Goal: 30,
				Schedule:     Schedule{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Times: []Clock{0, 23*60 + 59}},
				Instructions: "Walk. Stop if it hurts.",
			}}}
	}},
	{"calibration with default days", strings.Replace(validWalk, "activities:", "calibration: {}\nactivities:", 1), func() *Program {
		return &Program{ID: "test", Name: "Test", Calibration: &Calibration{Days: 3}, Rules: DefaultRules(), Activities: []Activity{walkActivity()}}
	}},
	{"days in any order, kept Sunday first", strings.Replace(validWalk, "[mon, wed, fri]", "[sun, fri, mon]", 1), func() *Program {
		a := walkActivity()
		a.Schedule.Days = []time.Weekday{time.Sunday, time.Monday, time.Friday}
		return &Program{ID: "test", Name: "Test", Rules: DefaultRules(), Activities: []Activity{a}}
	}},
	{"goal equal to the start dose", strings.Replace(validWalk, "goal: 30", "goal: 8", 1), func() *Program {
		a := walkActivity()
		a.Goal = 8
		return &Program{ID: "test", Name: "Test", Rules: DefaultRules(), Activities: []Activity{a}}
	}},
	{"anchors and aliases", `id: twins
name: Twins
activities:
  - id: a
    name: A
    kind: mobility
    unit: reps
    baseline: 5
    goal: 10
    schedule: &every-morning
      days: [daily]
      times: ["07:00"]
    instructions: &how Slowly. Stop if it hurts.
  - id: b
    name: B
    kind: mobility
    unit: reps
    baseline: 5
    goal: 10
    schedule: *every-morning
    instructions: *how
`, func() *Program {
		a := Activity{ID: "a", Name: "A", Kind: Mobility, Unit: Reps, Sets: 1, Granule: 1, Baseline: 5, Goal: 10,
			Schedule:     Schedule{Days: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, Times: []Clock{7 * 60}},
			Instructions: "Slowly. Stop if it hurts."}
		b := a
		b.ID, b.Name = "b", "B"
		return &Program{ID: "twins", Name: "Twins", Rules: DefaultRules(), Activities: []Activity{a, b}}
	}},
}

func TestParseValid(t *testing.T) {
	for _, tc := range validCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("ok.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if want := tc.want(); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

var invalidCases = []parseCase{
	{name: "YAML syntax error", yaml: `id: test
name: Test
  kind: aerobic
`, want: []string{
		"bad.yaml:3:1: YAML syntax: mapping values are not allowed in this context",
	}},
	{name: "YAML syntax error in a flow list",
		yaml: `id: test
name: [Test
activities: []
`, want: []string{
			"bad.yaml:2:1: YAML syntax: did not find expected ',' or ']'",
		}},
	{name: "empty file", yaml: "", want: []string{
		"bad.yaml:1:1: file is empty: a program needs id, name and activities",
	}},
	{name: "not a mapping", yaml: "- walk\n", want: []string{
		"bad.yaml:1:1: the program must be a mapping of keys to values",
	}},
	{name: "unknown top-level key", yaml: `id: test
name: Test
colour: blue
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:3:1: unknown key "colour" in the program (known keys: id, name, description, calibration, rules, activities)`,
	}},
	{name: "repeated top-level key", yaml: `id: test
name: Test
id: test2
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:3:1: key "id" appears twice in the program`,
	}},
	{name: "malformed ids", yaml: `id: Test_1
name: Test
activities:
  - id: Walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:1:5: id "Test_1" must be lowercase letters, digits and hyphens, e.g. walking`,
		`bad.yaml:4:9: activity id "Walk" must be lowercase letters, digits and hyphens, e.g. walk`,
	}},
	{name: "unknown activity key", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    speed: brisk
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:8:5: unknown key "speed" in an activity (known keys: id, name, kind, unit, sets, granule, baseline, goal, threshold, step, start_percent, schedule, instructions)`,
	}},
	{name: "unknown unit", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: hours
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:7:11: unknown unit "hours": use minutes, reps or seconds`,
	}},
	{name: "unknown kind", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: cardio
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:6:11: unknown kind "cardio": use aerobic, stretch, strength, mobility or relaxation`,
	}},
	{name: "empty kind, unit, name and ids",
		yaml: `id: ""
name: Test
activities:
  - id: ""
    name: ""
    kind: ""
    unit: ""
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
			`bad.yaml:1:5: id "" must be lowercase letters, digits and hyphens, e.g. walking`,
			`bad.yaml:4:9: activity id "" must be lowercase letters, digits and hyphens, e.g. walk`,
			`bad.yaml:5:11: name must not be empty`,
			`bad.yaml:6:11: unknown kind "": use aerobic, stretch, strength, mobility or relaxation`,
			`bad.yaml:7:11: unknown unit "": use minutes, reps or seconds`,
		}},
	{name: "duplicate activity ids", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
  - id: walk
    name: Evening walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["19:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:14:9: activity id "walk" is used twice; each activity needs its own id`,
	}},
	{name: "zero dose", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 0
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:8:15: baseline must be more than zero, not 0`,
	}},
	{name: "negative doses", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: -30
    threshold: -1
    step: -2
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:9:11: goal must be more than zero, not -30`,
		`bad.yaml:10:16: threshold must be more than zero, not -1`,
		`bad.yaml:11:11: step must be more than zero, not -2`,
	}},
	{name: "dose not a whole number", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10.5
    goal: lots
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:8:15: baseline must be a whole number, not "10.5"`,
		`bad.yaml:9:11: goal must be a whole number, not "lots"`,
	}},
	{name: "dose not a multiple of the granule", yaml: `id: test
name: Test
activities:
  - id: hold
    name: Hold
    kind: stretch
    unit: seconds
    baseline: 12
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Hold. Stop if it hurts.
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    granule: 5
    baseline: 10
    goal: 32
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:8:15: baseline 12 is not a whole number of granules of 5; use 10 or 15`,
		`bad.yaml:20:11: goal 32 is not a whole number of granules of 5; use 30 or 35`,
	}},
	{name: "goal below start dose", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 7
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:9:11: goal 7 is below the start dose 8 (80% of the baseline 10); raise the goal or lower the baseline`,
	}},
	{name: "goal below start dose of the activity's own start percent", yaml: `id: test
name: Test
rules:
  start_percent: 50
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 9
    start_percent: 100
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:11:11: goal 9 is below the start dose 10 (100% of the baseline 10); raise the goal or lower the baseline`,
	}},
	{name: "time without a leading zero", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["7:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:12:15: time "7:30" is not HH:MM (24-hour, e.g. 07:30)`,
	}},
	{name: "time 24:00", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["24:00"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:12:15: time "24:00" is not HH:MM (24-hour, e.g. 07:30)`,
	}},
	{name: "time 07:60", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:60"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:12:15: time "07:60" is not HH:MM (24-hour, e.g. 07:30)`,
	}},
	{name: "repeated time", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30", "07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:12:24: time 07:30 is listed twice`,
	}},
	{name: "every bad time of a list, each at its line", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times:
        - "07:30"
        - "7:45"
        - "24:00"
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:14:11: time "7:45" is not HH:MM (24-hour, e.g. 07:30)`,
		`bad.yaml:15:11: time "24:00" is not HH:MM (24-hour, e.g. 07:30)`,
	}},
	{name: "unknown day", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [monday]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:11:14: unknown day "monday": use mon, tue, wed, thu, fri, sat, sun or daily`,
	}},
	{name: "daily mixed with other days", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, daily]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:11:19: "daily" must stand alone in days`,
	}},
	{name: "both days and per_week", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      per_week: 3
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:12:17: schedule has both days and per_week; keep one`,
	}},
	{name: "neither days nor per_week", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:11:7: schedule needs days (e.g. [mon, wed, fri] or [daily]) or per_week (1 to 7)`,
	}},
	{name: "per_week 8", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      per_week: 8
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:11:17: per_week must be between 1 and 7, not 8`,
	}},
	{name: "start_percent 0", yaml: `id: test
name: Test
rules:
  start_percent: 0
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:4:18: rules.start_percent must be between 1 and 100, not 0`,
	}},
	{name: "start_percent 150 and ceiling_margin_percent 95", yaml: `id: test
name: Test
rules:
  start_percent: 150
  ceiling_margin_percent: 95
  colour: blue
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    start_percent: 0
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:4:18: rules.start_percent must be between 1 and 100, not 150`,
		`bad.yaml:5:27: rules.ceiling_margin_percent must be between 0 and 90, not 95`,
		`bad.yaml:6:3: unknown key "colour" in rules (known keys: start_percent, step_percent, ceiling_margin_percent, adherence_gate_percent, partial_done_percent, response_pain_rise, response_days, flare_step_back_percent, flare_days, persistent_flare_days, spike_cap_percent, spike_window_days, weekly_load_cap_percent, load_history_weeks, load_min_weeks, reentry_percent, learn_after_flare_days, ceiling_review_weeks, adjust_percent, adjust_weeks, resume_after_days, resume_percent, late_log_days)`,
		`bad.yaml:14:20: start_percent must be between 1 and 100, not 0`,
	}},
	{name: "calibration days out of range", yaml: `id: test
name: Test
calibration:
  days: 8
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:4:9: calibration.days must be between 1 and 7, not 8`,
	}},
	{name: "missing required keys", yaml: `id: test
description: No name, no activities.
`, want: []string{
		`bad.yaml:1:1: the program has no "name"`,
		`bad.yaml:1:1: the program has no "activities"`,
	}},
	{name: "missing required activity and schedule keys", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    unit: minutes
    baseline: 10
    schedule:
      days: [mon, wed, fri]
`, want: []string{
		`bad.yaml:4:5: an activity has no "kind"`,
		`bad.yaml:4:5: an activity has no "goal"`,
		`bad.yaml:4:5: an activity has no "instructions"`,
		`bad.yaml:9:7: schedule has no "times"`,
	}},
	{name: "empty activities list", yaml: `id: test
name: Test
activities: []
`, want: []string{
		`bad.yaml:3:13: activities must be a list of at least one activity`,
	}},
	{name: "empty text and lists", yaml: `id: test
name: "  "
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: []
      times: []
    instructions: " "
`, want: []string{
		`bad.yaml:2:7: name must not be empty`,
		`bad.yaml:11:13: days must be a list of at least one item, e.g. [mon, wed, fri] or [daily]`,
		`bad.yaml:12:14: times must be a list of at least one item, e.g. ["07:30"]`,
		`bad.yaml:13:19: instructions must say how to do the activity, what it should feel like and when to stop`,
	}},
	{name: "null values",
		yaml: `id: test
name: ~
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, ~]
      times: [~]
    instructions: ~
`, want: []string{
			`bad.yaml:2:7: name must be text`,
			`bad.yaml:11:19: a day must be text`,
			`bad.yaml:12:15: a time must be text`,
			`bad.yaml:13:19: instructions must be text`,
		}},
	{name: "several problems, all reported in file order", yaml: `id: test
name: Test
colour: blue
rules:
  step_percent: 0
activities:
  - id: walk
    name: Walk
    kind: cardio
    unit: minutes
    baseline: 0
    goal: 30
    schedule:
      days: [mon, funday]
      times: ["7:30"]
    instructions: Walk. Stop if it hurts.
  - id: hold
    name: Hold
    kind: stretch
    unit: seconds
    baseline: 12
    goal: 30
    schedule:
      days: [daily]
      per_week: 8
      times: ["07:30"]
    instructions: Hold. Stop if it hurts.
  - id: bridge
    name: Bridge
    kind: strength
    unit: reps
    baseline: 10
    goal: 7
    schedule:
      per_week: 8
      times: ["24:00"]
    instructions: Lift. Stop if it hurts.
`, want: []string{
		`bad.yaml:3:1: unknown key "colour" in the program (known keys: id, name, description, calibration, rules, activities)`,
		`bad.yaml:5:17: rules.step_percent must be between 1 and 100, not 0`,
		`bad.yaml:9:11: unknown kind "cardio": use aerobic, stretch, strength, mobility or relaxation`,
		`bad.yaml:11:15: baseline must be more than zero, not 0`,
		`bad.yaml:14:19: unknown day "funday": use mon, tue, wed, thu, fri, sat, sun or daily`,
		`bad.yaml:15:15: time "7:30" is not HH:MM (24-hour, e.g. 07:30)`,
		`bad.yaml:21:15: baseline 12 is not a whole number of granules of 5; use 10 or 15`,
		`bad.yaml:25:17: schedule has both days and per_week; keep one`,
		`bad.yaml:33:11: goal 7 is below the start dose 8 (80% of the baseline 10); raise the goal or lower the baseline`,
		`bad.yaml:35:17: per_week must be between 1 and 7, not 8`,
		`bad.yaml:36:15: time "24:00" is not HH:MM (24-hour, e.g. 07:30)`,
	}},
	{name: "file order: rules after activities", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: cardio
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
rules:
  step_percent: 0
`, want: []string{
		`bad.yaml:6:11: unknown kind "cardio": use aerobic, stretch, strength, mobility or relaxation`,
		`bad.yaml:15:17: rules.step_percent must be between 1 and 100, not 0`,
	}},
	{name: "file order: a misspelt key and the key it misses", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instruction: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:4:5: an activity has no "instructions"`,
		`bad.yaml:13:5: unknown key "instruction" in an activity (known keys: id, name, kind, unit, sets, granule, baseline, goal, threshold, step, start_percent, schedule, instructions)`,
	}},
	{name: "file order: a repeated id and the activity's other problems", yaml: `id: test
name: Test
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
  - id: walk
    name: Walk
    kind: cardio
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
`, want: []string{
		`bad.yaml:14:9: activity id "walk" is used twice; each activity needs its own id`,
		`bad.yaml:16:11: unknown kind "cardio": use aerobic, stretch, strength, mobility or relaxation`,
	}},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("bad.yaml", []byte(tc.yaml))
			var got []string
			var ps Problems
			switch {
			case err == nil:
				got = []string{"(no problems)"}
			case !errors.As(err, &ps):
				t.Fatalf("Parse error is %T, not Problems: %v", err, err)
			default:
				if p != nil {
					t.Errorf("Parse returned a program and problems")
				}
				if err.Error() != strings.Join(problemLines(ps), "\n") {
					t.Errorf("Error() = %q, not the problems joined by newlines", err.Error())
				}
				got = problemLines(ps)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func problemLines(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestParseTooLarge(t *testing.T) {
	data := append([]byte(validWalk), bytes.Repeat([]byte("# padding\n"), maxProgramBytes/10)...)
	_, err := Parse("big.yaml", data)
	if want := "big.yaml:1:1: file is larger than 1 MiB; a program is a few KiB of YAML"; err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}

// TestTemplatesRoundTrip checks that the normalized YAML is a fixed point:
// it parses back to the same program and renders to the same bytes.
func TestTemplatesRoundTrip(t *testing.T) {
	lib, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lib.All() {
		t.Run(p.ID, func(t *testing.T) {
			y := p.YAML()
			q, err := Parse(p.ID+".yaml", y)
			if err != nil {
				t.Fatalf("Parse(YAML()): %v\n%s", err, y)
			}
			if !reflect.DeepEqual(p, q) {
				t.Errorf("Parse(YAML()) =\n%#v\nwant\n%#v", q, p)
			}
			if y2 := q.YAML(); !bytes.Equal(y, y2) {
				t.Errorf("YAML() is not stable:\n%s\nthen\n%s", y, y2)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	names, err := fs.Glob(templateFS, "templates/*.yaml")
	if err != nil || len(names) == 0 {
		f.Fatalf("no templates: %v", err)
	}
	for _, n := range names {
		data, err := templateFS.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range invalidCases {
		f.Add([]byte(tc.yaml))
	}
	for _, tc := range validCases {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		p, err := Parse(file, data)
		if err != nil {
			if p != nil {
				t.Fatalf("Parse returned a program and an error: %v", err)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error is %T, not Problems: %v", err, err)
			}
			if len(ps) == 0 {
				t.Fatal("error with no problems")
			}
			for _, pr := range ps {
				if pr.Line < 1 || pr.Col < 1 || !strings.HasPrefix(pr.String(), file+":") || pr.Message == "" {
					t.Fatalf("badly formed problem %q (line %d, col %d)", pr.String(), pr.Line, pr.Col)
				}
			}
			return
		}
		if p == nil {
			t.Fatal("Parse returned neither a program nor an error")
		}
		y := p.YAML()
		q, err := Parse(file, y)
		if err != nil {
			t.Fatalf("Parse(YAML()) failed: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("Parse(YAML()) =\n%#v\nwant\n%#v", q, p)
		}
	})
}

func TestParseDocumentBoundaries(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"only a document marker", "---\n", "x.yaml:1:1: file is empty: a program needs id, name and activities"},
		{"a second document", "id: a\nname: A\nactivities: []\n---\nid: b\n",
			"x.yaml:3:13: activities must be a list of at least one activity\n" +
				"x.yaml:4:1: a program file holds one YAML document; remove the second one or put it in its own file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// The rule settings of version 2 have progression.md's defaults, and a
// program may set them within their ranges.
func TestParseRulesV2(t *testing.T) {
	const base = `id: r
name: R
activities:
  - {id: walk, name: Walk, kind: aerobic, unit: minutes, baseline: 10, goal: 30, schedule: {days: [daily], times: ["07:30"]}, instructions: Walk. Stop if it hurts.}
`
	p, err := Parse("r.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Rules
	if r.ReentryPercent != 75 || r.LearnAfterFlareDays != 7 || r.CeilingReviewWeeks != 4 || r.AdjustPercent != 80 ||
		r.AdjustWeeks != 2 || r.ResumeAfterDays != 7 || r.ResumePercent != 80 || r.LateLogDays != 2 {
		t.Errorf("defaults %+v", r)
	}
	p, err = Parse("r.yaml", []byte(base+`rules: {reentry_percent: 60, learn_after_flare_days: 14, ceiling_review_weeks: 6, adjust_percent: 70,
  adjust_weeks: 3, resume_after_days: 10, resume_percent: 70, late_log_days: 0, flare_step_back_percent: 100}
`))
	if err != nil {
		t.Fatal(err)
	}
	r = p.Rules
	if r.ReentryPercent != 60 || r.LearnAfterFlareDays != 14 || r.CeilingReviewWeeks != 6 || r.AdjustPercent != 70 ||
		r.AdjustWeeks != 3 || r.ResumeAfterDays != 10 || r.ResumePercent != 70 || r.LateLogDays != 0 || r.FlareStepBackPercent != 100 {
		t.Errorf("set %+v", r)
	}
	for rule, want := range map[string]string{
		"late_log_days: 8":       "rules.late_log_days must be between 0 and 7, not 8",
		"spike_cap_percent: 100": "rules.spike_cap_percent must be between 101 and 300, not 100",
		"reentry_percent: 0":     "rules.reentry_percent must be between 1 and 100, not 0",
	} {
		if _, err := Parse("r.yaml", []byte(base+"rules: {"+rule+"}\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", rule, err, want)
		}
	}
}
