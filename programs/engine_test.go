package programs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// walkYAML is a one-activity program on weekdays, with defaults for every rule.
const walkYAML = `
id: test-walk
name: Test walk
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule: {days: [mon, tue, wed, thu, fri], times: ["07:30"]}
    instructions: Walk. Stop if it hurts more.
`

// monday is the start of every test plan: 2026-01-05 is a Monday.
var monday = MakeDate(2026, time.January, 5)

func mustParse(t *testing.T, src string) *Program {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

type scenario struct {
	src       string
	weeks     int
	baseline  map[string]int
	threshold map[string]int
	goal      map[string]int
	checkIns  []CheckIn
	overrides []Overriding
	now       Date // 0: the start date (a pure projection)
	zone      string
}

func (s scenario) plan(t *testing.T) *Plan {
	t.Helper()
	if s.src == "" {
		s.src = walkYAML
	}
	if s.weeks == 0 {
		s.weeks = 8
	}
	if s.now == 0 {
		s.now = monday
	}
	loc := time.UTC
	if s.zone != "" {
		var err error
		if loc, err = time.LoadLocation(s.zone); err != nil {
			t.Fatal(err)
		}
	}
	as := Assignment{Program: mustParse(t, s.src), Start: monday, Location: loc, Weeks: s.weeks,
		Baseline: s.baseline, Threshold: s.threshold, Goal: s.goal}
	p, err := Compute(as, s.checkIns, s.overrides, s.now.In(loc, 12*60))
	if err != nil {
		t.Fatalf("compute: %v", err)
	}
	return p
}

func day(n int) Date { return monday.AddDays(n) }

func ptr[T any](v T) *T { return &v }

// weekdays logs every weekday session from day `from` to day `to` (inclusive) as st.
func weekdays(from, to int, st Status) []CheckIn {
	var cs []CheckIn
	for d := from; d <= to; d++ {
		if wd := day(d).Weekday(); wd != time.Saturday && wd != time.Sunday {
			cs = append(cs, CheckIn{Date: day(d), Kind: SessionCheckIn, Activity: "walk", Status: st})
		}
	}
	return cs
}

// doses lists the first activity's weekly dose and decision code, week by week.
func doses(p *Plan) string {
	var b strings.Builder
	for _, w := range p.Weeks {
		fmt.Fprintf(&b, "%d:%d %s\n", w.Week, w.Activities[0].Dose, w.Activities[0].Decision.Code)
	}
	return b.String()
}

// sessionDose is the dose of the first activity's session on a date.
func sessionDose(t *testing.T, p *Plan, d Date) (int, Status) {
	t.Helper()
	for _, w := range p.Weeks {
		for _, s := range w.Activities[0].Sessions {
			if s.Date == d && !s.Extra {
				return s.Dose, s.Status
			}
		}
	}
	t.Fatalf("no session on %s", d)
	return 0, ""
}

func events(p *Plan) []string {
	var out []string
	for _, w := range p.Weeks {
		for _, e := range w.Events {
			out = append(out, e.Date.String()+" "+string(e.Code))
		}
	}
	return out
}

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		s    scenario
		want string // week:dose CODE lines of the first activity
	}{
		{"start at 80% and rise by 10% of baseline each week, linearly",
			scenario{weeks: 4},
			"1:8 START\n2:9 PROGRESS\n3:10 PROGRESS\n4:11 PROGRESS\n"},
		{"a step below one granule is carried to the next week (v2)",
			// 10% of 5 minutes is half a minute: the dose rises every other week.
			scenario{weeks: 5, baseline: map[string]int{"walk": 5}},
			"1:4 START\n2:4 PROGRESS\n3:5 PROGRESS\n4:5 PROGRESS\n5:6 PROGRESS\n"},
		{"the fraction of a step is carried and does not compound (v2)",
			// 10% of 25 is 2.5: rises of 2, 3, 2, 3.
			scenario{weeks: 5, baseline: map[string]int{"walk": 25}},
			"1:20 START\n2:22 PROGRESS\n3:25 PROGRESS\n4:27 PROGRESS\n5:30 PROGRESS\n"},
		{"goal stops the rise",
			scenario{weeks: 4, goal: map[string]int{"walk": 9}},
			"1:8 START\n2:9 PROGRESS\n3:9 GOAL_REACHED\n4:9 GOAL_REACHED\n"},
		{"ceiling 10% below the flare threshold",
			scenario{weeks: 4, threshold: map[string]int{"walk": 10}},
			"1:8 START\n2:9 PROGRESS\n3:9 HOLD_CEILING\n4:9 HOLD_CEILING\n"},
		{"start below the ceiling when the threshold is low",
			scenario{weeks: 2, threshold: map[string]int{"walk": 6}},
			"1:5 START\n2:5 HOLD_CEILING\n"},
		{"adherence gate: 3 of 5 holds",
			scenario{weeks: 2, now: day(7), checkIns: weekdays(0, 2, Done)},
			"1:8 START\n2:8 HOLD_ADHERENCE\n"},
		{"adherence gate: 4 of 5 progresses",
			scenario{weeks: 2, now: day(7), checkIns: weekdays(0, 3, Done)},
			"1:8 START\n2:9 PROGRESS\n"},
		{"a partial of at least half the dose counts as done",
			scenario{weeks: 2, now: day(7), checkIns: append(weekdays(0, 2, Done),
				CheckIn{Date: day(3), Kind: SessionCheckIn, Activity: "walk", Status: Partial, Dose: ptr(4)})},
			"1:8 START\n2:9 PROGRESS\n"},
		{"a partial below half the dose does not",
			scenario{weeks: 2, now: day(7), checkIns: append(weekdays(0, 2, Done),
				CheckIn{Date: day(3), Kind: SessionCheckIn, Activity: "walk", Status: Partial, Dose: ptr(3)})},
			"1:8 START\n2:8 HOLD_ADHERENCE\n"},
		{"24-hour response: next-day pain 2 above usual on 2 days holds",
			scenario{weeks: 2, now: day(7), checkIns: append(weekdays(0, 4, Done),
				CheckIn{Date: day(-3), Kind: DailyCheckIn, Pain: ptr(3)},
				CheckIn{Date: day(-2), Kind: DailyCheckIn, Pain: ptr(3)},
				CheckIn{Date: day(1), Kind: DailyCheckIn, Pain: ptr(5)},
				CheckIn{Date: day(3), Kind: DailyCheckIn, Pain: ptr(6)})},
			"1:8 START\n2:8 HOLD_RESPONSE\n"},
		{"24-hour response: one worse day does not hold",
			scenario{weeks: 2, now: day(7), checkIns: append(weekdays(0, 4, Done),
				CheckIn{Date: day(-3), Kind: DailyCheckIn, Pain: ptr(3)},
				CheckIn{Date: day(1), Kind: DailyCheckIn, Pain: ptr(5)},
				CheckIn{Date: day(3), Kind: DailyCheckIn, Pain: ptr(4)})},
			"1:8 START\n2:9 PROGRESS\n"},
		{"spike cap: no session above 110% of the longest in 30 days",
			scenario{weeks: 3, baseline: map[string]int{"walk": 100}, goal: map[string]int{"walk": 200}},
			"1:80 START\n2:88 PROGRESS\n3:97 PROGRESS\n"},
		{"weekly load cap: planned load within 130% of the recent completed load (v2)",
			// 4 of 5 done each week passes the adherence gate, but the larger of
			// the mean completed load (32+36)/2 and the last week's 36 caps
			// week 3 at 36*1.3/5 = 9.36 -> 9 < 10.
			scenario{weeks: 3, now: day(14), checkIns: append(weekdays(0, 3, Done), weekdays(7, 10, Done)...)},
			"1:8 START\n2:9 PROGRESS\n3:9 HOLD_LOAD\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.s.plan(t)
			if got := doses(p); got != tt.want {
				t.Errorf("got\n%swant\n%s", got, tt.want)
			}
		})
	}
}

