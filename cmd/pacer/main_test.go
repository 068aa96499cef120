package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pacer/programs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// pacer runs one command line with a fixed clock and returns its output and error.
func pacer(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{getenv: func(string) string { return "" }, stdout: &out, stderr: &errb,
		now: func() time.Time { return time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC) }}
	err := c.run(context.Background(), args)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/pacer -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (run go test ./cmd/pacer -update after checking the change):\n%s", path, got)
	}
}

func TestProgramList(t *testing.T) {
	out, _, code := pacer(t, "program", "list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	golden(t, "list.golden", out)
	for _, id := range []string{"walking", "stretching", "core", "mobility-morning", "desk-breaks", "low-energy-day", "sciatica-gentle"} {
		if !strings.Contains(out, id+" ") {
			t.Errorf("list lacks %s", id)
		}
	}
}

func TestEveryTemplateShowsValidatesAndPlans(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, id := range lib.IDs() {
		t.Run(id, func(t *testing.T) {
			shown, _, code := pacer(t, "program", "show", id)
			if code != 0 {
				t.Fatalf("show exit %d", code)
			}
			file := filepath.Join(dir, id+".yaml")
			if err := os.WriteFile(file, []byte(shown), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, errs, code := pacer(t, "program", "validate", file); code != 0 {
				t.Fatalf("validate of show's output: exit %d\n%s%s", code, out, errs)
			}
			args := []string{"program", "plan", id, "--start", "2026-11-23", "--tz", "Europe/Berlin", "--weeks", "8"}
			table, errs, code := pacer(t, args...)
			if code != 0 {
				t.Fatalf("plan exit %d: %s", code, errs)
			}
			golden(t, id+".plan.golden", table)
			js, _, _ := pacer(t, append(args, "--json")...)
			golden(t, id+".plan.json.golden", js)
			// Planning from the file gives the same plan as from the template.
			fromFile, _, _ := pacer(t, "program", "plan", file, "--start", "2026-11-23", "--tz", "Europe/Berlin", "--weeks", "8", "--json")
			if fromFile != js {
				t.Error("the plan of show's output differs from the template's")
			}
		})
	}
}

// acceptance is the command: 8 minutes, one more each week, never above 18.
func TestWalkingAcceptance(t *testing.T) {
	args := []string{"program", "plan", "walking", "--start", "2026-01-05", "--baseline", "walk=10", "--threshold", "walk=20", "--json"}
	out, errs, code := pacer(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var p programs.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	prev := 0
	for i, w := range p.Weeks {
		a := w.Activities[0]
		switch {
		case i == 0 && a.Dose != 8:
			t.Errorf("week 1 dose %d, want 8", a.Dose)
		case i > 0 && a.Dose != min(prev+1, 18):
			t.Errorf("week %d dose %d, want %d", w.Week, a.Dose, min(prev+1, 18))
		}
		for _, s := range a.Sessions {
			if s.Dose > 18 {
				t.Errorf("session %s dose %d above 18", s.Date, s.Dose)
			}
		}
		prev = a.Dose
	}
	again, _, _ := pacer(t, args...)
	if again != out {
		t.Error("identical inputs gave different bytes")
	}
}

func TestPlanWithCheckIns(t *testing.T) {
	args := []string{"program", "plan", "walking", "--start", "2026-01-05", "--baseline", "walk=10", "--threshold", "walk=20",
		"--checkins", "testdata/checkins.json", "--now", "2026-02-20", "--tz", "Europe/Berlin"}
	js, errs, code := pacer(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "checkins.plan.json.golden", js)
	table, _, _ := pacer(t, args...)
	golden(t, "checkins.plan.golden", table)
	for _, code := range []string{"HOLD_ADHERENCE", "FLARE_STEP_BACK", "FLARE_RESUME", "PAUSED_RED_FLAG"} {
		if !strings.Contains(js, `"code": "`+code+`"`) {
			t.Errorf("plan lacks %s", code)
		}
	}
}

// The check-ins file of version 2 of the rules: a walk done on another day
// of the week, an override on a review day, a flare extended by "still in a
// flare-up?", a red-flag item marked known and answered again (no pause),
// then said to be worse (a pause, with the guidance of its tier), and a
// resume after more than 7 days paused.
func TestPlanWithCheckInsV2(t *testing.T) {
	args := []string{"program", "plan", "walking", "--start", "2026-01-05", "--checkins", "testdata/checkins.v2.json",
		"--now", "2026-03-19", "--tz", "Europe/Berlin"}
	js, errs, code := pacer(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	golden(t, "checkins.v2.plan.json.golden", js)
	table, _, _ := pacer(t, args...)
	golden(t, "checkins.v2.plan.golden", table)
	for _, code := range []string{"OVERRIDE", "THRESHOLD_LEARNED", "FLARE_REENTRY", "FLARE_RESUME", "PAUSED_RED_FLAG", "RESUMED"} {
		if !strings.Contains(js, `"code": "`+code+`"`) {
			t.Errorf("plan lacks %s", code)
		}
	}
	if strings.Count(js, `"code": "PAUSED_RED_FLAG"`) == 0 || !strings.Contains(js, `"urgency": "today"`) {
		t.Error("the worse answer does not pause with the see-a-doctor-today tier")
	}
}

func TestBadInputNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"impossible date", []string{"program", "plan", "walking", "--checkins",
			write("a.json", `[{"date":"2026-02-30","kind":"daily","pain":3}]`)},
			`entry 1: "2026-02-30" is not a date: write YYYY-MM-DD, e.g. 2026-11-23`, 1},
		{"unknown activity", []string{"program", "plan", "walking", "--checkins",
			write("b.json", `[{"date":"2026-01-05","kind":"session","activity":"run","status":"done"}]`)},
			`entry 1 (2026-01-05 session): unknown activity "run" (this program has walk)`, 1},
		{"unknown kind", []string{"program", "plan", "walking", "--checkins",
			write("c.json", `[{"date":"2026-01-05","kind":"mood"}]`)},
			`entry 1 (2026-01-05 mood): unknown kind "mood": use session, daily, flare, still_in_flare, settled, weekly or red_flag`, 1},
		{"pain of 11", []string{"program", "plan", "walking", "--checkins",
			write("d.json", `[{"date":"2026-01-05","kind":"daily","pain":3},{"date":"2026-01-06","kind":"daily","pain":11}]`)},
			`entry 2 (2026-01-06 daily): pain 11 is outside 0-10`, 1},
		{"check-in after now", []string{"program", "plan", "walking", "--now", "2026-01-05", "--checkins",
			write("e.json", `[{"date":"2026-01-06","kind":"flare"}]`)},
			`entry 1 (2026-01-06 flare) is after today (2026-01-05)`, 1},
		{"unknown activity in a flag", []string{"program", "plan", "walking", "--baseline", "run=5"},
			`baseline: unknown activity "run" (this program has walk)`, 1},
		{"malformed dose flag", []string{"program", "plan", "walking", "--baseline", "walk"},
			`"walk" is not ACTIVITY=DOSE, e.g. walk=10`, 2},
		{"impossible start", []string{"program", "plan", "walking", "--start", "2026-13-01"},
			`--start: "2026-13-01" is not a date`, 1},
		{"unknown zone", []string{"program", "plan", "walking", "--tz", "Mars/Olympus"},
			`--tz "Mars/Olympus" is not a known time zone`, 1},
		{"unknown program", []string{"program", "plan", "jogging"},
			`no template "jogging" and no such file: use one of core, desk-breaks`, 1},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := pacer(t, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`id: Bad Id
name: Broken
activities:
  - id: walk
    name: Walk
    kind: cardio
    unit: hours
    baseline: 0
    goal: 10
    schedule: {days: [mon, funday], times: ["7:30"]}
    instructions: Walk.
  - id: walk
    name: Walk again
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 5
    schedule: {per_week: 3, times: ["08:00"]}
    instructions: Walk.
`), 0o644)
	good := filepath.Join(dir, "good.yaml")
	shown, _, _ := pacer(t, "program", "show", "walking")
	os.WriteFile(good, []byte(shown), 0o644)
	out, errs, code := pacer(t, "program", "validate", good, bad)
	want := strings.Join([]string{
		bad + `:1:5: id "Bad Id" must be lowercase letters, digits and hyphens, e.g. walking`,
		bad + `:6:11: unknown kind "cardio": use aerobic, stretch, strength, mobility or relaxation`,
		bad + `:7:11: unknown unit "hours": use minutes, reps or seconds`,
		bad + `:8:15: baseline must be more than zero, not 0`,
		bad + `:10:28: unknown day "funday": use mon, tue, wed, thu, fri, sat, sun or daily`,
		bad + `:10:45: time "7:30" is not HH:MM (24-hour, e.g. 07:30)`,
		bad + `:12:9: activity id "walk" is used twice; each activity needs its own id`,
		bad + `:17:11: goal 5 is below the start dose 8 (80% of the baseline 10); raise the goal or lower the baseline`,
	}, "\n") + "\n"
	if code != 1 || errs != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errs, want)
	}
	if out != good+": ok (walking, 1 activities)\n" {
		t.Errorf("stdout %q", out)
	}
}
