package programs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Property tests for the engine's invariants (progression.md, "Properties the
// engine must always satisfy") over random programs, assignments, check-in
// histories and therapist overrides. Each property re-derives what it needs
// (flare episodes, pauses, thresholds in force, adherence) from the inputs and
// the plan's session records rather than from the engine's own bookkeeping.

// propInput is one generated call of Compute.
type propInput struct {
	as        Assignment
	checkIns  []CheckIn
	overrides []Overriding
	now       time.Time
	today     Date // now's local date in the assignment's zone
}

func (in propInput) days() int     { return in.as.Weeks * 7 }
func (in propInput) lastDay() Date { return in.as.Start.AddDays(in.days() - 1) }

// offset is d's day offset in the plan and whether the plan covers d.
func (in propInput) offset(d Date) (int, bool) {
	off := int(d - in.as.Start)
	return off, off >= 0 && off < in.days()
}

// propZones include zones whose DST change moves the clock by 30 minutes
// (Lord Howe) or skips midnight (Santiago).
var propZones = sync.OnceValues(func() ([]*time.Location, error) {
	var locs []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
		"Asia/Kolkata", "America/Santiago"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, err
		}
		locs = append(locs, loc)
	}
	return locs, nil
})

var propActivityIDs = []string{"walk", "bridge", "plank-hold", "sit-to-stand", "breathe"}

// chance is true about percent% of the time (rapid's bias toward small draws
// makes it rarer) and shrinks to false.
func chance(t *rapid.T, percent int, label string) bool {
	return rapid.IntRange(0, 99).Draw(t, label) >= 100-percent
}

func genRules(t *rapid.T) Rules {
	r := DefaultRules()
	if rapid.Bool().Draw(t, "custom_rules") {
		for _, f := range r.fields() {
			if chance(t, 40, "change_rule") {
				*f.v = rapid.IntRange(f.min, f.max).Draw(t, f.key)
			}
		}
	}
	return r
}

// genGoal draws a goal between the start dose for base and about 4 × base.
func genGoal(t *rapid.T, r Rules, a *Activity, base int) int {
	g := a.Granule
	lo := a.StartDose(r, base) / g
	return g * rapid.IntRange(lo, max(lo, 4*base/g)).Draw(t, "goal")
}

// genThreshold draws a flare threshold, sometimes below the baseline,
// sometimes above the goal.
func genThreshold(t *rapid.T, a *Activity, base, goal int) int {
	g := a.Granule
	if rapid.Bool().Draw(t, "threshold_low") {
		return g * rapid.IntRange(1, base/g).Draw(t, "threshold")
	}
	return g * rapid.IntRange(1, 2*goal/g+1).Draw(t, "threshold")
}

func genSchedule(t *rapid.T) Schedule {
	var s Schedule
	if rapid.Bool().Draw(t, "fixed_days") {
		for d := time.Sunday; d <= time.Saturday; d++ {
			if rapid.Bool().Draw(t, "on_day") {
				s.Days = append(s.Days, d)
			}
		}
		if len(s.Days) == 0 {
			s.Days = []time.Weekday{time.Weekday(rapid.IntRange(0, 6).Draw(t, "only_day"))}
		}
	} else {
		s.PerWeek = rapid.IntRange(1, 7).Draw(t, "per_week")
	}
	clock := rapid.Custom(func(t *rapid.T) Clock {
		if chance(t, 40, "near_dst_change") { // DST changes happen between 00:00 and 03:00
			return Clock(rapid.IntRange(0, 200).Draw(t, "early_minute"))
		}
		return Clock(rapid.IntRange(0, 24*60-1).Draw(t, "minute"))
	})
	s.Times = rapid.SliceOfNDistinct(clock, 1, 3, rapid.ID[Clock]).Draw(t, "times")
	slices.Sort(s.Times)
	return s
}

func genActivity(t *rapid.T, r Rules, id string) Activity {
	a := Activity{
		ID: id, Name: strings.ToUpper(id[:1]) + id[1:],
		Kind:         rapid.SampledFrom(kinds).Draw(t, "kind"),
		Unit:         rapid.SampledFrom(units).Draw(t, "unit"),
		Sets:         rapid.IntRange(1, 3).Draw(t, "sets"),
		Instructions: "Go gently.",
	}
	a.Granule = a.Unit.DefaultGranule()
	if chance(t, 40, "own_start_percent") {
		a.StartPercent = rapid.IntRange(1, 100).Draw(t, "start_percent")
	}
	a.Baseline = a.Granule * rapid.IntRange(1, 60).Draw(t, "baseline")
	a.Goal = genGoal(t, r, &a, a.Baseline)
	if rapid.Bool().Draw(t, "has_threshold") {
		a.Threshold = genThreshold(t, &a, a.Baseline, a.Goal)
	}
	if rapid.Bool().Draw(t, "own_step") {
		a.Step = a.Granule * rapid.IntRange(1, 10).Draw(t, "step")
	}
	a.Schedule = genSchedule(t)
	return a
}