func TestDecisionsNameTheClamp(t *testing.T) {
	p := scenario{weeks: 4, threshold: map[string]int{"walk": 10}}.plan(t)
	if f := p.Weeks[2].Activities[0].Decision.Facts; f.Clamp != ClampCeiling || f.Threshold != 10 || f.Percent != 10 {
		t.Errorf("ceiling facts = %+v", f)
	}
	p = scenario{weeks: 3, now: day(14), checkIns: append(weekdays(0, 3, Done), weekdays(7, 10, Done)...)}.plan(t)
	if f := p.Weeks[2].Activities[0].Decision.Facts; f.Clamp != ClampLoad || f.Percent != 130 || f.Weeks != 2 {
		t.Errorf("load cap facts = %+v", f)
	}
	p = scenario{weeks: 2, now: day(7), checkIns: weekdays(0, 4, Done)}.plan(t)
	want := Decision{Code: Progress, Activity: "walk", Facts: Facts{Dose: 9, Prev: 8, Done: 5, Planned: 5}}
	if d := p.Weeks[1].Activities[0].Decision; !reflect.DeepEqual(d, want) {
		t.Errorf("progress decision = %+v, want %+v", d, want)
	}
}

func TestFlareStepsBackFromTheNextDay(t *testing.T) {
	// Weeks 1-2 done in full (8, 9 minutes); a flare is declared on Wednesday of week 3 (10 minutes).
	cs := append(weekdays(0, 16, Done), CheckIn{Date: day(16), Kind: FlareCheckIn})
	p := scenario{weeks: 6, now: day(17), checkIns: cs}.plan(t)
	if d, _ := sessionDose(t, p, day(16)); d != 10 {
		t.Errorf("flare day dose = %d, want 10 (the step-back starts the next day)", d)
	}
	for _, d := range []int{17, 18, 21, 22} {
		if got, _ := sessionDose(t, p, day(d)); got != 5 {
			t.Errorf("%s dose = %d, want the step-back 5", day(d), got)
		}
	}
	// The event is dated the day the flare was declared, and takes effect the
	// next day; that day's own session gives it as its cause, so what the
	// session says tells that the cut starts tomorrow.
	if ev := events(p); len(ev) < 1 || ev[0] != day(16).String()+" FLARE_STEP_BACK" {
		t.Errorf("events = %v, want a FLARE_STEP_BACK on %s", ev, day(16))
	}
	wk := p.Weeks[2]
	if len(wk.Events) == 0 || wk.Events[0].Facts.From != day(17) || wk.Events[0].Facts.Flare != day(16) ||
		!reflect.DeepEqual(wk.Events[0].Facts.Doses, []ActivityDose{{"walk", 5}}) {
		t.Fatalf("flare event = %+v", wk.Events)
	}
	for _, x := range wk.Activities[0].Sessions {
		if want := map[bool]int{true: 1, false: 0}[x.Date >= day(16)]; x.Cause != want {
			t.Errorf("session %s cause = %d, want %d", x.Date, x.Cause, want)
		}
	}
	if c := p.Weeks[3].Decision.Code; c != FlareStepBack {
		t.Errorf("week 4 decision = %s, want FLARE_STEP_BACK (still in the flare)", c)
	}
	// Projected: no new flare; it ends 7 days after the last flare day (day 23).
	// The rest of that week re-enters at 75% of the resume dose (v2), and the
	// next week resumes at the last full week's 9 minutes, below the learned
	// threshold of 10 (ceiling 9).
	if got, _ := sessionDose(t, p, day(24)); got != 6 {
		t.Errorf("re-entry dose = %d, want 6 (75%% of 9)", got)
	}
	if got, _ := sessionDose(t, p, day(28)); got != 9 {
		t.Errorf("resume dose = %d, want 9", got)
	}
	if w := p.Weeks[3].Activities[0]; w.Threshold != 10 || w.Ceiling != 9 {
		t.Errorf("learned threshold %d ceiling %d, want 10 and 9", w.Threshold, w.Ceiling)
	}
	if !p.InFlare {
		t.Error("plan should say the patient is in a flare on the day after it was declared")
	}
}

