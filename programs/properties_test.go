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
// engine must always satisfy", all eight) over random programs, assignments,
// check-in histories and therapist overrides. Each property re-derives what it
// needs (flare episodes and their re-entries, pauses, adherence, the windows a
// threshold may not be learned from) from the inputs and the plan's session
// records rather than from the engine's own bookkeeping. Run more cases with
// go test ./programs -run Property -rapid.checks=5000.

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
	for _, r := range RedFlags {
		if chance(t, 15, "known_red_flag") {
			as.KnownRedFlags = append(as.KnownRedFlags, KnownRedFlag{ID: r.ID,
				Since: as.Start.AddDays(rapid.IntRange(-7, 7*as.Weeks).Draw(t, "known_since"))})
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
		if chance(t, 10, "still_in_flare") {
			cs = append(cs, CheckIn{Date: d, Kind: StillInFlareCheckIn, Yes: ptr(rapid.Bool().Draw(t, "still"))})
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
				for _, a := range c.Answers {
					if chance(t, 30, "worse") {
						c.Worse = append(c.Worse, a)
					}
				}
			}
			cs = append(cs, c)
		}
	}
	return cs
}

var overrideKinds = []OverrideKind{PauseOverride, ResumeOverride, DoseOverride, ThresholdOverride, GoalOverride}