func genProgram(t *rapid.T) *Program {
	r := genRules(t)
	p := &Program{ID: "prop", Name: "Property program", Rules: r}
	if chance(t, 40, "calibrated") {
		p.Calibration = &Calibration{Days: rapid.IntRange(1, 7).Draw(t, "calibration_days")}
	}
	for i := range rapid.IntRange(1, len(propActivityIDs)).Draw(t, "activities") {
		p.Activities = append(p.Activities, genActivity(t, r, propActivityIDs[i]))
	}
	return p
}

func setIn[V any](m *map[string]V, k string, v V) {
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[k] = v
}

func genAssignment(t *rapid.T) Assignment {
	locs, err := propZones()
	if err != nil {
		t.Fatalf("load zones: %v", err)
	}
	p := genProgram(t)
	as := Assignment{
		Program:  p,
		Start:    MakeDate(2026, time.January, 1).AddDays(rapid.IntRange(-60, 400).Draw(t, "start")),
		Location: rapid.SampledFrom(locs).Draw(t, "zone"),
		Weeks:    rapid.IntRange(1, 30).Draw(t, "weeks"),
	}
	if chance(t, 50, "long_plan") { // rapid favours short plans
		as.Weeks = 30 - rapid.IntRange(0, 20).Draw(t, "shorter_by")
	}
	for i := range p.Activities {
		a := &p.Activities[i]
		base := a.Baseline
		if chance(t, 40, "therapist_baseline") {
			base = a.Granule * rapid.IntRange(1, 60).Draw(t, "baseline")
			setIn(&as.Baseline, a.ID, base)
		}
		goal := a.Goal
		if a.StartDose(p.Rules, base) > goal || chance(t, 40, "therapist_goal") {
			goal = genGoal(t, p.Rules, a, base)
			setIn(&as.Goal, a.ID, goal)
		}
		if chance(t, 40, "therapist_threshold") {
			setIn(&as.Threshold, a.ID, genThreshold(t, a, base, goal))
		}
		if chance(t, 30, "therapist_schedule") {
			setIn(&as.Schedule, a.ID, genSchedule(t))
		}
	}
	if err := as.Validate(); err != nil {
		t.Fatalf("the generator made an invalid assignment: %v", err)
	}
	return as
}

func (in propInput) schedule(a *Activity) Schedule {
	if s, ok := in.as.Schedule[a.ID]; ok {
		return s
	}
	return a.Schedule
}

func propGoal(in propInput, a *Activity) int { return pick(in.as.Goal, a.ID, a.Goal) }

func intPtr(v int) *int { return &v }