func TestSettledEndsTheFlare(t *testing.T) {
	cs := append(weekdays(0, 18, Done), CheckIn{Date: day(16), Kind: FlareCheckIn}, CheckIn{Date: day(18), Kind: SettledCheckIn})
	p := scenario{weeks: 5, now: day(18), checkIns: cs}.plan(t)
	for d, want := range map[int]int{17: 5, 18: 5, 21: 9, 22: 9} {
		if got, _ := sessionDose(t, p, day(d)); got != want {
			t.Errorf("%s dose = %d, want %d", day(d), got, want)
		}
	}
	if got := doses(p); !strings.Contains(got, "4:9 FLARE_RESUME") || !strings.Contains(got, "5:9 HOLD_CEILING") {
		t.Errorf("weeks after the flare:\n%s", got)
	}
}

func TestPersistentFlareAlertsAndHolds(t *testing.T) {
	cs := weekdays(0, 6, Done)
	for d := 7; d <= 24; d += 2 { // keeps declaring the flare
		cs = append(cs, CheckIn{Date: day(d), Kind: FlareCheckIn})
	}
	p := scenario{weeks: 5, now: day(24), checkIns: cs}.plan(t)
	ev := strings.Join(events(p), ",")
	if !strings.Contains(ev, day(21).String()+" FLARE_PERSISTENT") {
		t.Errorf("events %s: want FLARE_PERSISTENT 14 days after the flare began", ev)
	}
	if got := doses(p); !strings.Contains(got, "4:4 FLARE_PERSISTENT") {
		t.Errorf("want week 4 held at the step-back with FLARE_PERSISTENT:\n%s", got)
	}
}

