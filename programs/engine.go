package programs

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Assignment is a program given to one patient, with the therapist's
// per-patient parameters. Maps are keyed by activity id; a missing key means
// the program's value.
type Assignment struct {
	Program   *Program
	Start     Date
	Location  *time.Location
	Weeks     int
	Baseline  map[string]int
	Threshold map[string]int
	Goal      map[string]int
	Schedule  map[string]Schedule
	// KnownRedFlags are the red-flag items the therapist has marked known
	// and reviewed for the patient (see KnownRedFlag): a yes to one of them
	// pauses only when the patient says it is worse.
	KnownRedFlags []KnownRedFlag
}

// MaxWeeks bounds a plan's length (two years).
const MaxWeeks = 104

// Validate checks the assignment's parameters against its program.
func (as *Assignment) Validate() error {
	p := as.Program
	if p == nil {
		return errors.New("assignment has no program")
	}
	if as.Location == nil {
		return errors.New("assignment has no time zone")
	}
	if as.Weeks < 1 || as.Weeks > MaxWeeks {
		return fmt.Errorf("weeks must be between 1 and %d, not %d", MaxWeeks, as.Weeks)
	}
	var errs []error
	for _, m := range []struct {
		what string
		m    map[string]int
	}{{"baseline", as.Baseline}, {"threshold", as.Threshold}, {"goal", as.Goal}} {
		for _, id := range sortedKeys(m.m) {
			a, ok := p.Activity(id)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown activity %q (this program has %s)", m.what, id, strings.Join(p.ActivityIDs(), ", ")))
				continue
			}
			if err := checkDose(a, m.what, m.m[id]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, k := range as.KnownRedFlags {
		if !isRedFlag(k.ID) {
			errs = append(errs, fmt.Errorf("known red flag: unknown item %q (known: %s)", k.ID, redFlagIDs()))
		}
		if k.Until != 0 && k.Until < k.Since {
			errs = append(errs, fmt.Errorf("known red flag %s: un-marked on %s, before it was marked on %s", k.ID, k.Until, k.Since))
		}
	}
	for _, id := range sortedKeys(as.Schedule) {
		if _, ok := p.Activity(id); !ok {
			errs = append(errs, fmt.Errorf("schedule: unknown activity %q (this program has %s)", id, strings.Join(p.ActivityIDs(), ", ")))
			continue
		}
		s := as.Schedule[id]
		if (len(s.Days) == 0) == (s.PerWeek == 0) || len(s.Times) == 0 || s.PerWeek < 0 || s.PerWeek > 7 {
			errs = append(errs, fmt.Errorf("schedule for %s needs days (or per_week 1-7) and at least one time", id))
		}
	}
	if len(errs) == 0 {
		for i := range p.Activities {
			a := &p.Activities[i]
			base, goal := pick(as.Baseline, a.ID, a.Baseline), pick(as.Goal, a.ID, a.Goal)
			if start := a.StartDose(p.Rules, base); goal < start {
				errs = append(errs, fmt.Errorf("goal %d for %s is below its start dose %d (%d%% of the baseline %d); raise the goal or lower the baseline",
					goal, a.ID, start, a.startPercent(p.Rules), base))
			}
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func pick(m map[string]int, id string, def int) int {
	if v, ok := m[id]; ok {
		return v
	}
	return def
}

// Compute is the progression engine: a pure function from an assignment, the
// patient's check-ins, the therapist's overrides and the current instant to
// the plan. Days before now's local date are judged from the check-ins: a
// session with no check-in LateLogDays after its day counts as not done
// (missed); one more recent may still be logged, and counts as done until
// then, as every session does in the projection from now's day on, which
// also assumes no new flare comes.
// Check-ins and overrides may come in any order; the same inputs always give
// the same plan.
func Compute(as Assignment, checkIns []CheckIn, overrides []Overriding, now time.Time) (*Plan, error) {
	if err := as.Validate(); err != nil {
		return nil, err
	}
	for i := range checkIns {
		if err := checkIns[i].Validate(as.Program); err != nil {
			return nil, fmt.Errorf("check-in %d (%s %s): %w", i+1, checkIns[i].Date, checkIns[i].Kind, err)
		}
	}
	for i := range overrides {
		if err := overrides[i].Validate(as.Program); err != nil {
			return nil, fmt.Errorf("override %d (%s %s): %w", i+1, overrides[i].Date, overrides[i].Kind, err)
		}
	}
	e := newEngine(as, checkIns, overrides, DateOf(now.In(as.Location)))
	e.run()
	return e.plan, nil
}

type pause int

const (
	notPaused pause = iota
	pausedRedFlag
	pausedByTherapist
)

type engine struct {
	p     *Program
	r     Rules
	loc   *time.Location
	start Date
	now   Date
	final Date // a session before this day with no check-in is missed
	days  int
	plan  *Plan
	acts  []actState
	known []KnownRedFlag

	checkIns   []CheckIn    // the caller's, read only
	order      []int32      // indices into checkIns, in compareCheckIns order
	dayFrom    []int32      // order[dayFrom[d]:dayFrom[d+1]] are day d's check-ins
	overrides  []Overriding // sorted, within the plan
	painBefore []datedPain  // daily pain reported before the start date, in date order
	pain       []int8       // daily pain by day offset; -1: none
	sessPain   []int8       // the highest pain logged with a session that day; -1: none
	active     []bool       // some session done (or assumed done) that day
	noLearn    []bool       // a step-back, re-entry or post-flare day: no threshold is learned from it
	scratch    []int        // for medians

	paused      pause
	inFlare     bool
	flareStart  Date
	lastFlare   Date
	settledOn   Date // 0: not settled
	persistent  bool
	flareOver   Date   // the last step-back day of the last flare that ended
	reentryTo   Date   // the last day of the current re-entry; 0: none
	flareDays   []bool // by week: a step-back or re-entry applied on some day
	pausedWeeks []bool // by week: paused on some day
	pausedOn    Date   // the day the current pause began
	answers     []string
	known1      []string // of answers, those marked known
	urgency     Urgency
	resumes     []time.Time // when the day's resumes were recorded
	worse       int         // worseDays of the week before the one under review
}

// state records the plan's state on its Now.
func (e *engine) state() {
	p := e.plan
	p.Paused, p.InFlare, p.Persistent = e.paused != notPaused, e.inFlare, e.inFlare && e.persistent
	p.Pause, p.PausedOn, p.Answers, p.Urgency, p.FlareOn, p.FlareAsk = "", 0, nil, "", 0, 0
	switch e.paused {
	case pausedRedFlag:
		p.Pause, p.PausedOn, p.Answers, p.Urgency = PausedByRedFlag, e.pausedOn, e.answers, e.urgency
	case pausedByTherapist:
		p.Pause, p.PausedOn = PausedByTherapist, e.pausedOn
	}
	if e.inFlare {
		p.FlareOn = e.flareStart
		if e.settledOn == 0 {
			p.FlareAsk = e.flareEnd()
		}
	}
}

type datedPain struct{ off, pain int }

type actState struct {
	a                     *Activity
	idx                   int
	relax                 bool // relaxation: a flare neither steps it back nor teaches a threshold
	startedOn             Date // the day calibration ended and the program started
	startWhy              Facts
	base, goal, threshold int
	learned               bool // the threshold was learned from a flare
	tiny                  bool // the threshold leaves no granule below it
	tinySkip              bool // under a tiny threshold, the next planned session is skipped
	cause                 int  // Session.Cause of the sessions scheduled now
	stepH                 int  // the weekly step, in hundredths of the unit
	carry                 int  // what the steps so far left below a granule, in hundredths
	perWeek               int  // sessions a full week of the schedule holds
	sched                 Schedule
	calibrating           bool
	calEnd                int // day offset at which calibration ends
	quota                 int // the dose of the week, before any flare step-back or re-entry
	stepBack              int
	inForce               int // the dose in force when the current flare was declared
	reentry               int
	resume                int
	lastFull              int // quota of the last week with no flare and no pause
	// What the week's review changed, so that an event on the review day
	// can take its place (undo).
	reviewFrom, carryFrom int
	undone                bool
	atCeiling             int   // counted weeks in a row held at a learned ceiling
	ceilingTold           bool  // CEILING_READY was told for this threshold
	counted               []int // the counted weeks so far (progression.md, "Terms")
	doneMax               []int // by day offset: the longest session done, or assumed done, that day
	loggedMax             []int // by day offset: the longest session logged done or partial that day
	week                  []weekStats
	aw                    *ActivityWeek
}

type weekStats struct {
	planned, done, extraDone int // scheduled (not cancelled); of them done; extra sessions done
	assumed                  int // scheduled sessions counted as done without a check-in yet
	load                     int // the total done (or assumed done), dose × sets
	quota                    int // the week's dose at its end
}

// doneCount is the week's adherence as the gate counts it: sessions done on
// another day of the week count, up to the number planned.
func (st weekStats) doneCount() int { return min(st.planned, st.done+st.extraDone) }

func (st weekStats) full() bool { return st.planned > 0 && st.doneCount() == st.planned }

func newEngine(as Assignment, checkIns []CheckIn, overrides []Overriding, now Date) *engine {
	p := as.Program
	days := as.Weeks * 7
	e := &engine{
		p: p, r: p.Rules, loc: as.Location, start: as.Start, now: now, final: now.AddDays(-p.Rules.LateLogDays),
		days: days, known: as.KnownRedFlags,
		pain:      make([]int8, 2*days),
		active:    make([]bool, 2*days),
		flareDays: make([]bool, 2*as.Weeks),
	}
	e.sessPain, e.pain = e.pain[days:], e.pain[:days]
	e.noLearn, e.active = e.active[days:], e.active[:days]
	e.pausedWeeks, e.flareDays = e.flareDays[as.Weeks:], e.flareDays[:as.Weeks]
	for i := range e.pain {
		e.pain[i], e.sessPain[i] = -1, -1
	}
	e.checkIns = checkIns
	e.order = make([]int32, 0, len(checkIns))
	for i := range checkIns {
		c := &checkIns[i]
		switch off := int(c.Date - as.Start); {
		case off < 0:
			if c.Kind == DailyCheckIn && c.Pain != nil {
				e.painBefore = append(e.painBefore, datedPain{off, *c.Pain})
			}
		case off < days:
			e.order = append(e.order, int32(i))
		}
	}
	slices.SortFunc(e.order, func(a, b int32) int { return compareCheckIns(&checkIns[a], &checkIns[b]) })
	e.dayFrom = make([]int32, days+1)
	k := 0
	for d := range days + 1 {
		for k < len(e.order) && int(checkIns[e.order[k]].Date-as.Start) < d {
			k++
		}
		e.dayFrom[d] = int32(k)
	}
	for _, o := range overrides {
		if off := int(o.Date - as.Start); off >= 0 && off < days {
			e.overrides = append(e.overrides, o)
		}
	}
	// A day's overrides apply in the order they were recorded, so that the
	// therapist's last word stands (a pause after a resume, a corrected
	// dose); those recorded at no known instant, in a fixed order.
	slices.SortFunc(e.overrides, func(a, b Overriding) int {
		return cmp.Or(cmp.Compare(a.Date, b.Date), a.At.Compare(b.At), cmp.Compare(a.Kind.order(), b.Kind.order()),
			strings.Compare(a.Activity, b.Activity), cmp.Compare(a.Value, b.Value))
	})
	e.plan = &Plan{Program: p.ID, Start: as.Start, Timezone: as.Location.String(), Now: now,
		Weeks: make([]Week, as.Weeks)}
	e.acts = make([]actState, len(p.Activities))
	n := len(p.Activities)
	byDay := make([]int, 2*days*n)
	weekStat := make([]weekStats, as.Weeks*n)
	counted := make([]int, as.Weeks*n)
	for i := range p.Activities {
		a := &p.Activities[i]
		s := &e.acts[i]
		_, hasBase := as.Baseline[a.ID]
		*s = actState{
			a: a, idx: i, relax: a.Kind == Relaxation,
			base: pick(as.Baseline, a.ID, a.Baseline), goal: pick(as.Goal, a.ID, a.Goal),
			threshold: pick(as.Threshold, a.ID, a.Threshold), sched: a.Schedule,
			doneMax: byDay[2*i*days : (2*i+1)*days], loggedMax: byDay[(2*i+1)*days : (2*i+2)*days],
			week:    weekStat[i*as.Weeks : (i+1)*as.Weeks],
			counted: counted[i*as.Weeks : i*as.Weeks : (i+1)*as.Weeks],
		}
		if sc, ok := as.Schedule[a.ID]; ok {
			s.sched = sc
		}
		s.perWeek = len(s.sched.Times) * max(s.sched.PerWeek, len(s.sched.Days))
		if p.Calibration != nil && !hasBase {
			s.calibrating, s.calEnd = true, min(p.Calibration.Days, days)
		}
		s.tiny = a.Tiny(e.r, s.threshold)
		s.stepH = a.StepHundredths(e.r, s.base)
		s.quota = s.clamp(e.r, a.StartDose(e.r, s.base))
	}
	// The medians of ADJUST_TO_LOGGED look at AdjustWeeks weeks of one
	// activity's sessions, logged and planned: one buffer serves every review.
	most := 0
	for i := range e.acts {
		most = max(most, e.acts[i].perWeek)
	}
	e.scratch = make([]int, 0, 2*e.r.AdjustWeeks*(most+2)+8)
	aws := make([]ActivityWeek, as.Weeks*len(e.acts))
	backing := make([][]Session, len(e.acts))
	for i := range e.acts {
		backing[i] = make([]Session, as.Weeks*e.acts[i].perWeek)
	}
	for w := range e.plan.Weeks {
		wk := &e.plan.Weeks[w]
		wk.Week, wk.Start, wk.Projected = w+1, as.Start.AddDays(7*w), as.Start.AddDays(7*w) > now
		wk.Activities = aws[w*len(e.acts) : (w+1)*len(e.acts) : (w+1)*len(e.acts)]
		for i := range e.acts {
			// A full week of the schedule fits; an extra session or a
			// calibration week reallocates just that week's slice.
			n := e.acts[i].perWeek
			wk.Activities[i] = ActivityWeek{ID: e.acts[i].a.ID, Unit: e.acts[i].a.Unit, Sets: e.acts[i].a.Sets,
				Sessions: backing[i][w*n : w*n : (w+1)*n]}
		}
	}
	return e
}

func (s *actState) ceiling(r Rules) int { return s.a.Ceiling(r, s.threshold) }

// clamp applies the goal and the ceiling, never going below one granule; a
// tiny threshold allows one granule.
func (s *actState) clamp(r Rules, dose int) int {
	if s.tiny {
		return s.a.Granule
	}
	dose = min(dose, s.goal)
	if c := s.ceiling(r); c > 0 {
		dose = min(dose, c)
	}
	return max(dose, s.a.Granule)
}

// undo takes back what the week's review decided for s: an event on a review
// day is that week's decision, with no step on top of it. The dose it goes
// back to keeps to a threshold learned since.
func (s *actState) undo(r Rules) {
	if !s.undone {
		s.quota, s.carry, s.undone = s.clamp(r, s.reviewFrom), s.carryFrom, true
	}
}

func all(*actState) bool { return true }

func (e *engine) run() {
	for i := range e.acts {
		if s := &e.acts[i]; s.tiny {
			e.event(0, Event{Date: e.start, Code: ThresholdTiny, Activity: s.a.ID, Facts: e.tinyFacts(s)}, nil)
		}
	}
	first := make([]int, len(e.acts)) // index of today's first session per activity
	for off := range e.days {
		date := e.start.AddDays(off)
		w := off / 7
		// Calibration ends before a flare that ends the same day, so that
		// the re-entry and the resume follow the calibrated start.
		for i := range e.acts {
			if s := &e.acts[i]; s.calibrating && off == s.calEnd {
				e.endCalibration(off, date, s)
			}
		}
		if e.inFlare && date > e.flareEnd() {
			e.endFlare(off, date)
		}
		if e.reentryTo != 0 && date > e.reentryTo {
			e.reentryTo = 0
		}
		e.noLearn[off] = e.stepBackOn(date) || e.reentryTo != 0 ||
			(e.flareOver != 0 && int(date-e.flareOver) <= e.r.LearnAfterFlareDays)
		if e.inFlare && !e.persistent && int(date-e.flareStart) >= e.r.PersistentFlareDays {
			e.persistent = true
			e.event(off, Event{Date: date, Code: FlarePersistent, Facts: Facts{Days: e.r.PersistentFlareDays, Flare: e.flareStart}}, nil)
		}
		if off%7 == 0 {
			e.review(w, date)
		}
		if e.stepBackOn(date) || e.reentryTo != 0 {
			e.flareDays[w] = true
		}
		// The therapist's changes apply after the review: on a review day
		// they take its place.
		var late []Overriding // resumes recorded after the day's red flag
		e.resumes = e.resumes[:0]
		for len(e.overrides) > 0 && e.overrides[0].Date == date {
			o := e.overrides[0]
			e.overrides = e.overrides[1:]
			if o.Kind == ResumeOverride && !o.At.IsZero() {
				e.resumes = append(e.resumes, o.At)
			}
			if o.Kind == ResumeOverride && e.redFlagBefore(off, o.At) {
				late = append(late, o)
				continue
			}
			e.override(off, date, o)
		}
		for i := range e.acts {
			first[i] = len(e.acts[i].aw.Sessions)
			if e.paused == notPaused {
				e.schedule(off, date, &e.acts[i])
			}
		}
		for _, k := range e.order[e.dayFrom[off]:e.dayFrom[off+1]] {
			c := &e.checkIns[k]
			// A red flag recorded after a resume of its day pauses again:
			// the resume applies before it, not after the day's check-ins.
			for c.Kind == RedFlagCheckIn && len(late) > 0 && !c.At.IsZero() && late[0].At.Before(c.At) {
				e.override(off, date, late[0])
				late = late[1:]
			}
			e.checkIn(off, date, c, first)
		}
		for _, o := range late {
			e.override(off, date, o)
		}
		e.closeDay(off, date, first)
		if e.paused != notPaused {
			e.pausedWeeks[w] = true
		}
		if date == e.now || (off == e.days-1 && e.now > date) {
			e.state()
		}
	}
	for w := range e.plan.Weeks {
		wk := &e.plan.Weeks[w]
		for _, aw := range wk.Activities {
			if aw.Decision.Code.weight() > wk.Decision.Code.weight() {
				wk.Decision = aw.Decision
			}
		}
	}
}

// redFlagBefore reports whether day off has a red flag recorded before at.
// Without both instants nothing is known, and a red flag of the same day wins.
func (e *engine) redFlagBefore(off int, at time.Time) bool {
	if at.IsZero() {
		return false
	}
	for _, k := range e.order[e.dayFrom[off]:e.dayFrom[off+1]] {
		c := &e.checkIns[k]
		if c.Kind == RedFlagCheckIn && len(c.Answers) > 0 && !c.At.IsZero() && c.At.Before(at) {
			return true
		}
	}
	return false
}

// event records a change during week off/7 and returns its number in the
// week (Session.Cause); the sessions of the activities touch selects,
// scheduled from now on in the week, give it as their cause. An event that
// changes no dose (a therapist's review to do) touches none.
func (e *engine) event(off int, ev Event, touch func(*actState) bool) int {
	wk := &e.plan.Weeks[off/7]
	wk.Events = append(wk.Events, ev)
	k := len(wk.Events)
	for i := range e.acts {
		if touch != nil && touch(&e.acts[i]) {
			e.acts[i].cause = k
		}
	}
	return k
}

// decideToday makes d the week's decision for s: an event on a review day
// takes the place of the review's. A paused week stays paused: a change made
// while paused is an event of the week, not its decision.
func (e *engine) decideToday(off int, date Date, s *actState, d Decision) {
	switch {
	case off%7 != 0:
	case e.paused != notPaused && d.Code != Paused && d.Code != PausedRedFlag:
		e.setNumbers(date, s)
	default:
		e.setDecision(date, s, d)
	}
}

// flareEnd is the last day of the current flare's step-back: the day it
// settled, or FlareDays after the last day a flare was reported, the day the
// patient is asked whether it has settled.
func (e *engine) flareEnd() Date {
	if e.settledOn != 0 {
		return e.settledOn
	}
	return e.lastFlare.AddDays(e.r.FlareDays)
}

func (e *engine) stepBackOn(date Date) bool { return e.inFlare && date > e.flareStart }

// current is the dose scheduled today.
func (e *engine) current(s *actState, date Date) int {
	switch {
	case s.relax:
	case e.stepBackOn(date):
		return s.stepBack
	case e.reentryTo != 0:
		return s.reentry
	}
	if s.calibrating && int(date-e.start) < s.calEnd {
		return s.clamp(e.r, s.base)
	}
	return s.quota
}

func (e *engine) schedule(off int, date Date, s *actState) {
	var times []Clock
	if s.calibrating && off < s.calEnd {
		times = s.sched.Times[:1] // one calibration session a day
	} else if s.sched.PerWeek > 0 {
		n, d := s.sched.PerWeek, off%7
		for i := range n {
			if i*7/n == d {
				times = s.sched.Times
			}
		}
	} else if slices.Contains(s.sched.Days, date.Weekday()) {
		times = s.sched.Times
	}
	dose := e.current(s, date)
	for _, t := range times {
		if s.tiny { // every other planned session
			skip := s.tinySkip
			if s.tinySkip = !skip; skip {
				continue
			}
		}
		s.aw.Sessions = append(s.aw.Sessions, Session{Date: date, Time: t, Dose: dose,
			Calibration: s.calibrating && off < s.calEnd, Cause: s.cause})
	}
}

func (e *engine) checkIn(off int, date Date, c *CheckIn, first []int) {
	switch c.Kind {
	case SessionCheckIn:
		for i := range e.acts {
			if e.acts[i].a.ID == c.Activity {
				e.logSession(off, date, &e.acts[i], c, first[i])
			}
		}
		if c.Pain != nil {
			e.sessPain[off] = max(e.sessPain[off], int8(*c.Pain))
		}
	case DailyCheckIn:
		e.pain[off] = max(e.pain[off], int8(*c.Pain))
	case WeeklyCheckIn:
		e.plan.Weeks[off/7].Signals = &Signals{*c.Function, *c.Symptoms, *c.Confidence}
	case FlareCheckIn:
		e.flare(off, date, first)
	case StillInFlareCheckIn:
		if *c.Yes {
			e.flare(off, date, first)
		} else {
			e.settle(date)
		}
	case SettledCheckIn:
		e.settle(date)
	case RedFlagCheckIn:
		e.redFlag(off, date, c, first)
	}
}

func (e *engine) settle(date Date) {
	if e.inFlare && e.settledOn == 0 {
		e.settledOn = date
	}
}

// redFlag pauses the plan for a red-flag screen with a yes that is not known
// to the therapist, or that the patient says is worse (KnownRedFlag). A
// screen answered while a red flag pauses the plan already, with a yes that
// did not pause it, adds its answers to the pause's, raises its urgency when
// it is more urgent, and is an event of its own: the pause stays the first
// screen's, but what it asks of the patient is the most urgent answer since.
func (e *engine) redFlag(off int, date Date, c *CheckIn, first []int) {
	if len(c.Answers) == 0 {
		return
	}
	known, pausing := PausingAnswers(e.known, c)
	if len(pausing) == 0 {
		return
	}
	if e.paused == pausedRedFlag {
		if !c.At.IsZero() && slices.ContainsFunc(e.resumes, c.At.Before) {
			return // a resume of its day, recorded after it, ended what it reported
		}
		// News: a yes that did not pause before, a new item or a known one
		// now worse.
		var news []string
		for _, a := range pausing {
			if !slices.Contains(e.answers, a) {
				e.answers = append(slices.Clip(e.answers), a)
			} else if !slices.Contains(e.known1, a) {
				continue
			}
			e.known1 = slices.DeleteFunc(slices.Clone(e.known1), func(k string) bool { return k == a })
			news = append(news, a)
		}
		if len(news) == 0 {
			return
		}
		if u := MostUrgent(pausing); u.MoreUrgent(e.urgency) {
			e.urgency = u
		}
		// An event of the pause (Since), touching no session, with the
		// pause's urgency so far: the last one says what the pause asks.
		e.event(off, Event{Date: date, Code: PausedRedFlag,
			Facts: Facts{Since: e.pausedOn, Answers: slices.Clone(c.Answers), Known: known, Urgency: e.urgency}}, nil)
		return
	}
	e.paused, e.pausedOn = pausedRedFlag, date
	e.answers, e.known1, e.urgency = slices.Clone(c.Answers), known, MostUrgent(pausing)
	f := Facts{Answers: e.answers, Known: known, Urgency: e.urgency}
	k := e.event(off, Event{Date: date, Code: PausedRedFlag, Facts: f}, all)
	for i := range e.acts {
		s := &e.acts[i]
		ss := s.aw.Sessions
		for j := first[i]; j < len(ss); j++ {
			if ss[j].Status == "" {
				ss[j].Status, ss[j].Cause = Cancelled, k
			}
		}
		if off%7 == 0 {
			s.undo(e.r)
			f.Since = date
			e.setDecision(date, s, Decision{Code: PausedRedFlag, Facts: f})
		}
	}
}

func (e *engine) logSession(off int, date Date, s *actState, c *CheckIn, first int) {
	ss := s.aw.Sessions
	j := -1
	for k := first; k < len(ss); k++ {
		if ss[k].Status == "" && !ss[k].Extra && (c.Time == nil || ss[k].Time == *c.Time) {
			j = k
			break
		}
	}
	if j < 0 { // logged on a day, or at a time, with nothing planned: keep it as an extra
		t := Clock(0)
		if c.Time != nil {
			t = *c.Time
		}
		s.aw.Sessions = append(s.aw.Sessions, Session{Date: date, Time: t, Dose: e.current(s, date), Extra: true, Cause: s.cause})
		j = len(s.aw.Sessions) - 1
		ss = s.aw.Sessions
	}
	x := &ss[j]
	x.Status, x.Pain = c.Status, c.Pain
	switch {
	case c.Status == Skipped:
		x.Actual = 0
	case c.Dose != nil:
		x.Actual = *c.Dose
	default:
		x.Actual = x.Dose
	}
	if x.Status != Skipped { // a flare later today learns from it
		s.doneMax[off] = max(s.doneMax[off], x.Actual)
		s.loggedMax[off] = max(s.loggedMax[off], x.Actual)
	}
}

// closeDay settles the statuses of the day's sessions and records what was done.
func (e *engine) closeDay(off int, date Date, first []int) {
	w := off / 7
	for i := range e.acts {
		s := &e.acts[i]
		st := &s.week[w]
		ss := s.aw.Sessions
		for j := first[i]; j < len(ss); j++ {
			x := &ss[j]
			if x.Status == "" {
				if date < e.final {
					x.Status = Missed
				} else {
					x.Status = Planned // still to be done, or still to be logged
				}
			}
			if x.Status == Cancelled {
				continue
			}
			done := 0 // the dose done, or assumed done
			switch x.Status {
			case Done, Partial:
				done = x.Actual
			case Planned:
				done = x.Dose
			}
			counts := x.Status == Done || x.Status == Planned ||
				(x.Status == Partial && x.Actual*100 >= x.Dose*e.r.PartialDonePercent)
			switch {
			case !x.Extra:
				st.planned++
				if counts {
					st.done++
				}
				if x.Status == Planned {
					st.assumed++
				}
			case counts:
				st.extraDone++
			}
			if done > 0 {
				st.load += done * s.a.Sets
				s.doneMax[off] = max(s.doneMax[off], done)
				e.active[off] = true
			}
		}
		st.quota = s.quota
		s.aw.Done, s.aw.Planned = st.doneCount(), st.planned
	}
}

// flare starts a flare declared on day off: from the next day every activity
// but relaxation steps back. The day's own sessions keep their dose, and give
// the flare as their cause, so that what they say tells that the cut starts
// tomorrow. A flare reported during one extends it.
func (e *engine) flare(off int, date Date, first []int) {
	if e.inFlare {
		e.lastFlare = max(e.lastFlare, date)
		return
	}
	doses := make([]ActivityDose, 0, len(e.acts))
	var told []Event
	// A flare on a review day is that week's decision, but it changes nothing
	// on its own day: the day keeps the dose the review scheduled, and the
	// step-back is half of it.
	for i := range e.acts {
		s := &e.acts[i]
		s.resume = s.quota
		if s.relax {
			continue
		}
		if s.lastFull > 0 {
			s.resume = min(s.resume, s.lastFull)
		}
		s.inForce = e.current(s, date) // before the flare begins: the pre-flare week's dose
		if most := e.learnable(off, s, s.inForce); most > 0 && (s.threshold == 0 || most < s.threshold) {
			before := s.ceiling(e.r)
			tiny := e.setThreshold(s, most, true)
			s.quota = s.clamp(e.r, s.quota) // no dose above the new ceiling, even one paused
			told = append(told, Event{Date: date, Code: ThresholdLearned, Activity: s.a.ID, Facts: Facts{
				Threshold: most, Ceiling: s.ceiling(e.r), PrevCeiling: before, Flare: date,
				Percent: e.r.CeilingMarginPercent, EveryOther: s.tiny}})
			if tiny {
				told = append(told, Event{Date: date, Code: ThresholdTiny, Activity: s.a.ID, Facts: e.tinyFacts(s)})
			}
		}
		s.stepBack = s.clamp(e.r, roundDown(float64(s.inForce)*float64(e.r.FlareStepBackPercent)/100, s.a.Granule))
		doses = append(doses, ActivityDose{s.a.ID, s.stepBack})
	}
	e.inFlare, e.flareStart, e.lastFlare, e.settledOn, e.persistent = true, date, date, 0, false
	e.reentryTo = 0
	stepsBack := func(s *actState) bool { return !s.relax }
	k := e.event(off, Event{Date: date, Code: FlareStepBack,
		Facts: Facts{Flare: date, From: date.AddDays(1), Percent: e.r.FlareStepBackPercent, Doses: doses}}, stepsBack)
	for _, ev := range told {
		e.event(off, ev, nil)
	}
	for i := range e.acts {
		s := &e.acts[i]
		if s.relax {
			e.decideToday(off, date, s, Decision{Code: FlareStepBack, Facts: Facts{Dose: s.quota, Flare: date, Exempt: true}})
			continue
		}
		ss := s.aw.Sessions
		for j := first[i]; j < len(ss); j++ {
			if !ss[j].Extra {
				ss[j].Cause = k
			}
		}
		e.decideToday(off, date, s, Decision{Code: FlareStepBack, Facts: Facts{Dose: s.stepBack, Prev: s.inForce, Flare: date,
			From: date.AddDays(1), Percent: e.r.FlareStepBackPercent}})
		if off%7 == 0 && e.paused == notPaused {
			s.aw.Dose = s.stepBack // the week's dose from tomorrow
		}
	}
}

// learnable is the most done in the 48 hours before a flare declared on day
// off that a threshold may be learned from: a logged session of at least the
// dose in force before the flare, on a day that was not a step-back,
// re-entry or post-flare day. 0: none.
func (e *engine) learnable(off int, s *actState, inForce int) int {
	most := 0
	for d := max(off-2, 0); d <= off; d++ {
		if !e.noLearn[d] && s.loggedMax[d] >= inForce {
			most = max(most, s.loggedMax[d])
		}
	}
	return most
}

// setThreshold sets s's flare threshold and reports whether it has just
// become tiny.
func (e *engine) setThreshold(s *actState, v int, learned bool) bool {
	was := s.tiny
	s.threshold, s.learned = v, learned
	s.tiny = s.a.Tiny(e.r, v)
	s.atCeiling, s.ceilingTold = 0, false
	if s.tiny && !was {
		s.tinySkip = false
		return true
	}
	return false
}

func (e *engine) tinyFacts(s *actState) Facts {
	return Facts{Dose: s.a.Granule, Threshold: s.threshold, Percent: e.r.CeilingMarginPercent,
		Clamp: ClampCeiling, EveryOther: true}
}

// endFlare ends the flare on the first day out of it: the rest of that week
// is a re-entry at ReentryPercent of the resume dose (never below the
// step-back), and the next week resumes.
func (e *engine) endFlare(off int, date Date) {
	e.inFlare = false
	e.flareOver = date.AddDays(-1)
	e.reentryTo = e.start.AddDays(off/7*7 + 6)
	doses := make([]ActivityDose, 0, len(e.acts))
	for i := range e.acts {
		s := &e.acts[i]
		if s.relax {
			continue
		}
		s.quota = s.clamp(e.r, s.resume)
		back := roundDown(float64(s.quota)*float64(e.r.ReentryPercent)/100, s.a.Granule)
		s.reentry = min(s.quota, s.clamp(e.r, max(back, s.stepBack)))
		doses = append(doses, ActivityDose{s.a.ID, s.reentry})
	}
	if e.paused == notPaused && off%7 != 0 { // on a week boundary the review says it
		e.event(off, Event{Date: date, Code: FlareReentry, Facts: Facts{Flare: e.flareStart, From: date, Until: e.reentryTo,
			Percent: e.r.ReentryPercent, Doses: doses}}, func(s *actState) bool { return !s.relax })
	}
}

func (e *engine) endCalibration(off int, date Date, s *actState) {
	s.calibrating = false
	logged := e.scratch[:0]
	for _, x := range e.plan.Weeks[0].Activities[s.idx].Sessions {
		if x.Calibration && (x.Status == Done || x.Status == Partial) && x.Actual > 0 {
			logged = append(logged, x.Actual)
		}
	}
	if len(logged) > 0 { // the median: a single good day does not set the plan
		s.base = max(roundDown(float64(median(logged)), s.a.Granule), s.a.Granule)
	}
	e.scratch = logged
	s.stepH = s.a.StepHundredths(e.r, s.base)
	s.quota = s.clamp(e.r, s.a.StartDose(e.r, s.base))
	if e.inFlare { // a flare during calibration: step back from, and resume at, the calibrated start
		s.resume = s.quota
		if !s.relax {
			s.stepBack = min(s.stepBack, s.clamp(e.r, roundDown(float64(s.quota)*float64(e.r.FlareStepBackPercent)/100, s.a.Granule)))
		}
	}
	s.reentry = min(s.reentry, s.quota)
	s.startedOn = date
	s.startWhy = Facts{Dose: s.quota, Percent: s.a.startPercent(e.r), Baseline: s.base, Calibrated: true, Logged: len(logged) > 0}
	if off%7 != 0 { // on a week boundary the review gives it as the week's decision
		e.event(off, Event{Date: date, Code: Start, Activity: s.a.ID, Facts: s.startWhy}, func(x *actState) bool { return x == s })
	}
}

// median is the lower median of xs, which it sorts.
func median(xs []int) int {
	slices.Sort(xs)
	return xs[(len(xs)-1)/2]
}

func (e *engine) override(off int, date Date, o Overriding) {
	switch o.Kind {
	case PauseOverride:
		if e.paused != notPaused {
			return
		}
		e.paused, e.pausedOn, e.answers, e.known1, e.urgency = pausedByTherapist, date, nil, nil, ""
		f := Facts{Since: date}
		e.event(off, Event{Date: date, Code: Paused, Facts: f}, all)
		for i := range e.acts {
			if off%7 == 0 {
				e.acts[i].undo(e.r)
			}
			e.decideToday(off, date, &e.acts[i], Decision{Code: Paused, Facts: f})
		}
	case ResumeOverride:
		if e.paused == notPaused {
			return
		}
		// After a long pause, restart lower: deconditioning after time off.
		days, percent := int(date-e.pausedOn), 0
		if days > e.r.ResumeAfterDays {
			percent = e.r.ResumePercent
		}
		f := Facts{Since: e.pausedOn, Days: days, Percent: percent}
		e.paused, e.pausedOn = notPaused, 0
		prev := make([]int, len(e.acts))
		for i := range e.acts {
			s := &e.acts[i]
			if off%7 == 0 {
				s.undo(e.r)
			}
			prev[i] = s.quota
			if percent > 0 {
				s.quota = s.clamp(e.r, roundDown(float64(s.quota)*float64(percent)/100, s.a.Granule))
				s.carry, s.resume = 0, min(s.resume, s.quota)
				s.stepBack, s.reentry = min(s.stepBack, s.quota), min(s.reentry, s.quota)
			}
			f.Doses = append(f.Doses, ActivityDose{s.a.ID, e.current(s, date)})
		}
		e.event(off, Event{Date: date, Code: Resumed, Facts: f}, all)
		for i := range e.acts {
			s := &e.acts[i]
			e.decideToday(off, date, s, Decision{Code: Resumed, Facts: Facts{Dose: e.current(s, date), Prev: prev[i],
				Since: f.Since, Days: days, Percent: percent}})
		}
	default:
		var s *actState
		for i := range e.acts {
			if e.acts[i].a.ID == o.Activity {
				s = &e.acts[i]
			}
		}
		if s == nil {
			return
		}
		if off%7 == 0 {
			s.undo(e.r)
		}
		f := Facts{Change: o.Kind}
		var tiny bool
		switch o.Kind {
		case DoseOverride:
			s.quota = s.clamp(e.r, o.Value)
			s.resume, s.carry = s.quota, 0 // the therapist's dose outlasts a flare
			f.Dose, f.Capped = s.quota, s.quota < o.Value
		case ThresholdOverride:
			tiny = e.setThreshold(s, o.Value, false)
			s.quota = s.clamp(e.r, s.quota)
			f.Threshold, f.Percent, f.Dose, f.EveryOther = o.Value, e.r.CeilingMarginPercent, s.quota, s.tiny
		case GoalOverride:
			s.goal = o.Value
			s.quota = s.clamp(e.r, s.quota)
			f.Goal, f.Dose = o.Value, s.quota
		}
		s.stepBack, s.reentry, s.resume = min(s.stepBack, s.quota), min(s.reentry, s.quota), min(s.resume, s.quota)
		if o.Kind == DoseOverride {
			s.resume = s.quota
		}
		e.event(off, Event{Date: date, Code: Override, Activity: o.Activity, Facts: f}, func(x *actState) bool { return x == s })
		if tiny {
			e.event(off, Event{Date: date, Code: ThresholdTiny, Activity: s.a.ID, Facts: e.tinyFacts(s)}, nil)
		}
		e.decideToday(off, date, s, Decision{Code: Override, Facts: f})
	}
}

// review is the weekly review: it decides week w's dose of each activity.
func (e *engine) review(w int, date Date) {
	wk := &e.plan.Weeks[w]
	if w > 0 {
		e.worse = e.worseDays(w - 1)
	}
	for i := range e.acts {
		s := &e.acts[i]
		s.aw, s.cause = &wk.Activities[i], 0
		if w > 0 {
			e.weekEnded(w-1, date, s)
		}
		s.reviewFrom, s.carryFrom, s.undone = s.quota, s.carry, false
		e.setDecision(date, s, e.decide(w, date, s))
	}
}

// setDecision makes d s's decision for the week under review, with the dose
// before it (when it changed) and the week's dose, goal and ceiling.
func (e *engine) setDecision(date Date, s *actState, d Decision) {
	d.Activity = s.a.ID
	dose := e.current(s, date)
	if d.Code != PausedRedFlag && d.Code != Paused {
		if d.Facts.Dose == 0 {
			d.Facts.Dose = dose
		}
		if date > e.start && d.Facts.Prev == 0 && s.reviewFrom != d.Facts.Dose {
			d.Facts.Prev = s.reviewFrom
		}
	}
	s.aw.Decision = d
	e.setNumbers(date, s)
}

// setNumbers sets the week's dose, goal and limits under review for s.
func (e *engine) setNumbers(date Date, s *actState) {
	s.aw.Dose, s.aw.Goal = e.current(s, date), s.goal
	s.aw.Threshold, s.aw.Learned, s.aw.Ceiling = s.threshold, s.learned && s.threshold > 0, s.ceiling(e.r)
	s.aw.EveryOther = s.tiny
}

// weekEnded takes stock of week pw for s at the next week's review: the last
// full week's dose, whether the week is counted, and how long the activity
// has held at a learned ceiling.
func (e *engine) weekEnded(pw int, date Date, s *actState) {
	prev := s.week[pw]
	clean := !e.flareDays[pw] && !e.pausedWeeks[pw]
	if clean && prev.planned > 0 {
		s.lastFull = prev.quota
	}
	counted := clean && prev.planned > 0 && prev.doneCount()*100 >= prev.planned*e.r.AdherenceGatePercent
	if counted {
		s.counted = append(s.counted, pw)
	}
	switch {
	case e.flareDays[pw] || !s.learned || s.threshold == 0 || s.tiny:
		s.atCeiling = 0
	case counted && prev.quota >= s.ceiling(e.r):
		s.atCeiling++
	case counted:
		s.atCeiling = 0
	}
	if s.atCeiling >= e.r.CeilingReviewWeeks && !s.ceilingTold {
		s.ceilingTold = true
		e.event(7*(pw+1), Event{Date: date, Code: CeilingReady, Activity: s.a.ID, Facts: Facts{
			Threshold: s.threshold, Ceiling: s.ceiling(e.r), Weeks: s.atCeiling, Percent: e.r.CeilingMarginPercent}}, nil)
	}
}

func (e *engine) decide(w int, date Date, s *actState) Decision {
	a, r := s.a, e.r
	switch {
	case e.paused == pausedRedFlag:
		return Decision{Code: PausedRedFlag, Facts: Facts{Since: e.pausedOn, Answers: e.answers, Known: e.known1, Urgency: e.urgency}}
	case e.paused == pausedByTherapist:
		return Decision{Code: Paused, Facts: Facts{Since: e.pausedOn}}
	case s.startedOn == date:
		return Decision{Code: Start, Facts: s.startWhy}
	case w == 0 && s.calibrating:
		return Decision{Code: CalibrationCode, Facts: Facts{Days: s.calEnd, Dose: s.clamp(r, s.base)}}
	case w == 0 && s.tiny:
		f := e.tinyFacts(s)
		f.Baseline = s.base
		return Decision{Code: Start, Facts: f}
	case w == 0 && s.quota < a.StartDose(r, s.base):
		return Decision{Code: Start, Facts: Facts{Dose: s.quota, Goal: s.goal, Threshold: s.threshold,
			Percent: a.startPercent(r), Baseline: s.base, Clamp: ClampCeiling}}
	case w == 0:
		return Decision{Code: Start, Facts: Facts{Dose: s.quota, Percent: a.startPercent(r), Baseline: s.base}}
	case e.inFlare:
		f := Facts{Dose: s.stepBack, Flare: e.flareStart, Percent: r.FlareStepBackPercent}
		if s.relax {
			f = Facts{Dose: s.quota, Flare: e.flareStart, Exempt: true}
		}
		if e.persistent {
			f.Days, f.Percent = r.PersistentFlareDays, 0
			return Decision{Code: FlarePersistent, Facts: f}
		}
		return Decision{Code: FlareStepBack, Facts: f}
	case e.reentryTo != 0: // the flare ended on the review day
		if s.relax {
			return Decision{Code: FlareReentry, Facts: Facts{Dose: s.quota, Flare: e.flareStart, Until: e.reentryTo, Exempt: true}}
		}
		return Decision{Code: FlareReentry, Facts: Facts{Dose: s.reentry, Flare: e.flareStart, Until: e.reentryTo, Percent: r.ReentryPercent}}
	case e.flareDays[w-1]:
		return Decision{Code: FlareResume, Facts: Facts{Dose: s.quota, Flare: e.flareStart, Exempt: s.relax}}
	case s.tiny:
		return Decision{Code: HoldCeiling, Facts: e.tinyFacts(s)}
	}
	prev := s.week[w-1]
	if prev.planned == 0 {
		return Decision{Code: HoldAdherence, Facts: Facts{Dose: s.quota, Percent: r.AdherenceGatePercent}}
	}
	done, projected := prev.doneCount(), prev.assumed > 0
	if done*100 < prev.planned*r.AdherenceGatePercent {
		return Decision{Code: HoldAdherence, Facts: Facts{Dose: s.quota, Done: done, Planned: prev.planned,
			Percent: r.AdherenceGatePercent, Projected: projected}}
	}
	if n := e.worse; n >= r.ResponseDays {
		return Decision{Code: HoldResponse, Facts: Facts{Dose: s.quota, Days: n, Rise: r.ResponsePainRise}}
	}
	if d, ok := e.adjust(s); ok {
		return d
	}
	if s.quota >= s.goal {
		s.quota = s.goal
		return Decision{Code: GoalReached, Facts: Facts{Dose: s.goal, Goal: s.goal}}
	}
	// Progress by one step, the fraction below a granule carried to the next
	// week; clamped, and the clamp that bit is the reason given.
	g := a.Granule
	carry := s.carry + s.stepH
	inc := carry / (100 * g) * g
	carry -= 100 * inc
	if inc == 0 {
		if c := s.ceiling(r); c > 0 && s.quota+g > c {
			s.carry = 0
			return Decision{Code: HoldCeiling, Facts: Facts{Dose: s.quota, Clamp: ClampCeiling,
				Percent: r.CeilingMarginPercent, Threshold: s.threshold}}
		}
		s.carry = carry
		return Decision{Code: Progress, Facts: Facts{Dose: s.quota, Carried: true, Granule: g,
			Done: done, Planned: prev.planned, Projected: projected}}
	}
	dose, clamp := min(s.quota+inc, s.goal), Facts{}
	if c := s.ceiling(r); c > 0 && dose > c {
		dose, clamp = c, Facts{Clamp: ClampCeiling, Percent: r.CeilingMarginPercent, Threshold: s.threshold}
	}
	if sp := e.spikeCap(w, s); dose > sp {
		dose, clamp = max(sp, s.quota), Facts{Clamp: ClampSpike, Percent: r.SpikeCapPercent, Days: r.SpikeWindowDays}
	}
	if lc, n, ok := e.loadCap(s); ok {
		if prev.full() { // a one-step rise after a fully completed week is never blocked
			lc = max(lc, s.quota+inc)
		}
		if dose > lc {
			dose, clamp = max(lc, s.quota), Facts{Clamp: ClampLoad, Percent: r.WeeklyLoadCapPercent, Weeks: n}
		}
	}
	if dose <= s.quota {
		s.carry = 0
		clamp.Dose = s.quota
		return Decision{Code: holdFor(clamp.Clamp), Facts: clamp}
	}
	if s.carry = carry; dose < s.quota+inc {
		s.carry = 0 // held back: nothing is carried beyond what was allowed
	}
	f := clamp
	f.Dose, f.Prev, f.Done, f.Planned, f.Projected = dose, s.quota, done, prev.planned, projected
	if dose == s.goal {
		f.Goal = s.goal
	}
	s.quota = dose
	return Decision{Code: Progress, Facts: f}
}

func holdFor(c Clamp) Code {
	switch c {
	case ClampSpike:
		return HoldSpike
	case ClampLoad:
		return HoldLoad
	}
	return HoldCeiling
}

// adjust brings the dose down to what the patient logs when, over the last
// AdjustWeeks counted weeks, the median logged dose is below AdjustPercent of
// the median planned dose of the same sessions: quotas are set from what is
// achievable.
func (e *engine) adjust(s *actState) (Decision, bool) {
	r := e.r
	if len(s.counted) < r.AdjustWeeks {
		return Decision{}, false
	}
	buf, short := e.scratch[:0], false
	for _, k := range s.counted[len(s.counted)-r.AdjustWeeks:] {
		for _, x := range e.plan.Weeks[k].Activities[s.idx].Sessions {
			switch {
			case x.Calibration:
			case x.Status == Done || x.Status == Partial:
				buf = append(buf, x.Actual)
				short = short || x.Actual*100 < x.Dose*r.AdjustPercent
			case x.Status == Planned:
				buf = append(buf, x.Dose)
			}
		}
	}
	if !short { // every logged dose at the share of its own plan: so are their medians
		e.scratch = buf
		return Decision{}, false
	}
	n := len(buf)
	for _, k := range s.counted[len(s.counted)-r.AdjustWeeks:] {
		for _, x := range e.plan.Weeks[k].Activities[s.idx].Sessions {
			if !x.Calibration && (x.Status == Done || x.Status == Partial || x.Status == Planned) {
				buf = append(buf, x.Dose)
			}
		}
	}
	e.scratch = buf
	if n == 0 {
		return Decision{}, false
	}
	logged, planned := median(buf[:n]), median(buf[n:])
	if logged*100 >= planned*r.AdjustPercent {
		return Decision{}, false
	}
	dose := s.clamp(r, roundDown(float64(logged), s.a.Granule))
	if dose >= s.quota {
		return Decision{}, false
	}
	f := Facts{Dose: dose, Prev: s.quota, Percent: r.AdjustPercent, Weeks: r.AdjustWeeks}
	s.quota, s.carry = dose, 0
	return Decision{Code: AdjustToLogged, Facts: f}, true
}

// spikeCap is the highest dose allowed by the single-session spike cap:
// SpikeCapPercent of the longest session done in the window, rounded up.
// With none done in the window (a window shorter than the gap between
// sessions), the last session done before it stands in, so that a sparse
// schedule still rises; with none done at all, nothing rises.
func (e *engine) spikeCap(w int, s *actState) int {
	end := 7 * w
	from := max(end-e.r.SpikeWindowDays, 0)
	longest := 0
	for d := from; d < end; d++ {
		longest = max(longest, s.doneMax[d])
	}
	for d := from - 1; longest == 0 && d >= 0; d-- {
		longest = s.doneMax[d]
	}
	if longest == 0 {
		return 0
	}
	return roundUp(float64(longest)*float64(e.r.SpikeCapPercent)/100, s.a.Granule)
}

// loadCap is the highest dose that keeps a full week's planned total within
// WeeklyLoadCapPercent of the larger of the mean completed total of the last
// LoadHistoryWeeks counted weeks and the last counted week's, once
// LoadMinWeeks counted weeks exist; n is how many counted weeks it looked at.
func (e *engine) loadCap(s *actState) (cap, n int, ok bool) {
	if len(s.counted) < e.r.LoadMinWeeks || s.perWeek == 0 {
		return 0, 0, false
	}
	recent := s.counted[max(len(s.counted)-e.r.LoadHistoryWeeks, 0):]
	sum := 0
	for _, k := range recent {
		sum += s.week[k].load
	}
	ref := max(float64(sum)/float64(len(recent)), float64(s.week[recent[len(recent)-1]].load))
	perSession := ref * float64(e.r.WeeklyLoadCapPercent) / 100 / float64(s.perWeek*s.a.Sets)
	return int(perSession/float64(s.a.Granule)+1e-9) * s.a.Granule, len(recent), true
}

// worseDays counts the days of week w on which the next-day pain, the day
// after some activity was done, was ResponsePainRise or more above usual.
func (e *engine) worseDays(w int) int {
	usual, ok := e.usualPain(w)
	if !ok {
		return 0
	}
	n := 0
	for d := 7 * w; d < 7*w+7; d++ {
		if p := e.dayPain(d); d > 0 && p >= 0 && e.active[d-1] && int(p) >= usual+e.r.ResponsePainRise {
			n++
		}
	}
	return n
}

// dayPain is day d's pain: the daily report, or without one the highest
// pain logged with a session that day; -1: none.
func (e *engine) dayPain(d int) int8 {
	if e.pain[d] >= 0 {
		return e.pain[d]
	}
	return e.sessPain[d]
}

// usualPain is the median pain of the 28 days before week w (daily reports
// from before the start included; a day without a daily report counts its
// sessions' pain); without any, the median of week w's own.
func (e *engine) usualPain(w int) (int, bool) {
	var hist [11]int
	from := 7*w - 28
	for _, p := range e.painBefore {
		if p.off >= from {
			hist[p.pain]++
		}
	}
	for d := max(from, 0); d < 7*w; d++ {
		if p := e.dayPain(d); p >= 0 {
			hist[p]++
		}
	}
	if median, ok := lowerMedian(hist); ok {
		return median, true
	}
	for d := 7 * w; d < 7*w+7; d++ {
		if p := e.dayPain(d); p >= 0 {
			hist[p]++
		}
	}
	return lowerMedian(hist)
}

// lowerMedian is the lower median of the scores counted in hist.
func lowerMedian(hist [11]int) (int, bool) {
	n := 0
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	k := (n - 1) / 2 // index of the lower median in sorted order
	for v, c := range hist {
		if k < c {
			return v, true
		}
		k -= c
	}
	return 0, false
}