// genHistory draws check-ins from two weeks before the start to today.
func genHistory(t *rapid.T, in propInput) []CheckIn {
	p := in.as.Program
	adherence := rapid.SampledFrom([]int{0, 100, 95, 85, 70, 50, 30}).Draw(t, "adherence_percent")
	flareRate := rapid.SampledFrom([]int{0, 5, 10, 20}).Draw(t, "flare_percent")
	redFlagRate := rapid.SampledFrom([]int{0, 30, 60}).Draw(t, "red_flag_yes_percent")
	ids := make([]string, len(RedFlags))
	for i, r := range RedFlags {
		ids[i] = r.ID
	}
	answers := rapid.SliceOfNDistinct(rapid.SampledFrom(ids), 0, 2, rapid.ID[string])
	var cs []CheckIn
	for d := in.as.Start.AddDays(-14); d <= in.today; d++ {
		for i := range p.Activities {
			a := &p.Activities[i]
			times := in.schedule(a).Times
			// One slot per planned time, and one more for an extra session.
			logged := rapid.IntRange(0, len(times)+1).Draw(t, "sessions_logged")
			if !chance(t, adherence, "logs_today") {
				logged = 0
			}
			for k := range logged {
				c := CheckIn{Date: d, Kind: SessionCheckIn, Activity: a.ID,
					Status: rapid.SampledFrom([]Status{Done, Done, Partial, Skipped}).Draw(t, "status")}
				switch rapid.IntRange(0, 5).Draw(t, "session_time") {
				case 4:
					tm := times[min(k, len(times)-1)]
					c.Time = &tm
				case 5:
					tm := Clock(rapid.IntRange(0, 24*60-1).Draw(t, "logged_time"))
					c.Time = &tm
				}
				if chance(t, 50, "has_dose") {
					c.Dose = intPtr(rapid.IntRange(0, 2*propGoal(in, a)).Draw(t, "dose"))
				}
				if rapid.Bool().Draw(t, "has_pain") {
					c.Pain = intPtr(rapid.IntRange(0, 10).Draw(t, "pain"))
				}
				cs = append(cs, c)
			}
		}
		if chance(t, 60, "daily") {
			cs = append(cs, CheckIn{Date: d, Kind: DailyCheckIn, Pain: intPtr(rapid.IntRange(0, 10).Draw(t, "usual_pain"))})
		}
		rate := flareRate
		if p.Calibration != nil && d >= in.as.Start && d < in.as.Start.AddDays(p.Calibration.Days) {
			rate = max(rate, 30) // a flare while calibrating is a case of its own
		}
		if chance(t, rate, "flare") {
			cs = append(cs, CheckIn{Date: d, Kind: FlareCheckIn})
		}
		if chance(t, 20, "settled") {
			cs = append(cs, CheckIn{Date: d, Kind: SettledCheckIn})
		}
		for range rapid.SampledFrom([]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 2}).Draw(t, "weekly") {
			cs = append(cs, CheckIn{Date: d, Kind: WeeklyCheckIn,
				Function:   intPtr(rapid.IntRange(0, 10).Draw(t, "function")),
				Symptoms:   intPtr(rapid.IntRange(0, 10).Draw(t, "symptoms")),
				Confidence: intPtr(rapid.IntRange(0, 10).Draw(t, "confidence"))})
		}
		if chance(t, 30, "red_flag_screen") {
			c := CheckIn{Date: d, Kind: RedFlagCheckIn}
			if chance(t, redFlagRate, "red_flag_yes") {
				c.Answers = answers.Draw(t, "answers")
			}
			cs = append(cs, c)
		}
	}
	return cs
}

var overrideKinds = []OverrideKind{PauseOverride, ResumeOverride, DoseOverride, ThresholdOverride, GoalOverride}

// genOverrides draws therapist overrides dated from three days before the
// start to the plan's end, sometimes two of a kind on one day.
func genOverrides(t *rapid.T, in propInput) []Overriding {
	p := in.as.Program
	var ovs []Overriding
	for range rapid.IntRange(0, 5).Draw(t, "overrides") {
		var o Overriding
		if len(ovs) > 0 && chance(t, 30, "same_again") {
			o = ovs[len(ovs)-1]
		} else {
			o.Date = in.as.Start.AddDays(rapid.IntRange(-3, in.days()).Draw(t, "override_day"))
			o.Kind = rapid.SampledFrom(overrideKinds).Draw(t, "override_kind")
			if o.Kind != PauseOverride && o.Kind != ResumeOverride {
				o.Activity = rapid.SampledFrom(p.ActivityIDs()).Draw(t, "override_activity")
			}
		}
		if a, ok := p.Activity(o.Activity); ok {
			o.Value = a.Granule * rapid.IntRange(1, 2*propGoal(in, a)/a.Granule+1).Draw(t, "override_value")
		}
		ovs = append(ovs, o)
	}
	return ovs
}

func genInput(t *rapid.T) propInput {
	in := propInput{as: genAssignment(t)}
	day := in.as.Start.AddDays(rapid.IntRange(-3, in.days()+3).Draw(t, "now_day"))
	if chance(t, 70, "now_late") { // rapid favours small draws; a long history matters more
		day = in.lastDay().AddDays(3 - rapid.IntRange(0, in.days()+6).Draw(t, "now_before_end"))
	}
	in.now = day.In(in.as.Location, rapid.IntRange(0, 24*60-1).Draw(t, "now_minute"))
	in.today = DateOf(in.now.In(in.as.Location))
	in.checkIns = genHistory(t, in)
	in.overrides = genOverrides(t, in)
	return in
}

func propCompute(t *rapid.T, in propInput) *Plan {
	plan, err := Compute(in.as, in.checkIns, in.overrides, in.now)
	if err != nil {
		t.Fatalf("Compute returned an error for valid input: %v", err)
	}
	if len(plan.Weeks) != in.as.Weeks {
		t.Fatalf("plan has %d weeks, want %d", len(plan.Weeks), in.as.Weeks)
	}
	return plan
}