func TestRedFlagPausesUntilTheTherapistResumes(t *testing.T) {
	cs := append(weekdays(0, 9, Done), CheckIn{Date: day(9), Kind: RedFlagCheckIn, Answers: []string{"saddle_numbness"}})
	p := scenario{weeks: 5, now: day(12), checkIns: cs,
		overrides: []Overriding{{Date: day(21), Kind: ResumeOverride}}}.plan(t)
	if _, st := sessionDose(t, p, day(9)); st != Done {
		t.Errorf("the session done before the red flag must stay done, got %s", st)
	}
	if ss := p.Weeks[2].Activities[0].Sessions; len(ss) != 0 {
		t.Errorf("week 3 must have no sessions while paused, got %d", len(ss))
	}
	// Paused 12 days: the restart is at 80% of 9 minutes (v2).
	if got := doses(p); !strings.Contains(got, "3:9 PAUSED_RED_FLAG") || !strings.Contains(got, "4:7 RESUMED") {
		t.Errorf("decisions:\n%s", got)
	}
	if !p.Paused {
		t.Error("plan should be paused on day 12")
	}
	// An empty red-flag screen (all answers no) changes nothing.
	p = scenario{weeks: 2, now: day(3), checkIns: []CheckIn{{Date: day(2), Kind: RedFlagCheckIn}}}.plan(t)
	if p.Paused {
		t.Error("a red-flag screen with no yes must not pause")
	}
}