// genOverrides draws therapist overrides dated from three days before the
// start to the plan's end, sometimes two of a kind on one day, often on a
// review day.
func genOverrides(t *rapid.T, in propInput) []Overriding {
	p := in.as.Program
	var ovs []Overriding
	for range rapid.IntRange(0, 5).Draw(t, "overrides") {
		var o Overriding
		if len(ovs) > 0 && chance(t, 30, "same_again") {
			o = ovs[len(ovs)-1]
		} else {
			off := rapid.IntRange(-3, in.days()).Draw(t, "override_day")
			if chance(t, 30, "on_a_review_day") {
				off = off / 7 * 7
			}
			o.Date = in.as.Start.AddDays(off)
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
// applies on the days after start up to and including end, then re-entry up
// to and including reentry (the end of the week of the day after end).
type flareEpisode struct {
	start, end, reentry Date
}

// flareEpisodes re-derives the flares from the check-ins: a flare ends on the
// day the patient reports settled (or answers no to "still in a flare-up?"),
// or FlareDays after the last day a flare was reported (or a yes answered).
// A day's flare report comes before its answer, and that before settled.
func flareEpisodes(in propInput) []flareEpisode {
	flare, settled := map[Date]bool{}, map[Date]bool{}
	for _, c := range in.checkIns {
		switch {
		case c.Kind == FlareCheckIn, c.Kind == StillInFlareCheckIn && *c.Yes:
			flare[c.Date] = true
		case c.Kind == SettledCheckIn, c.Kind == StillInFlareCheckIn:
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
	weekEnd := func(d Date) Date { return in.as.Start.AddDays(int(d-in.as.Start)/7*7 + 6) }
	for d := in.as.Start; d <= in.lastDay(); d++ {
		if inFlare && d > end() {
			cur.end, inFlare = end(), false
			cur.reentry = weekEnd(d)
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
		cur.reentry = cur.end
		eps = append(eps, cur)
	}
	// A new flare ends the re-entry of the one before (its first day was one).
	for i := 1; i < len(eps); i++ {
		eps[i-1].reentry = min(eps[i-1].reentry, eps[i].start)
	}
	return eps
}

// pausing reports whether a red-flag screen pauses: some yes is not covered
// by a known item, or is said to be worse.
func pausing(in propInput, c CheckIn) bool {
	for _, a := range c.Answers {
		known := false
		for _, k := range in.as.KnownRedFlags {
			if k.ID == a && c.Date > k.Since && !slices.Contains(c.Worse, a) {
				known = true
			}
		}
		if !known {
			return true
		}
	}
	return false
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
		if off, ok := in.offset(c.Date); ok && c.Kind == RedFlagCheckIn && pausing(in, c) {
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
// never below one granule; tiny is true when that is less than one granule.
func propCeiling(r Rules, granule, threshold int) (ceiling int, tiny bool) {
	if threshold <= 0 {
		return 0, false
	}
	c := threshold * (100 - r.CeilingMarginPercent) / 100 / granule * granule
	if c >= threshold {
		c -= granule
	}
	return max(c, granule), c < granule
}

// limits re-derives an activity's threshold and goal in force on each day,
// when its sessions are scheduled: the therapist's values, changed by
// overrides from their day on and by the thresholds the plan's
// THRESHOLD_LEARNED events report (Property 8 checks where they come from)
// from the next day on. Overrides of one kind for one activity on one day
// with different values leave the value in force unspecified: the days from
// then on are not derived (known is the number of days that are).
//
// thresholdAfter is the threshold in force at the end of each day (after a
// threshold learned that day): a week shows it for its review day, as a
// flare declared on a review day is that week's decision.
func limits(in propInput, plan *Plan, i int) (threshold, thresholdAfter, goal []int, known int) {
	a := &in.as.Program.Activities[i]
	n := in.days()
	thr, gl := pick(in.as.Threshold, a.ID, a.Threshold), pick(in.as.Goal, a.ID, a.Goal)
	learned := map[Date]int{}
	for _, wk := range plan.Weeks {
		for _, ev := range wk.Events {
			if ev.Code == ThresholdLearned && ev.Activity == a.ID {
				learned[ev.Date] = ev.Facts.Threshold
			}
		}
	}
	threshold, thresholdAfter, goal = make([]int, n), make([]int, n), make([]int, n)
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
			return threshold, thresholdAfter, goal, off
		}
		threshold[off], goal[off] = thr, gl
		if v, ok := learned[d]; ok {
			thr = v
		}
		thresholdAfter[off] = thr
	}
	return threshold, thresholdAfter, goal, n
}

func describe(in propInput) string {
	var b strings.Builder
	p := in.as.Program
	fmt.Fprintf(&b, "start %s, %d weeks, zone %s, now %s (%s)\n", in.as.Start, in.as.Weeks, in.as.Location, in.today, in.now)
	fmt.Fprintf(&b, "rules %+v calibration %+v\n", p.Rules, p.Calibration)
	for _, a := range p.Activities {
		fmt.Fprintf(&b, "activity %s: kind %s unit %s granule %d sets %d baseline %d goal %d threshold %d step %d start%% %d schedule %+v\n",
			a.ID, a.Kind, a.Unit, a.Granule, a.Sets, a.Baseline, a.Goal, a.Threshold, a.Step, a.StartPercent, a.Schedule)
	}
	fmt.Fprintf(&b, "therapist baseline %v threshold %v goal %v schedule %v known red flags %v\n",
		in.as.Baseline, in.as.Threshold, in.as.Goal, in.as.Schedule, in.as.KnownRedFlags)
	for _, c := range in.checkIns {
		if _, ok := in.offset(c.Date); !ok {
			continue
		}
		switch c.Kind {
		case SessionCheckIn, FlareCheckIn, SettledCheckIn, StillInFlareCheckIn:
		case RedFlagCheckIn:
			if len(c.Answers) == 0 {
				continue
			}
		default:
			continue
		}
		j, _ := json.Marshal(c)
		fmt.Fprintf(&b, "check-in %s\n", j)
	}
	for _, o := range in.overrides {
		j, _ := json.Marshal(o)
		fmt.Fprintf(&b, "override %s\n", j)
	}
	return b.String()
}

// slots re-derives the planned slots of activity i on day off (its times,
// or the first one on a calibration day), in time order.
func slots(in propInput, i, off int) []Clock {
	a := &in.as.Program.Activities[i]
	s := in.schedule(a)
	if c := in.as.Program.Calibration; c != nil && off < c.Days {
		if _, given := in.as.Baseline[a.ID]; !given {
			return s.Times[:1]
		}
	}
	if s.PerWeek > 0 {
		for k := range s.PerWeek {
			if k*7/s.PerWeek == off%7 {
				return s.Times
			}
		}
		return nil
	}
	if slices.Contains(s.Days, in.as.Start.AddDays(off).Weekday()) {
		return s.Times
	}
	return nil
}

// Property 1: no scheduled session, and no week's dose, is above the ceiling
// of the threshold in force that day, nor above the goal in force; the weeks
// show the threshold, ceiling and goal in force at their review. The one
// exception, a tiny threshold: one granule, on every other planned session
// (no two planned slots in a row are both scheduled while it is in force).
func TestProperty1NoDoseAboveCeilingOrGoal(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		paused, _ := pauseReplay(in)
		for i := range in.as.Program.Activities {
			a := &in.as.Program.Activities[i]
			thr, after, goal, known := limits(in, plan, i)
			for w, wk := range plan.Weeks {
				if 7*w >= known {
					break
				}
				aw := wk.Activities[i]
				c, tiny := propCeiling(r, a.Granule, after[7*w])
				if aw.Threshold != after[7*w] || aw.Goal != goal[7*w] || aw.Ceiling != c || aw.EveryOther != tiny {
					t.Fatalf("%s week %d shows threshold %d, ceiling %d, goal %d, every other %v; want %d, %d, %d, %v\n%s", a.ID, w+1,
						aw.Threshold, aw.Ceiling, aw.Goal, aw.EveryOther, after[7*w], c, goal[7*w], tiny, describe(in))
				}
				if aw.Dose > aw.Goal || c > 0 && aw.Dose > c {
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
					if c, tiny := propCeiling(r, a.Granule, thr[off]); c > 0 && x.Dose > c || tiny && x.Dose != a.Granule {
						t.Fatalf("%s on %s: dose %d is above the ceiling %d of the threshold %d (tiny %v)\n%s",
							a.ID, x.Date, x.Dose, c, thr[off], tiny, describe(in))
					}
				}
			}
			// Every other planned slot under a tiny threshold.
			scheduled := map[[2]int]bool{}
			for _, x := range activitySessions(plan, i) {
				if !x.Extra {
					scheduled[[2]int{int(x.Date - in.as.Start), int(x.Time)}] = true
				}
			}
			prev := false
			for off := range known {
				if _, tiny := propCeiling(r, a.Granule, thr[off]); !tiny || paused[off] {
					prev = false
					continue
				}
				for _, tm := range slots(in, i, off) {
					on := scheduled[[2]int{off, int(tm)}]
					if on && prev {
						t.Fatalf("%s: two planned sessions in a row under the tiny threshold %d, the second on %s at %s\n%s",
							a.ID, thr[off], in.as.Start.AddDays(off), tm, describe(in))
					}
					prev = on
				}
			}
		}
	})
}

// baseline is activity i's baseline: the therapist's or the program's, or,
// when the program calibrates and the therapist gave none, the lower median
// of the amounts logged in calibration sessions, rounded down to the granule
// (the program's when none was logged).
func baseline(in propInput, plan *Plan, i int) int {
	a := &in.as.Program.Activities[i]
	base, given := in.as.Baseline[a.ID]
	if !given {
		base = a.Baseline
	}
	if in.as.Program.Calibration == nil || given {
		return base
	}
	var logged []int
	for _, x := range plan.Weeks[0].Activities[i].Sessions {
		if x.Calibration && (x.Status == Done || x.Status == Partial) && x.Actual > 0 {
			logged = append(logged, x.Actual)
		}
	}
	if len(logged) == 0 {
		return base
	}
	slices.Sort(logged)
	return max(logged[(len(logged)-1)/2]/a.Granule*a.Granule, a.Granule)
}

// raises reports whether a code may raise a dose by more than a step: the
// start after calibration, a flare's re-entry and resume, a therapist's
// change or restart.
func raises(c Code) bool {
	return c == FlareResume || c == FlareReentry || c == Override || c == Start || c == Resumed
}

// Property 2: the week-over-week increase of an activity is at most one
// granule above the carried step: between consecutive scheduled sessions the
// dose rises by less than the step (StepHundredths / 100) per weekly review
// between them plus one granule, unless a flare's end, a therapist's change
// or the start after calibration came between them. And over the whole
// plan, unless a therapist set the dose, no session after calibration is
// above the start dose plus the exact step times the weekly reviews since the
// start: the fraction of a step is carried, never rounded up, and a flare's
// end resumes a dose the plan already reached.
func TestProperty2IncreaseAtMostOneStep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		for i := range in.as.Program.Activities {
			a := &in.as.Program.Activities[i]
			base := baseline(in, plan, i)
			stepH := a.StepHundredths(r, base)
			started := in.as.Start // the day the dose starts rising: the end of calibration, if any
			if c := in.as.Program.Calibration; c != nil {
				if _, given := in.as.Baseline[a.ID]; !given {
					started = in.as.Start.AddDays(min(c.Days, in.days()))
				}
			}
			setByTherapist := slices.ContainsFunc(in.overrides, func(o Overriding) bool {
				return o.Kind == DoseOverride && o.Activity == a.ID
			})
			reviewsBetween := func(from, to Date) int {
				n := 0
				for _, wk := range plan.Weeks {
					if wk.Start > from && wk.Start <= to {
						n++
					}
				}
				return n
			}
			var prev *Session
			for _, x := range activitySessions(plan, i) {
				if x.Extra || x.Status == Cancelled { // a red flag cancels what its day's review planned
					continue
				}
				reviews := reviewsBetween(started, x.Date)
				if bound := a.StartDose(r, base) + reviews*stepH/100; !x.Calibration && !setByTherapist && x.Date >= started && x.Dose > bound {
					t.Fatalf("%s on %s: dose %d is above the start dose %d (baseline %d) plus %d steps of %d/100 since %s\n%s",
						a.ID, x.Date, x.Dose, a.StartDose(r, base), base, reviews, stepH, started, describe(in))
				}
				if prev != nil && (x.Dose-prev.Dose)*100 >= reviewsBetween(prev.Date, x.Date)*stepH+100*a.Granule {
					explained := false
					for _, wk := range plan.Weeks {
						if wk.Start > prev.Date && wk.Start <= x.Date && raises(wk.Activities[i].Decision.Code) {
							explained = true
						}
						for _, ev := range wk.Events {
							if ev.Date > prev.Date && ev.Date <= x.Date && raises(ev.Code) && (ev.Activity == "" || ev.Activity == a.ID) {
								explained = true
							}
						}
					}
					for _, ep := range flareEpisodes(in) { // a re-entry on a review day is its decision, which a new flare may replace
						for _, end := range []Date{ep.end.AddDays(1), ep.reentry.AddDays(1)} {
							if end > prev.Date && end <= x.Date {
								explained = true
							}
						}
					}
					if !explained {
						t.Fatalf("%s rose from %d on %s to %d on %s, a granule (%d) or more above the carried step %d/100, with no flare end or override between\n%s",
							a.ID, prev.Dose, prev.Date, x.Dose, x.Date, a.Granule, stepH, describe(in))
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
	case FlareStepBack, FlarePersistent, FlareReentry, CalibrationCode, PausedRedFlag, Paused, Override, Resumed:
		return 0, false
	}
	return aw.Dose, true
}

// Property 3: from the day after a flare is declared until it ends, every
// scheduled dose is at most FlareStepBackPercent of the dose in force on the
// flare's day (rounded down to the granule, at least one granule) and above
// zero; relaxation activities are exempt and keep their dose. Flares
// declared while paused or while already in a flare are not checked.
// Plan.InFlare says whether now's day is in a flare.
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
					if a.Kind == Relaxation { // exempt: the flare is not what sets its dose
						wk := plan.Weeks[int(x.Date-in.as.Start)/7]
						if x.Cause > 0 && wk.Events[x.Cause-1].Code == FlareStepBack || x.Dose <= 0 {
							t.Fatalf("%s (relaxation) on %s: dose %d set by the flare declared on %s\n%s",
								a.ID, x.Date, x.Dose, ep.start, describe(in))
						}
						if d := wk.Activities[i].Decision; d.Code == FlareStepBack && !d.Facts.Exempt {
							t.Fatalf("%s (relaxation) week %d: %+v, not exempt\n%s", a.ID, wk.Week, d, describe(in))
						}
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

// adherence re-derives a week's adherence from its sessions as progression.md
// counts it: the scheduled sessions that were not cancelled, and of them the
// done ones (a partial from PartialDonePercent of its dose; one still open to
// logging, or in the projection, counts as done), plus extra sessions done on
// other days, up to the number planned. last is the week's last scheduled
// session.
func adherence(r Rules, aw ActivityWeek) (done, planned int, last *Session) {
	extra := 0
	for _, x := range aw.Sessions {
		counts := x.Status == Done || x.Status == Planned ||
			x.Status == Partial && x.Actual*100 >= x.Dose*r.PartialDonePercent
		switch {
		case x.Extra:
			if counts {
				extra++
			}
		default:
			last = &x
			if x.Status == Cancelled {
				continue
			}
			planned++
			if counts {
				done++
			}
		}
	}
	return min(planned, done+extra), planned, last
}

// Property 4: after a week whose adherence is below the gate, the next week
// does not progress (not even by a carried fraction) and its dose is not
// above the last week's last scheduled dose, unless a flare's end, an
// override or the start after calibration raised it.
func TestProperty4NoProgressBelowAdherenceGate(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		for w := 1; w < len(plan.Weeks); w++ {
			for i := range in.as.Program.Activities {
				a := &in.as.Program.Activities[i]
				prev, cur := plan.Weeks[w-1].Activities[i], plan.Weeks[w].Activities[i]
				done, planned, last := adherence(r, prev)
				if done != prev.Done || planned != prev.Planned {
					t.Fatalf("%s week %d shows %d of %d done, want %d of %d\n%s", a.ID, w, prev.Done, prev.Planned, done, planned, describe(in))
				}
				if planned == 0 || done*100 >= planned*r.AdherenceGatePercent {
					continue
				}
				if cur.Decision.Code == Progress {
					t.Fatalf("%s week %d progresses (%+v) after %d of %d sessions done, below the %d%% gate\n%s",
						a.ID, w+1, cur.Decision, done, planned, r.AdherenceGatePercent, describe(in))
				}
				raised := last.Calibration || raises(cur.Decision.Code)
				for _, wk := range plan.Weeks[w-1 : w+1] {
					for _, ev := range wk.Events {
						if ev.Date > last.Date && ev.Date <= plan.Weeks[w].Start && raises(ev.Code) {
							raised = true
						}
					}
				}
				for _, ep := range flareEpisodes(in) { // a flare or a re-entry that ends while paused has no event
					for _, end := range []Date{ep.end.AddDays(1), ep.reentry.AddDays(1)} {
						if end > last.Date && end <= plan.Weeks[w].Start {
							raised = true
						}
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

// Property 5: after a red flag (a yes the therapist has not marked known, or
// one said to be worse), nothing is scheduled until a therapist resumes: on
// the flag's day only sessions checked in that day are done, partial or
// skipped and the rest are cancelled; on later days no session is scheduled.
// Nor is one on a day a therapist's pause covers. Plan.Paused says whether
// the assignment is paused on now's day, and Plan.Urgency the most urgent of
// the answers that paused it.
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
			if _, ok := in.offset(c.Date); !ok || c.Kind != RedFlagCheckIn || !pausing(in, c) {
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
		if plan.Pause == PausedByRedFlag {
			if plan.Urgency == "" || MostUrgent(plan.Answers).rank() < plan.Urgency.rank() {
				t.Fatalf("plan.Urgency = %q for the answers %v\n%s", plan.Urgency, plan.Answers, describe(in))
			}
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

// Property 7: with every session done, no flare and no threshold, every
// activity whose goal is above its start reaches its goal in finite weeks:
// every review until the goal rises, or carries a fraction of a step, and
// none holds. So the goal is reached at the latest after one rise of a
// granule per ⌈granule / step⌉ weeks, from the start (after calibration).
// And over random histories, a fully completed week is never followed by a
// HOLD_LOAD.
func TestProperty7NoCapDeadlock(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		locs, _ := propZones()
		p := genProgram(t)
		for i := range p.Activities {
			p.Activities[i].Threshold = 0
		}
		as := Assignment{Program: p, Start: MakeDate(2026, time.January, 5).AddDays(rapid.IntRange(0, 400).Draw(t, "start")),
			Location: rapid.SampledFrom(locs).Draw(t, "zone"), Weeks: MaxWeeks}
		plan, err := Compute(as, nil, nil, as.Start.In(as.Location, 0))
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		r := p.Rules
		for i := range p.Activities {
			a := &p.Activities[i]
			start := a.StartDose(r, a.Baseline)
			if a.Goal <= start {
				continue
			}
			first := 0 // the first week that may rise
			if p.Calibration != nil {
				first = 1
			}
			g, stepH := a.Granule, a.StepHundredths(r, a.Baseline)
			bound := first + 1 + (a.Goal-start+g-1)/g*((100*g+stepH-1)/stepH)
			reached := -1
			for w, wk := range plan.Weeks {
				aw := wk.Activities[i]
				switch aw.Decision.Code {
				case Start, CalibrationCode, Progress, GoalReached:
				default:
					t.Fatalf("%s week %d: %+v with every session done and no threshold\n%s", a.ID, w+1, aw.Decision, describeProgram(p))
				}
				if aw.Dose == a.Goal && reached < 0 {
					reached = w
				}
			}
			if bound < len(plan.Weeks) && (reached < 0 || reached > bound) {
				t.Fatalf("%s reaches its goal %d from %d in week %d, later than week %d\n%s", a.ID, a.Goal, start, reached+1, bound+1, describeProgram(p))
			}
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		for w := 1; w < len(plan.Weeks); w++ {
			for i := range in.as.Program.Activities {
				done, planned, _ := adherence(in.as.Program.Rules, plan.Weeks[w-1].Activities[i])
				if d := plan.Weeks[w].Activities[i].Decision; planned > 0 && done == planned && d.Code == HoldLoad {
					t.Fatalf("%s week %d: HOLD_LOAD after a fully completed week\n%s", in.as.Program.Activities[i].ID, w+1, describe(in))
				}
			}
		}
	})
}

// refDose is the dose a flare declared on d learns from at or above: the
// dose in force that day. Not known in calibration.
func refDose(in propInput, plan *Plan, i int, d Date) (int, bool) {
	if off, _ := in.offset(d); in.as.Program.Calibration != nil && off <= in.as.Program.Calibration.Days {
		return 0, false
	}
	return doseInForce(in, plan, i, d)
}

func describeProgram(p *Program) string {
	return describe(propInput{as: Assignment{Program: p, Location: time.UTC}})
}

// Property 8: a learned threshold never comes from a step-back, re-entry or
// post-flare session, nor for a relaxation activity: each THRESHOLD_LEARNED
// event is the most logged on a day of the 48 hours before a flare's start
// that was none of those, at or above the dose in force, below the threshold
// it replaces; a flare that has such a day learns; and every learned
// threshold a week shows comes from such an event.
func TestProperty8LearnOnlyFromFullDoses(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		plan := propCompute(t, in)
		r := in.as.Program.Rules
		eps := flareEpisodes(in)
		noLearn := make([]bool, in.days())
		starts := map[Date]bool{}
		for _, ep := range eps {
			starts[ep.start] = true
			for d := ep.start.AddDays(1); d <= ep.end.AddDays(r.LearnAfterFlareDays) || d <= ep.reentry; d++ {
				if off, ok := in.offset(d); ok && (d <= ep.end || ep.end < in.lastDay()) {
					noLearn[off] = true
				}
			}
		}
		for i := range in.as.Program.Activities {
			a := &in.as.Program.Activities[i]
			logged := make([]int, in.days())
			for _, x := range activitySessions(plan, i) {
				if off, ok := in.offset(x.Date); ok && (x.Status == Done || x.Status == Partial) {
					logged[off] = max(logged[off], x.Actual)
				}
			}
			learned := map[Date]int{}
			for _, wk := range plan.Weeks {
				for _, ev := range wk.Events {
					if ev.Code != ThresholdLearned || ev.Activity != a.ID {
						continue
					}
					learned[ev.Date] = ev.Facts.Threshold
					off, _ := in.offset(ev.Date)
					ok := a.Kind != Relaxation && starts[ev.Date]
					found := false
					for d := max(off-2, 0); d <= off; d++ {
						if !noLearn[d] && logged[d] == ev.Facts.Threshold {
							found = true
						}
					}
					if ref, known := refDose(in, plan, i, ev.Date); known && ev.Facts.Threshold < ref {
						ok = false
					}
					if !ok || !found {
						t.Fatalf("%s learned %d on %s, not from a full-dose session of the 48 hours before a flare (logged %v, no-learn %v)\n%s",
							a.ID, ev.Facts.Threshold, ev.Date, logged[max(off-2, 0):off+1], noLearn[max(off-2, 0):off+1], describe(in))
					}
				}
			}
			thr, _, _, known := limits(in, plan, i)
			for _, ep := range eps {
				off, _ := in.offset(ep.start)
				ref, ok := refDose(in, plan, i, ep.start)
				if !ok || a.Kind == Relaxation || off >= known {
					continue
				}
				most := 0
				for d := max(off-2, 0); d <= off; d++ {
					if !noLearn[d] && logged[d] >= ref {
						most = max(most, logged[d])
					}
				}
				if _, did := learned[ep.start]; most > 0 && (thr[off] == 0 || most < thr[off]) && !did {
					t.Fatalf("%s: the flare of %s learns nothing, though %d was done at or above the dose in force %d\n%s",
						a.ID, ep.start, most, ref, describe(in))
				}
			}
			for w, wk := range plan.Weeks {
				aw := wk.Activities[i]
				if !aw.Learned {
					continue
				}
				from := false
				for d, v := range learned {
					if d <= wk.Start && v == aw.Threshold {
						from = true
					}
				}
				if !from {
					t.Fatalf("%s week %d shows a learned threshold %d that no THRESHOLD_LEARNED event gave\n%s", a.ID, w+1, aw.Threshold, describe(in))
				}
			}
		}
	})
}

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