// activitySessions lists one activity's sessions over the whole plan, in
// date and time order.
func activitySessions(plan *Plan, i int) []Session {
	var ss []Session
	for _, wk := range plan.Weeks {
		ss = append(ss, wk.Activities[i].Sessions...)
	}
	slices.SortStableFunc(ss, func(a, b Session) int {
		if a.Date != b.Date {
			return int(a.Date - b.Date)
		}
		return int(a.Time - b.Time)
	})
	return ss
}

// flareEpisode is a flare declared while not already in one: step-back
// applies on the days after start up to and including end.
type flareEpisode struct {
	start, end Date
}

// flareEpisodes re-derives the flares from the check-ins: a flare ends on the
// day the patient reports settled, or FlareDays after the last flare day.
// A day's flare report comes before its settled report.
func flareEpisodes(in propInput) []flareEpisode {
	flare, settled := map[Date]bool{}, map[Date]bool{}
	for _, c := range in.checkIns {
		switch c.Kind {
		case FlareCheckIn:
			flare[c.Date] = true
		case SettledCheckIn:
			settled[c.Date] = true
		}
	}
	var (
		eps                  []flareEpisode
		cur                  flareEpisode
		inFlare              bool
		lastFlare, settledOn Date
		flareDays            = in.as.Program.Rules.FlareDays
	)
	end := func() Date {
		if settledOn != 0 {
			return settledOn
		}
		return lastFlare.AddDays(flareDays)
	}
	for d := in.as.Start; d <= in.lastDay(); d++ {
		if inFlare && d > end() {
			cur.end, inFlare = end(), false
			eps = append(eps, cur)
		}
		if flare[d] {
			if inFlare {
				lastFlare = d
			} else {
				inFlare, cur, lastFlare, settledOn = true, flareEpisode{start: d}, d, 0
			}
		}
		if settled[d] && inFlare && settledOn == 0 {
			settledOn = d
		}
	}
	if inFlare {
		cur.end = min(end(), in.lastDay())
		eps = append(eps, cur)
	}
	return eps
}

// pauseReplay replays pause and resume overrides and red flags. scheduling[off]
// is whether the assignment is paused when day off's sessions are scheduled
// (after the day's overrides), dayEnd[off] whether it is paused at the day's
// end (after its red flags). On one day a resume wins over a pause.
func pauseReplay(in propInput) (scheduling, dayEnd []bool) {
	n := in.days()
	pause, resume, red := make([]bool, n), make([]bool, n), make([]bool, n)
	for _, o := range in.overrides {
		if off, ok := in.offset(o.Date); ok {
			pause[off] = pause[off] || o.Kind == PauseOverride
			resume[off] = resume[off] || o.Kind == ResumeOverride
		}
	}
	for _, c := range in.checkIns {
		if off, ok := in.offset(c.Date); ok && c.Kind == RedFlagCheckIn && len(c.Answers) > 0 {
			red[off] = true
		}
	}
	scheduling, dayEnd = make([]bool, n), make([]bool, n)
	paused := false
	for off := range n {
		if resume[off] {
			paused = false
		} else if pause[off] {
			paused = true
		}
		scheduling[off] = paused
		paused = paused || red[off]
		dayEnd[off] = paused
	}
	return scheduling, dayEnd
}

// propCeiling is progression.md's ceiling: the largest whole number of
// granules at most threshold × (1 − margin) and below the threshold, but
// never below one granule.
func propCeiling(r Rules, granule, threshold int) int {
	if threshold <= 0 {
		return 0
	}
	c := threshold * (100 - r.CeilingMarginPercent) / 100 / granule * granule
	if c >= threshold {
		c -= granule
	}
	return max(c, granule)
}

// limits re-derives an activity's threshold and goal in force on each day,
// when its sessions are scheduled: the therapist's values, changed by
// overrides from their day on and by a flare's learned threshold (the most
// done that day and the two before) from the next day on. Overrides of one
// kind for one activity on one day with different values leave the value in
// force unspecified: the days from then on are not derived (known is the
// number of days that are).
func limits(in propInput, plan *Plan, i int) (threshold, goal []int, known int) {
	a := &in.as.Program.Activities[i]
	n := in.days()
	thr, gl := pick(in.as.Threshold, a.ID, a.Threshold), pick(in.as.Goal, a.ID, a.Goal)
	done := make([]int, n)
	for _, x := range activitySessions(plan, i) {
		if off, ok := in.offset(x.Date); ok && (x.Status == Done || x.Status == Partial) {
			done[off] = max(done[off], x.Actual)
		}
	}
	starts := map[Date]bool{}
	for _, ep := range flareEpisodes(in) {
		starts[ep.start] = true
	}
	threshold, goal = make([]int, n), make([]int, n)
	for off := range n {
		d := in.as.Start.AddDays(off)
		setThr, setGoal := map[int]bool{}, map[int]bool{}
		for _, o := range in.overrides {
			if o.Date == d && o.Activity == a.ID {
				switch o.Kind {
				case ThresholdOverride:
					thr, setThr[o.Value] = o.Value, true
				case GoalOverride:
					gl, setGoal[o.Value] = o.Value, true
				}
			}
		}
		if len(setThr) > 1 || len(setGoal) > 1 {
			return threshold, goal, off
		}
		threshold[off], goal[off] = thr, gl
		if starts[d] {
			most := slices.Max(done[max(off-2, 0) : off+1])
			if most > 0 && (thr == 0 || most < thr) {
				thr = most
			}
		}
	}
	return threshold, goal, n
}