func TestCalibrationSetsTheBaseline(t *testing.T) {
	src := strings.Replace(walkYAML, "activities:", "calibration: {days: 3}\nactivities:", 1)
	cs := []CheckIn{
		{Date: day(0), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: ptr(12)},
		{Date: day(1), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: ptr(14)},
		{Date: day(2), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: ptr(10)},
	}
	p := scenario{src: src, weeks: 2, now: day(3), checkIns: cs}.plan(t)
	if c := p.Weeks[0].Decision.Code; c != CalibrationCode {
		t.Errorf("week 1 decision = %s, want CALIBRATION", c)
	}
	if d, _ := sessionDose(t, p, day(3)); d != 9 { // 80% of the mean 12, rounded down
		t.Errorf("dose after calibration = %d, want 9", d)
	}
	// A therapist's baseline skips calibration.
	p = scenario{src: src, weeks: 1, baseline: map[string]int{"walk": 20}}.plan(t)
	if c := p.Weeks[0].Decision.Code; c != Start || p.Weeks[0].Activities[0].Dose != 16 {
		t.Errorf("with a baseline: %s %d, want START 16", c, p.Weeks[0].Activities[0].Dose)
	}
}

func TestOverrides(t *testing.T) {
	p := scenario{weeks: 3, overrides: []Overriding{
		{Date: day(9), Kind: DoseOverride, Activity: "walk", Value: 15},
		{Date: day(16), Kind: ThresholdOverride, Activity: "walk", Value: 12},
	}}.plan(t)
	if d, _ := sessionDose(t, p, day(9)); d != 15 {
		t.Errorf("dose override: %d, want 15 from its date", d)
	}
	if d, _ := sessionDose(t, p, day(8)); d != 9 {
		t.Errorf("before the override: %d, want 9", d)
	}
	if d, _ := sessionDose(t, p, day(16)); d != 10 {
		t.Errorf("a lower threshold clamps at once: %d, want the ceiling 10", d)
	}
}

func TestMissedSessionsAndProjection(t *testing.T) {
	// Now is Friday of week 2: Monday and Tuesday are more than 2 days ago
	// and missed; Wednesday and Thursday may still be logged (v2).
	p := scenario{weeks: 3, now: day(11), checkIns: weekdays(0, 4, Done)}.plan(t)
	for d, want := range map[int]Status{7: Missed, 8: Missed, 9: Planned, 10: Planned, 11: Planned} {
		if _, st := sessionDose(t, p, day(d)); st != want {
			t.Errorf("session on %s is %s, want %s", day(d), st, want)
		}
	}
	if p.Weeks[1].Projected || !p.Weeks[2].Projected {
		t.Error("week 2 holds today and is not projected; week 3 is")
	}
	// Week 2 has 2 missed of 5; the projection assumes the rest are done: 3 of 5 holds.
	if d := p.Weeks[2].Decision; d.Code != HoldAdherence || !d.Facts.Projected || d.Facts.Done != 3 {
		t.Errorf("week 3 = %+v, want HOLD_ADHERENCE on 3 of 5, projected", d)
	}
}

func TestCheckInOrderDoesNotMatter(t *testing.T) {
	cs := append(weekdays(0, 16, Done), CheckIn{Date: day(16), Kind: FlareCheckIn},
		CheckIn{Date: day(3), Kind: DailyCheckIn, Pain: ptr(4)})
	a := scenario{weeks: 5, now: day(20), checkIns: cs}.plan(t)
	rev := make([]CheckIn, len(cs))
	for i := range cs {
		rev[len(cs)-1-i] = cs[i]
	}
	b := scenario{weeks: 5, now: day(20), checkIns: rev}.plan(t)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Error("plans differ when the check-ins come in another order")
	}
}

func TestTimeZonesKeepLocalWallClock(t *testing.T) {
	daily := strings.Replace(walkYAML, "[mon, tue, wed, thu, fri]", "[daily]", 1)
	tests := []struct {
		zone     string
		from, to Date // a span crossing the zone's DST change (if any)
		offsets  []int
	}{
		{"Europe/Berlin", MakeDate(2026, 3, 28), MakeDate(2026, 3, 29), []int{3600, 7200}},
		{"America/New_York", MakeDate(2026, 3, 7), MakeDate(2026, 3, 8), []int{-5 * 3600, -4 * 3600}},
		{"Australia/Lord_Howe", MakeDate(2026, 10, 3), MakeDate(2026, 10, 4), []int{10*3600 + 1800, 11 * 3600}},
		{"Asia/Kolkata", MakeDate(2026, 3, 28), MakeDate(2026, 3, 29), []int{5*3600 + 1800, 5*3600 + 1800}},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			loc, _ := time.LoadLocation(tt.zone)
			as := Assignment{Program: mustParse(t, daily), Start: tt.from.AddDays(-7), Location: loc, Weeks: 3}
			p, err := Compute(as, nil, nil, as.Start.In(loc, 0))
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, w := range p.Weeks {
				for _, s := range w.Activities[0].Sessions {
					local := s.At(loc)
					if local.Format("15:04") != "07:30" || DateOf(local) != s.Date {
						t.Errorf("%s: session at %s local, want 07:30 on its date", s.Date, local)
					}
					if s.Date == tt.from || s.Date == tt.to {
						_, off := local.Zone()
						got = append(got, off)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.offsets) {
				t.Errorf("UTC offsets across the change = %v, want %v", got, tt.offsets)
			}
		})
	}
}

func TestSkippedLocalTimeStaysOnItsDate(t *testing.T) {
	src := strings.Replace(strings.Replace(walkYAML, "[mon, tue, wed, thu, fri]", "[daily]", 1), "07:30", "02:30", 1)
	loc, _ := time.LoadLocation("Europe/Berlin")
	as := Assignment{Program: mustParse(t, src), Start: MakeDate(2026, 3, 23), Location: loc, Weeks: 1}
	p, err := Compute(as, nil, nil, as.Start.In(loc, 0))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Weeks[0].Activities[0].Sessions[6] // Sunday 2026-03-29: 02:30 does not exist
	if s.Date != MakeDate(2026, 3, 29) || s.Time.String() != "02:30" || s.At(loc).Format("2006-01-02 15:04") != "2026-03-29 03:30" {
		t.Errorf("session %s %s starts %s, want the planned 02:30 moved to 03:30 the same day", s.Date, s.Time, s.At(loc))
	}
}