func describe(in propInput) string {
	var b strings.Builder
	p := in.as.Program
	fmt.Fprintf(&b, "start %s, %d weeks, zone %s, now %s (%s)\n", in.as.Start, in.as.Weeks, in.as.Location, in.today, in.now)
	fmt.Fprintf(&b, "rules %+v calibration %+v\n", p.Rules, p.Calibration)
	for _, a := range p.Activities {
		fmt.Fprintf(&b, "activity %s: unit %s granule %d sets %d baseline %d goal %d threshold %d step %d start%% %d schedule %+v\n",
			a.ID, a.Unit, a.Granule, a.Sets, a.Baseline, a.Goal, a.Threshold, a.Step, a.StartPercent, a.Schedule)
	}
	fmt.Fprintf(&b, "therapist baseline %v threshold %v goal %v schedule %v\n", in.as.Baseline, in.as.Threshold, in.as.Goal, in.as.Schedule)
	for _, c := range in.checkIns {
		if _, ok := in.offset(c.Date); !ok {
			continue
		}
		if c.Kind == SessionCheckIn || c.Kind == FlareCheckIn || c.Kind == SettledCheckIn || c.Kind == RedFlagCheckIn && len(c.Answers) > 0 {
			j, _ := json.Marshal(c)
			fmt.Fprintf(&b, "check-in %s\n", j)
		}
	}
	for _, o := range in.overrides {
		j, _ := json.Marshal(o)
		fmt.Fprintf(&b, "override %s\n", j)
	}
	return b.String()
}

// Property 1: no scheduled session, and no week's dose, is above the ceiling
// of the threshold in force that day, nor above the goal in force; the weeks
// show the threshold, ceiling and goal in force at their review.
func TestProperty1NoDoseAboveCeilingOrGoal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		for i := range in.as.Program.Activities {
			a := &in.as.Program.Activities[i]
			thr, goal, known := limits(in, plan, i)
			for w, wk := range plan.Weeks {
				if 7*w >= known {
					break
				}
				aw := wk.Activities[i]
				if aw.Threshold != thr[7*w] || aw.Goal != goal[7*w] || aw.Ceiling != propCeiling(r, a.Granule, thr[7*w]) {
					t.Fatalf("%s week %d shows threshold %d, ceiling %d, goal %d; want %d, %d, %d\n%s", a.ID, w+1,
						aw.Threshold, aw.Ceiling, aw.Goal, thr[7*w], propCeiling(r, a.Granule, thr[7*w]), goal[7*w], describe(in))
				}
				if c := aw.Ceiling; aw.Dose > aw.Goal || c > 0 && aw.Dose > c {
					t.Fatalf("%s week %d: dose %d is above the goal %d or the ceiling %d\n%s", a.ID, w+1, aw.Dose, aw.Goal, c, describe(in))
				}
				for _, x := range aw.Sessions {
					if x.Extra {
						continue
					}
					off := int(x.Date - in.as.Start)
					if off >= known {
						break
					}
					if x.Dose > goal[off] {
						t.Fatalf("%s on %s: dose %d is above the goal %d\n%s", a.ID, x.Date, x.Dose, goal[off], describe(in))
					}
					if c := propCeiling(r, a.Granule, thr[off]); c > 0 && x.Dose > c {
						t.Fatalf("%s on %s: dose %d is above the ceiling %d of the threshold %d\n%s",
							a.ID, x.Date, x.Dose, c, thr[off], describe(in))
					}
				}
			}
		}
	})
}

// baseline is activity i's baseline: the therapist's or the program's, or,
// when the program calibrates and the therapist gave none, the mean of the
// amounts logged in calibration sessions, rounded down to the granule (the
// program's when none was logged).
func baseline(in propInput, plan *Plan, i int) int {
	a := &in.as.Program.Activities[i]
	base, given := in.as.Baseline[a.ID]
	if !given {
		base = a.Baseline
	}
	if in.as.Program.Calibration == nil || given {
		return base
	}
	sum, n := 0, 0
	for _, x := range plan.Weeks[0].Activities[i].Sessions {
		if x.Calibration && (x.Status == Done || x.Status == Partial) && x.Actual > 0 {
			sum, n = sum+x.Actual, n+1
		}
	}
	if n == 0 {
		return base
	}
	return max(sum/(n*a.Granule)*a.Granule, a.Granule)
}

// Property 2: between consecutive scheduled sessions of an activity the dose
// rises by at most one step plus one granule, unless a flare's end, a
// therapist's override or the start after calibration came between them. And
// over the whole plan, unless a therapist set the dose, no session after
// calibration is above the start dose plus one step per weekly review since
// the start (plus one granule): a flare's end resumes a dose the plan already
// reached, never a higher one.
func TestProperty2IncreaseAtMostOneStep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		explains := func(c Code) bool { return c == FlareResume || c == Override || c == Start }
		for i := range in.as.Program.Activities {
			a := &in.as.Program.Activities[i]
			base := baseline(in, plan, i)
			step := a.StepFor(r, base)
			started := in.as.Start // the day the dose starts rising: the end of calibration, if any
			if c := in.as.Program.Calibration; c != nil {
				if _, given := in.as.Baseline[a.ID]; !given {
					started = in.as.Start.AddDays(min(c.Days, in.days()))
				}
			}
			setByTherapist := slices.ContainsFunc(in.overrides, func(o Overriding) bool {
				return o.Kind == DoseOverride && o.Activity == a.ID
			})
			var prev *Session
			for _, x := range activitySessions(plan, i) {
				if x.Extra {
					continue
				}
				reviews := 0
				for _, wk := range plan.Weeks {
					if wk.Start > started && wk.Start <= x.Date {
						reviews++
					}
				}
				if bound := a.StartDose(r, base) + reviews*step + a.Granule; !x.Calibration && !setByTherapist && x.Dose > bound {
					t.Fatalf("%s on %s: dose %d is above the start dose %d (baseline %d) plus %d steps of %d since %s\n%s",
						a.ID, x.Date, x.Dose, a.StartDose(r, base), base, reviews, step, started, describe(in))
				}
				if prev != nil && x.Dose-prev.Dose > step+a.Granule {
					explained := false
					for _, wk := range plan.Weeks {
						if wk.Start > prev.Date && wk.Start <= x.Date && explains(wk.Activities[i].Decision.Code) {
							explained = true
						}
						for _, ev := range wk.Events {
							if ev.Date > prev.Date && ev.Date <= x.Date && explains(ev.Code) && (ev.Activity == "" || ev.Activity == a.ID) {
								explained = true
							}
						}
					}
					if !explained {
						t.Fatalf("%s rose from %d on %s to %d on %s, more than the step %d + granule %d, with no flare end or override between\n%s",
							a.ID, prev.Dose, prev.Date, x.Dose, x.Date, step, a.Granule, describe(in))
					}
				}
				prev = &x
			}
		}
	})
}

// doseInForce is the dose of activity i on day d, before any flare declared
// that day: the dose of a session scheduled that day or, without one, the
// week's dose when nothing during the week up to d changed it.
func doseInForce(in propInput, plan *Plan, i int, d Date) (int, bool) {
	wk := plan.Weeks[int(d-in.as.Start)/7]
	aw := wk.Activities[i]
	for _, x := range aw.Sessions {
		if x.Date == d && !x.Extra {
			return x.Dose, true
		}
	}
	for _, ev := range wk.Events {
		if ev.Date <= d {
			return 0, false
		}
	}
	switch aw.Decision.Code {
	case FlareStepBack, FlarePersistent, CalibrationCode, PausedRedFlag:
		return 0, false
	}
	return aw.Dose, true
}