func TestNowIsTheLocalDate(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Kolkata")
	as := Assignment{Program: mustParse(t, walkYAML), Start: monday, Location: loc, Weeks: 1}
	// 23:30 UTC on Wednesday is already Thursday 05:00 in Kolkata: Monday's
	// session is more than 2 days ago and missed, Tuesday's may still be logged.
	p, err := Compute(as, nil, nil, time.Date(2026, 1, 7, 23, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ss := p.Weeks[0].Activities[0].Sessions
	if p.Now != day(3) || ss[0].Status != Missed || ss[1].Status != Planned {
		t.Errorf("now %s, sessions %s %s; want now %s, missed and planned", p.Now, ss[0].Status, ss[1].Status, day(3))
	}
}

func TestComputeRejectsBadInput(t *testing.T) {
	p := mustParse(t, walkYAML)
	tests := []struct {
		as   Assignment
		cs   []CheckIn
		want string
	}{
		{Assignment{Program: p, Start: monday, Location: time.UTC, Weeks: 1, Baseline: map[string]int{"run": 5}},
			nil, `baseline: unknown activity "run" (this program has walk)`},
		{Assignment{Program: p, Start: monday, Location: time.UTC, Weeks: 1, Goal: map[string]int{"walk": 5}},
			nil, `goal 5 for walk is below its start dose 8 (80% of the baseline 10); raise the goal or lower the baseline`},
		{Assignment{Program: p, Start: monday, Location: time.UTC, Weeks: 0}, nil, "weeks must be between 1 and 104, not 0"},
		{Assignment{Program: p, Start: monday, Location: time.UTC, Weeks: 1},
			[]CheckIn{{Date: monday, Kind: DailyCheckIn, Pain: ptr(11)}}, "check-in 1 (2026-01-05 daily): pain 11 is outside 0-10"},
		{Assignment{Program: p, Start: monday, Location: time.UTC, Weeks: 1},
			[]CheckIn{{Date: monday, Kind: SessionCheckIn, Activity: "run", Status: Done}},
			`check-in 1 (2026-01-05 session): unknown activity "run" (this program has walk)`},
	}
	for _, tt := range tests {
		if _, err := Compute(tt.as, tt.cs, nil, time.Now()); err == nil || err.Error() != tt.want {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
}

func TestSkippedMidnightStaysOnItsDate(t *testing.T) {
	// America/Santiago skips from 00:00 to 01:00 on 2026-09-06.
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	got := MakeDate(2026, 9, 6).In(loc, 0)
	if got.Format("2006-01-02 15:04 -07") != "2026-09-06 01:00 -03" {
		t.Errorf("00:00 on 2026-09-06 in Santiago = %s, want 01:00 -03 the same day", got.Format("2006-01-02 15:04 -07"))
	}
}

func TestFlareDuringCalibration(t *testing.T) {
	src := strings.Replace(strings.Replace(strings.Replace(walkYAML, "activities:", "calibration: {days: 3}\nactivities:", 1),
		"[mon, tue, wed, thu, fri]", "[daily]", 1), "baseline: 10\n    goal: 30", "baseline: 60\n    goal: 60", 1)
	cs := []CheckIn{
		{Date: day(0), Kind: FlareCheckIn},
		{Date: day(1), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: ptr(4)},
		{Date: day(2), Kind: SessionCheckIn, Activity: "walk", Status: Done, Dose: ptr(4)},
	}
	p := scenario{src: src, weeks: 3, now: day(20), checkIns: cs}.plan(t)
	// Calibrated baseline 4, start 3: the step-back and the resume follow it.
	for d := 3; d < 21; d++ {
		if got, _ := sessionDose(t, p, day(d)); got > 3 {
			t.Errorf("%s dose %d, above the calibrated start of 3", day(d), got)
		}
	}
}

func TestTherapistDoseOutlastsAFlare(t *testing.T) {
	p := scenario{weeks: 3, baseline: map[string]int{"walk": 20}, goal: map[string]int{"walk": 40},
		checkIns:  []CheckIn{{Date: day(1), Kind: FlareCheckIn}},
		overrides: []Overriding{{Date: day(3), Kind: DoseOverride, Activity: "walk", Value: 6}}, now: day(3)}.plan(t)
	if got, _ := sessionDose(t, p, day(10)); got != 6 { // the flare ended on day 8
		t.Errorf("after the flare: %d, want the therapist's 6", got)
	}
}

func TestResumeRecordedAfterASameDayRedFlag(t *testing.T) {
	flagAt := time.Date(2026, 1, 7, 9, 0, 0, 0, time.UTC)
	cs := []CheckIn{{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"night_pain"}, At: flagAt}}
	for _, tt := range []struct {
		name     string
		resumeAt time.Time
		paused   bool
	}{
		{"resume recorded after the red flag", flagAt.Add(time.Hour), false},
		{"resume recorded before the red flag", flagAt.Add(-time.Hour), true},
		{"times unknown: the red flag wins", time.Time{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := scenario{weeks: 2, now: day(3), checkIns: cs,
				overrides: []Overriding{{Date: day(2), Kind: ResumeOverride, At: tt.resumeAt}}}.plan(t)
			if p.Paused != tt.paused {
				t.Errorf("paused = %v, want %v", p.Paused, tt.paused)
			}
		})
	}
	// A red flag recorded after that resume, the same day, pauses again,
	// with its own answers; one recorded between them does not change that.
	resume := []Overriding{{Date: day(2), Kind: ResumeOverride, At: flagAt.Add(time.Hour)}}
	for _, later := range [][]CheckIn{
		{{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"bladder_bowel"}, At: flagAt.Add(2 * time.Hour)}},
		{{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"bladder_bowel"}, At: flagAt.Add(2 * time.Hour)},
			{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"weight_loss_cancer"}, At: flagAt.Add(30 * time.Minute)}},
	} {
		p := scenario{weeks: 2, now: day(3), checkIns: append(slices.Clone(cs), later...), overrides: resume}.plan(t)
		if !p.Paused || p.Urgency != UrgencyEmergency || !slices.Equal(p.Answers, []string{"bladder_bowel"}) {
			t.Errorf("a red flag after a same-day resume: paused %v urgency %q answers %v, want paused for bladder_bowel",
				p.Paused, p.Urgency, p.Answers)
		}
	}
}