// Property 3: from the day after a flare is declared until it ends, every
// scheduled dose is at most FlareStepBackPercent of the dose in force on the
// flare's day (rounded down to the granule, at least one granule) and above
// zero. Flares declared while paused or while already in a flare are not
// checked. Plan.InFlare says whether now's day is in a flare.
func TestProperty3FlareStepBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		paused, _ := pauseReplay(in)
		inFlare := false
		for _, ep := range flareEpisodes(in) {
			if on := min(in.today, in.lastDay()); ep.start <= on && on <= ep.end {
				inFlare = true
			}
			if paused[int(ep.start-in.as.Start)] {
				continue
			}
			for i := range in.as.Program.Activities {
				a := &in.as.Program.Activities[i]
				ref, ok := doseInForce(in, plan, i, ep.start)
				if !ok {
					continue
				}
				bound := max(ref*r.FlareStepBackPercent/100/a.Granule*a.Granule, a.Granule)
				for _, x := range activitySessions(plan, i) {
					if x.Extra || x.Date <= ep.start || x.Date > ep.end {
						continue
					}
					if x.Dose > bound || x.Dose <= 0 {
						t.Fatalf("%s on %s: dose %d (calibration %v) during the flare declared on %s (ends %s); want 1..%d, %d%% of %d\n%s",
							a.ID, x.Date, x.Dose, x.Calibration, ep.start, ep.end, bound, r.FlareStepBackPercent, ref, describe(in))
					}
				}
			}
		}
		if plan.InFlare != inFlare {
			t.Fatalf("plan.InFlare = %v on %s, want %v\n%s", plan.InFlare, in.today, inFlare, describe(in))
		}
	})
}

// Property 4: after a week (entirely before now) whose adherence is below the
// gate, the next week does not progress and its dose is not above the last
// week's last scheduled dose, unless a flare's end, an override or the start
// after calibration raised it.
func TestProperty4NoProgressBelowAdherenceGate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		for w := 1; w < len(plan.Weeks); w++ {
			if in.as.Start.AddDays(7*w-1) >= in.today {
				break
			}
			for i := range in.as.Program.Activities {
				a := &in.as.Program.Activities[i]
				prev, cur := plan.Weeks[w-1].Activities[i], plan.Weeks[w].Activities[i]
				planned, done := 0, 0
				var last *Session
				for _, x := range prev.Sessions {
					if x.Extra {
						continue
					}
					last = &x
					if x.Status == Cancelled {
						continue
					}
					planned++
					if x.Status == Done || x.Status == Partial && x.Actual*100 >= x.Dose*r.PartialDonePercent {
						done++
					}
				}
				if planned == 0 || done*100 >= planned*r.AdherenceGatePercent {
					continue
				}
				if cur.Decision.Code == Progress {
					t.Fatalf("%s week %d progresses (%+v) after %d of %d sessions done, below the %d%% gate\n%s",
						a.ID, w+1, cur.Decision, done, planned, r.AdherenceGatePercent, describe(in))
				}
				raised := last.Calibration // the start after calibration, said by the review unless paused
				switch cur.Decision.Code {
				case FlareResume, Override, Start:
					raised = true
				}
				for _, wk := range plan.Weeks[w-1 : w+1] {
					for _, ev := range wk.Events {
						if ev.Date > last.Date && ev.Date <= plan.Weeks[w].Start &&
							(ev.Code == FlareResume || ev.Code == Override || ev.Code == Start) {
							raised = true
						}
					}
				}
				for _, ep := range flareEpisodes(in) { // a flare that ends while paused has no event
					if end := ep.end.AddDays(1); end > last.Date && end <= plan.Weeks[w].Start {
						raised = true
					}
				}
				if !raised && cur.Dose > last.Dose {
					t.Fatalf("%s week %d dose %d (%s) is above week %d's last dose %d after %d of %d sessions done\n%s",
						a.ID, w+1, cur.Dose, cur.Decision.Code, w, last.Dose, done, planned, describe(in))
				}
			}
		}
	})
}

// Property 5: after a red flag, nothing is scheduled until a therapist
// resumes: on the flag's day only sessions checked in that day are done,
// partial or skipped and the rest are cancelled; on later days no session is
// scheduled. Nor is one on a day a therapist's pause covers. Plan.Paused says
// whether the assignment is paused on now's day.
func TestProperty5RedFlagPauses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		paused, dayEnd := pauseReplay(in)
		for i := range in.as.Program.Activities {
			for _, x := range activitySessions(plan, i) {
				if off, ok := in.offset(x.Date); ok && paused[off] && !x.Extra {
					t.Fatalf("%s has a %s session on %s, while paused\n%s", in.as.Program.Activities[i].ID, x.Status, x.Date, describe(in))
				}
			}
		}
		for _, c := range in.checkIns {
			if _, ok := in.offset(c.Date); !ok || c.Kind != RedFlagCheckIn || len(c.Answers) == 0 {
				continue
			}
			until := in.lastDay().AddDays(1)
			for _, o := range in.overrides {
				if o.Kind == ResumeOverride && o.Date > c.Date {
					until = min(until, o.Date)
				}
			}
			for i := range in.as.Program.Activities {
				a := &in.as.Program.Activities[i]
				logged := 0
				for _, l := range in.checkIns {
					if l.Kind == SessionCheckIn && l.Activity == a.ID && l.Date == c.Date {
						logged++
					}
				}
				kept := 0
				for _, x := range activitySessions(plan, i) {
					if x.Extra || x.Date < c.Date || x.Date >= until {
						continue
					}
					switch {
					case x.Date > c.Date:
						t.Fatalf("%s has a %s session on %s after the red flag of %s, with no resume before it\n%s",
							a.ID, x.Status, x.Date, c.Date, describe(in))
					case x.Status == Done || x.Status == Partial || x.Status == Skipped:
						kept++
					case x.Status != Cancelled:
						t.Fatalf("%s session on the red flag's day %s is %s, want cancelled or checked in\n%s",
							a.ID, x.Date, x.Status, describe(in))
					}
				}
				if kept > logged {
					t.Fatalf("%s: %d sessions on the red flag's day %s are done, partial or skipped but only %d were checked in\n%s",
						a.ID, kept, c.Date, logged, describe(in))
				}
			}
		}
		want := false
		if in.today >= in.as.Start {
			want = dayEnd[int(min(in.today, in.lastDay())-in.as.Start)]
		}
		if plan.Paused != want {
			t.Fatalf("plan.Paused = %v on %s, want %v\n%s", plan.Paused, in.today, want, describe(in))
		}
	})
}