// A day's overrides apply in the order they were recorded: the therapist's
// last word stands, whatever its kind or value.
func TestSameDayOverridesApplyInTheirOrder(t *testing.T) {
	at := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		ovs    []Overriding
		now    Date
		paused bool
		dose   int // the day's dose when not paused
	}{
		{"a dose, then a lower one", []Overriding{
			{Date: day(9), Kind: DoseOverride, Activity: "walk", Value: 15, At: at},
			{Date: day(9), Kind: DoseOverride, Activity: "walk", Value: 12, At: at.Add(time.Minute)}}, 0, false, 12},
		{"a dose, then a higher one", []Overriding{
			{Date: day(9), Kind: DoseOverride, Activity: "walk", Value: 12, At: at},
			{Date: day(9), Kind: DoseOverride, Activity: "walk", Value: 15, At: at.Add(time.Minute)}}, 0, false, 15},
		{"a pause, a resume and a pause again", []Overriding{
			{Date: day(9), Kind: PauseOverride, At: at},
			{Date: day(9), Kind: ResumeOverride, At: at.Add(time.Minute)},
			{Date: day(9), Kind: PauseOverride, At: at.Add(2 * time.Minute)}}, day(9), true, 0},
		{"a pause, then a resume", []Overriding{
			{Date: day(9), Kind: PauseOverride, At: at},
			{Date: day(9), Kind: ResumeOverride, At: at.Add(time.Minute)}}, day(9), false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// In whatever order they are given.
			reversed := slices.Clone(tt.ovs)
			slices.Reverse(reversed)
			for _, ovs := range [][]Overriding{tt.ovs, reversed} {
				p := scenario{weeks: 3, now: tt.now, overrides: ovs}.plan(t)
				if tt.now != 0 && p.Paused != tt.paused {
					t.Errorf("paused = %v, want %v", p.Paused, tt.paused)
				}
				if tt.dose == 0 {
					continue
				}
				if d, _ := sessionDose(t, p, day(9)); d != tt.dose {
					t.Errorf("dose on the day %d, want %d", d, tt.dose)
				}
			}
		})
	}
}

// A screen answered while a red flag pauses the plan keeps the pause and
// its day, and adds its answers to the pause's: the patient is asked for the
// most urgent of them, however the day's screens sort.
func TestRedFlagWhilePausedRaisesTheUrgency(t *testing.T) {
	at := time.Date(2026, 1, 7, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		screens []CheckIn
		answers []string
	}{
		{"a later day", []CheckIn{
			{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"night_pain"}, At: at},
			{Date: day(4), Kind: RedFlagCheckIn, Answers: []string{"bladder_bowel"}, At: at.Add(48 * time.Hour)}},
			[]string{"night_pain", "bladder_bowel"}},
		{"the same day, the urgent one first", []CheckIn{ // and sorting after the other by its answers
			{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"saddle_numbness"}, At: at},
			{Date: day(2), Kind: RedFlagCheckIn, Answers: []string{"fever_unwell"}, At: at.Add(2 * time.Hour)}},
			[]string{"saddle_numbness", "fever_unwell"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := scenario{weeks: 2, now: day(5), checkIns: tt.screens}.plan(t)
			if !p.Paused || p.PausedOn != day(2) || p.Urgency != UrgencyEmergency || !slices.Equal(p.Answers, tt.answers) {
				t.Errorf("paused %v on %s, urgency %q, answers %v; want paused on %s, emergency, %v",
					p.Paused, p.PausedOn, p.Urgency, p.Answers, day(2), tt.answers)
			}
		})
	}
}