// Property 6: the same inputs give the same plan byte for byte, whatever the
// order of the check-ins and the overrides, and Compute leaves its inputs alone.
func TestProperty6Deterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		cs, ovs := slices.Clone(in.checkIns), slices.Clone(in.overrides)
		first, err := json.Marshal(propCompute(t, in))
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, _ := json.Marshal(propCompute(t, in))
		if !bytes.Equal(first, again) {
			t.Fatalf("two runs on the same inputs differ\n%s", describe(in))
		}
		if !reflect.DeepEqual(cs, in.checkIns) || !reflect.DeepEqual(ovs, in.overrides) {
			t.Fatalf("Compute changed its inputs")
		}
		shuffled := in
		shuffled.checkIns = rapid.Permutation(in.checkIns).Draw(t, "check_ins_shuffled")
		shuffled.overrides = rapid.Permutation(in.overrides).Draw(t, "overrides_shuffled")
		other, _ := json.Marshal(propCompute(t, shuffled))
		if !bytes.Equal(first, other) {
			t.Fatalf("shuffling the check-ins and overrides changes the plan: %s\n%s", firstDiff(first, other), describe(in))
		}
	})
}

// firstDiff shows where two JSON documents first differ.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-200, 0)
	return fmt.Sprintf("at byte %d:\n  %s\n  %s", i, a[from:min(i+80, len(a))], b[from:min(i+80, len(b))])
}

// Compute neither panics nor fails on valid input, and its plan is well
// formed: every session lies in its week, its Start instant falls on its
// local date at its local time (a DST gap may move the clock forward, never
// the date), and every scheduled dose is a whole number of granules, at least
// one.
func TestPropertyTotalAndWellFormed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		for w, wk := range plan.Weeks {
			if wk.Start != in.as.Start.AddDays(7*w) {
				t.Fatalf("week %d starts %s, want %s", w+1, wk.Start, in.as.Start.AddDays(7*w))
			}
			for i, aw := range wk.Activities {
				a := &in.as.Program.Activities[i]
				for _, x := range aw.Sessions {
					if x.Date < wk.Start || x.Date >= wk.Start.AddDays(7) {
						t.Fatalf("%s session on %s is listed in week %d (%s)", a.ID, x.Date, w+1, wk.Start)
					}
					at := x.At(in.as.Location).In(in.as.Location)
					if got := DateOf(at); got != x.Date {
						t.Fatalf("%s session on %s at %s starts at %s, which is %s in %s\n%s",
							a.ID, x.Date, x.Time, at, got, in.as.Location, describe(in))
					}
					if clock := Clock(at.Hour()*60 + at.Minute()); clock != x.Time {
						wall := x.Date.time().Add(time.Duration(x.Time) * time.Minute) // x.Time on x.Date, as if in UTC
						naive := time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, in.as.Location)
						if naive.Hour() == wall.Hour() && naive.Minute() == wall.Minute() || clock < x.Time || clock > x.Time+120 {
							t.Fatalf("%s session on %s at %s starts at %s: the clock moved, and not forward over a DST gap\n%s",
								a.ID, x.Date, x.Time, at, describe(in))
						}
					}
					if !x.Extra && (x.Dose < a.Granule || x.Dose%a.Granule != 0) {
						t.Fatalf("%s session on %s has dose %d, not a whole number of granules of %d\n%s",
							a.ID, x.Date, x.Dose, a.Granule, describe(in))
					}
				}
			}
		}
	})
}
