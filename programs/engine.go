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
// the plan. Days before now's local date are judged from the check-ins (a
// planned session with no check-in counts as not done); days from it on are
// projections that assume every session is done and no new flare comes.
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
	days  int
	plan  *Plan
	acts  []actState

	checkIns   []CheckIn    // the caller's, read only
	order      []int32      // indices into checkIns, in compareCheckIns order
	dayFrom    []int32      // order[dayFrom[d]:dayFrom[d+1]] are day d's check-ins
	overrides  []Overriding // sorted, within the plan
	painBefore []datedPain  // daily pain reported before the start date, in date order
	pain       []int8       // daily pain by day offset; -1: none
	active     []bool       // some session done (or assumed done) that day

	paused      pause
	inFlare     bool
	flareStart  Date
	lastFlare   Date
	settledOn   Date // 0: not settled
	persistent  bool
	flareDays   []bool // by week: the step-back applied on some day
	pausedWeeks []bool // by week: paused on some day
	resumedOn   Date   // day a flare ended or a therapist resumed; 0: none
	resumeCause Code
	pausedOn    Date     // the day the current pause began
	answers     []string // the red-flag answers of a red-flag pause
	worse       int      // worseDays of the week before the one under review
}

// state records the plan's state on its Now.
func (e *engine) state() {
	p := e.plan
	p.Paused, p.InFlare, p.Persistent = e.paused != notPaused, e.inFlare, e.inFlare && e.persistent
	p.Pause, p.PausedOn, p.Answers, p.FlareOn = "", 0, nil, 0
	switch e.paused {
	case pausedRedFlag:
		p.Pause, p.PausedOn, p.Answers = PausedByRedFlag, e.pausedOn, e.answers
	case pausedByTherapist:
		p.Pause, p.PausedOn = PausedByTherapist, e.pausedOn
	}
	if e.inFlare {
		p.FlareOn = e.flareStart
	}
}

type datedPain struct{ off, pain int }

type actState struct {
	a                     *Activity
	idx                   int
	startedOn             Date // the day calibration ended and the program started
	startWhy              Facts
	base, goal, threshold int
	learned               bool // the threshold was learned from a flare
	cause                 int  // Session.Cause of the sessions scheduled now
	step                  int
	perWeek               int // sessions a full week of the schedule holds
	sched                 Schedule
	calibrating           bool
	calEnd                int // day offset at which calibration ends
	quota                 int // the dose of the week, before any flare step-back
	stepBack              int
	resume                int
	lastFull              int   // quota of the last week with no flare and no pause
	doneMax               []int // by day offset: the longest session done that day
	week                  []weekStats
	aw                    *ActivityWeek
}

type weekStats struct {
	planned, done, load int
	quota               int
}

func newEngine(as Assignment, checkIns []CheckIn, overrides []Overriding, now Date) *engine {
	p := as.Program
	days := as.Weeks * 7
	e := &engine{
		p: p, r: p.Rules, loc: as.Location, start: as.Start, now: now, days: days,
		pain:      make([]int8, days),
		active:    make([]bool, days),
		flareDays: make([]bool, as.Weeks), pausedWeeks: make([]bool, as.Weeks),
	}
	for i := range e.pain {
		e.pain[i] = -1
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
		return cmp.Or(cmp.Compare(a.Date, b.Date), a.At.Compare(b.At), strings.Compare(string(a.Kind), string(b.Kind)),
			strings.Compare(a.Activity, b.Activity), cmp.Compare(a.Value, b.Value))
	})
	e.plan = &Plan{Program: p.ID, Start: as.Start, Timezone: as.Location.String(), Now: now,
		Weeks: make([]Week, as.Weeks)}
	e.acts = make([]actState, len(p.Activities))
	doneMax := make([]int, days*len(p.Activities))
	weekStat := make([]weekStats, as.Weeks*len(p.Activities))
	for i := range p.Activities {
		a := &p.Activities[i]
		s := &e.acts[i]
		_, hasBase := as.Baseline[a.ID]
		*s = actState{
			a: a, idx: i, base: pick(as.Baseline, a.ID, a.Baseline), goal: pick(as.Goal, a.ID, a.Goal),
			threshold: pick(as.Threshold, a.ID, a.Threshold), sched: a.Schedule,
			doneMax: doneMax[i*days : (i+1)*days], week: weekStat[i*as.Weeks : (i+1)*as.Weeks],
		}
		if sc, ok := as.Schedule[a.ID]; ok {
			s.sched = sc
		}
		s.perWeek = len(s.sched.Times) * max(s.sched.PerWeek, len(s.sched.Days))
		if p.Calibration != nil && !hasBase {
			s.calibrating, s.calEnd = true, min(p.Calibration.Days, days)
		}
		s.step = a.StepFor(e.r, s.base)
		s.quota = s.clamp(e.r, a.StartDose(e.r, s.base))
	}
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

// clamp applies the goal and the ceiling, never going below one granule.
func (s *actState) clamp(r Rules, dose int) int {
	dose = min(dose, s.goal)
	if c := s.ceiling(r); c > 0 {
		dose = min(dose, c)
	}
	return max(dose, s.a.Granule)
}

func (e *engine) run() {
	first := make([]int, len(e.acts)) // index of today's first session per activity
	for off := range e.days {
		date := e.start.AddDays(off)
		w := off / 7
		if e.inFlare && date > e.flareEnd() {
			e.endFlare(off, date)
		}
		var late []Overriding // resumes recorded after the day's red flag
		for len(e.overrides) > 0 && e.overrides[0].Date == date {
			o := e.overrides[0]
			e.overrides = e.overrides[1:]
			if o.Kind == ResumeOverride && e.redFlagBefore(off, o.At) {
				late = append(late, o)
				continue
			}
			e.override(off, date, o)
		}
		if e.inFlare && !e.persistent && int(date-e.flareStart) >= e.r.PersistentFlareDays {
			e.persistent = true
			e.event(off, Event{Date: date, Code: FlarePersistent, Facts: Facts{Days: e.r.PersistentFlareDays, Flare: e.flareStart}})
		}
		for i := range e.acts {
			if s := &e.acts[i]; s.calibrating && off == s.calEnd {
				e.endCalibration(off, date, s)
			}
		}
		if off%7 == 0 {
			e.review(w, date)
		}
		if e.inFlare && date > e.flareStart {
			e.flareDays[w] = true
		}
		for i := range e.acts {
			first[i] = len(e.acts[i].aw.Sessions)
			if e.paused == notPaused {
				e.schedule(off, date, &e.acts[i])
			}
		}
		for _, k := range e.order[e.dayFrom[off]:e.dayFrom[off+1]] {
			e.checkIn(off, date, &e.checkIns[k], first)
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
// week (Session.Cause); the sessions of the activities it touches scheduled
// from now on in the week give it as their cause.
func (e *engine) event(off int, ev Event) int {
	wk := &e.plan.Weeks[off/7]
	wk.Events = append(wk.Events, ev)
	k := len(wk.Events)
	for i := range e.acts {
		if ev.Activity == "" || ev.Activity == e.acts[i].a.ID {
			e.acts[i].cause = k
		}
	}
	return k
}

// flareEnd is the last day of the current flare's step-back.
func (e *engine) flareEnd() Date {
	if e.settledOn != 0 {
		return e.settledOn
	}
	return e.lastFlare.AddDays(e.r.FlareDays)
}

// current is the dose scheduled today.
func (e *engine) current(s *actState, date Date) int {
	switch {
	case e.inFlare && date > e.flareStart:
		return s.stepBack
	case s.calibrating && int(date-e.start) < s.calEnd:
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
	case DailyCheckIn:
		e.pain[off] = max(e.pain[off], int8(*c.Pain))
	case WeeklyCheckIn:
		e.plan.Weeks[off/7].Signals = &Signals{*c.Function, *c.Symptoms, *c.Confidence}
	case FlareCheckIn:
		e.flare(off, date, first)
	case SettledCheckIn:
		if e.inFlare && e.settledOn == 0 {
			e.settledOn = date
		}
	case RedFlagCheckIn:
		if len(c.Answers) == 0 || e.paused == pausedRedFlag {
			return
		}
		e.paused, e.pausedOn, e.answers = pausedRedFlag, date, slices.Clone(c.Answers)
		k := e.event(off, Event{Date: date, Code: PausedRedFlag, Facts: Facts{Answers: e.answers}})
		for i := range e.acts {
			ss := e.acts[i].aw.Sessions
			for j := first[i]; j < len(ss); j++ {
				if ss[j].Status == "" {
					ss[j].Status, ss[j].Cause = Cancelled, k
				}
			}
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
		dose := e.current(s, date)
		if c.Dose != nil {
			dose = *c.Dose
		}
		s.aw.Sessions = append(s.aw.Sessions, Session{Date: date, Time: t, Dose: dose, Extra: true, Cause: s.cause})
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
	s.doneMax[off] = max(s.doneMax[off], x.Actual) // a flare later today learns from it
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
				if date < e.now {
					x.Status = Missed
				} else {
					x.Status = Planned
				}
			}
			done := 0 // the dose done, or assumed done in a projection
			switch x.Status {
			case Done, Partial:
				done = x.Actual
			case Planned:
				done = x.Dose
			}
			if !x.Extra && x.Status != Cancelled {
				st.planned++
				if x.Status == Done || x.Status == Planned ||
					(x.Status == Partial && x.Actual*100 >= x.Dose*e.r.PartialDonePercent) {
					st.done++
				}
			}
			if done > 0 {
				st.load += done * s.a.Sets
				s.doneMax[off] = max(s.doneMax[off], done)
				e.active[off] = true
			}
		}
		s.aw.Done, s.aw.Planned = st.done, st.planned
	}
}

// flare starts a flare declared on day off: from the next day every activity
// steps back. The day's own sessions keep their dose, and give the flare as
// their cause, so that what they say tells that the cut starts tomorrow.
func (e *engine) flare(off int, date Date, first []int) {
	if e.inFlare {
		e.lastFlare = max(e.lastFlare, date)
		return
	}
	doses := make([]ActivityDose, len(e.acts))
	for i := range e.acts {
		s := &e.acts[i]
		inForce := e.current(s, date) // before the flare begins
		s.resume = s.quota
		if s.lastFull > 0 {
			s.resume = min(s.resume, s.lastFull)
		}
		// Learn the threshold from the most done in the 48 hours before the
		// flare: the flare's day and the two before cover every such moment.
		most := 0
		for d := max(off-2, 0); d <= off; d++ {
			most = max(most, s.doneMax[d])
		}
		if most > 0 && (s.threshold == 0 || most < s.threshold) {
			s.threshold, s.learned = most, true
		}
		s.stepBack = s.clamp(e.r, roundDown(float64(inForce)*float64(e.r.FlareStepBackPercent)/100, s.a.Granule))
		doses[i] = ActivityDose{s.a.ID, s.stepBack}
	}
	e.inFlare, e.flareStart, e.lastFlare, e.settledOn, e.persistent = true, date, date, 0, false
	k := e.event(off, Event{Date: date, Code: FlareStepBack,
		Facts: Facts{Flare: date, From: date.AddDays(1), Percent: e.r.FlareStepBackPercent, Doses: doses}})
	for i := range e.acts {
		ss := e.acts[i].aw.Sessions
		for j := first[i]; j < len(ss); j++ {
			if !ss[j].Extra {
				ss[j].Cause = k
			}
		}
	}
}

func (e *engine) endFlare(off int, date Date) {
	e.inFlare = false
	e.resumedOn, e.resumeCause = date, FlareResume
	doses := make([]ActivityDose, len(e.acts))
	for i := range e.acts {
		s := &e.acts[i]
		s.quota = s.clamp(e.r, s.resume)
		doses[i] = ActivityDose{s.a.ID, s.quota}
	}
	if e.paused == notPaused && off%7 != 0 { // on a week boundary the review says it
		e.event(off, Event{Date: date, Code: FlareResume, Facts: Facts{Flare: e.flareStart, Doses: doses}})
	}
}

func (e *engine) endCalibration(off int, date Date, s *actState) {
	s.calibrating = false
	sum, n := 0, 0
	for _, x := range e.plan.Weeks[0].Activities[s.idx].Sessions {
		if x.Calibration && (x.Status == Done || x.Status == Partial) && x.Actual > 0 {
			sum, n = sum+x.Actual, n+1
		}
	}
	if n > 0 {
		s.base = max(roundDown(float64(sum)/float64(n), s.a.Granule), s.a.Granule)
	}
	s.step = s.a.StepFor(e.r, s.base)
	s.quota = s.clamp(e.r, s.a.StartDose(e.r, s.base))
	if e.inFlare { // a flare during calibration: step back from, and resume at, the calibrated start
		s.resume = s.quota
		s.stepBack = min(s.stepBack, s.clamp(e.r, roundDown(float64(s.quota)*float64(e.r.FlareStepBackPercent)/100, s.a.Granule)))
	}
	s.startedOn = date
	s.startWhy = Facts{Dose: s.quota, Percent: s.a.startPercent(e.r), Baseline: s.base, Calibrated: true, Logged: n > 0}
	if off%7 != 0 { // on a week boundary the review gives it as the week's decision
		e.event(off, Event{Date: date, Code: Start, Activity: s.a.ID, Facts: s.startWhy})
	}
}

func (e *engine) override(off int, date Date, o Overriding) {
	ev := Event{Date: date, Code: Override, Activity: o.Activity, Facts: Facts{Change: o.Kind}}
	switch o.Kind {
	case PauseOverride:
		if e.paused != notPaused {
			return
		}
		e.paused, e.pausedOn, e.answers = pausedByTherapist, date, nil
	case ResumeOverride:
		if e.paused == notPaused {
			return
		}
		e.paused, e.resumedOn, e.resumeCause = notPaused, date, Override
		ev.Facts.Since = date
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
		switch o.Kind {
		case DoseOverride:
			s.quota = s.clamp(e.r, o.Value)
			s.resume = s.quota // the therapist's dose outlasts a flare
			ev.Facts.Dose, ev.Facts.Capped = s.quota, s.quota < o.Value
		case ThresholdOverride:
			s.threshold, s.learned = o.Value, false
			s.quota = s.clamp(e.r, s.quota)
			ev.Facts.Threshold, ev.Facts.Percent, ev.Facts.Dose = o.Value, e.r.CeilingMarginPercent, s.quota
		case GoalOverride:
			s.goal = o.Value
			s.quota = s.clamp(e.r, s.quota)
			ev.Facts.Goal, ev.Facts.Dose = o.Value, s.quota
		}
		s.stepBack = min(s.stepBack, s.quota)
	}
	e.event(off, ev)
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
			prev := s.week[w-1]
			if !e.flareDays[w-1] && !e.pausedWeeks[w-1] && prev.planned > 0 {
				s.lastFull = prev.quota
			}
		}
		prevDose := s.quota
		d := e.decide(w, date, s)
		d.Activity = s.a.ID
		if d.Facts.Dose == 0 && d.Code != PausedRedFlag && !(d.Code == Override && d.Facts.Change == PauseOverride) {
			d.Facts.Dose = e.current(s, date)
		}
		if w > 0 && d.Facts.Prev == 0 && prevDose != d.Facts.Dose {
			d.Facts.Prev = prevDose
		}
		s.week[w].quota = s.quota
		s.aw.Decision, s.aw.Dose, s.aw.Goal = d, e.current(s, date), s.goal
		s.aw.Threshold, s.aw.Learned, s.aw.Ceiling = s.threshold, s.learned && s.threshold > 0, s.ceiling(e.r)
	}
}

func (e *engine) decide(w int, date Date, s *actState) Decision {
	a, r := s.a, e.r
	switch {
	case e.paused == pausedRedFlag:
		return Decision{Code: PausedRedFlag, Facts: Facts{Since: e.pausedOn, Answers: e.answers}}
	case e.paused == pausedByTherapist:
		return Decision{Code: Override, Facts: Facts{Change: PauseOverride, Since: e.pausedOn}}
	case s.startedOn == date:
		return Decision{Code: Start, Facts: s.startWhy}
	case w == 0 && s.calibrating:
		return Decision{Code: CalibrationCode, Facts: Facts{Days: s.calEnd, Dose: s.clamp(r, s.base)}}
	case w == 0 && s.quota < a.StartDose(r, s.base):
		return Decision{Code: Start, Facts: Facts{Dose: s.quota, Goal: s.goal, Threshold: s.threshold,
			Percent: a.startPercent(r), Baseline: s.base, Clamp: ClampCeiling}}
	case w == 0:
		return Decision{Code: Start, Facts: Facts{Dose: s.quota, Percent: a.startPercent(r), Baseline: s.base}}
	case e.inFlare && e.persistent:
		return Decision{Code: FlarePersistent, Facts: Facts{Dose: s.stepBack, Days: r.PersistentFlareDays, Flare: e.flareStart}}
	case e.inFlare:
		return Decision{Code: FlareStepBack, Facts: Facts{Dose: s.stepBack, Flare: e.flareStart, Percent: r.FlareStepBackPercent}}
	case e.resumedOn == date || e.flareDays[w-1]:
		if e.resumeCause == Override {
			return Decision{Code: Override, Facts: Facts{Change: ResumeOverride, Dose: s.quota, Since: e.resumedOn}}
		}
		return Decision{Code: FlareResume, Facts: Facts{Dose: s.quota, Flare: e.flareStart}}
	case e.resumedOn != 0 && int(date-e.resumedOn) < 7 && e.resumeCause == Override:
		return Decision{Code: Override, Facts: Facts{Change: ResumeOverride, Dose: s.quota, Since: e.resumedOn}}
	}
	prev := s.week[w-1]
	if prev.planned == 0 {
		return Decision{Code: HoldAdherence, Facts: Facts{Dose: s.quota, Percent: r.AdherenceGatePercent}}
	}
	if prev.done*100 < prev.planned*r.AdherenceGatePercent {
		return Decision{Code: HoldAdherence, Facts: Facts{Dose: s.quota, Done: prev.done, Planned: prev.planned, Percent: r.AdherenceGatePercent}}
	}
	if n := e.worse; n >= r.ResponseDays {
		return Decision{Code: HoldResponse, Facts: Facts{Dose: s.quota, Days: n, Rise: r.ResponsePainRise}}
	}
	if s.quota >= s.goal {
		s.quota = s.goal
		return Decision{Code: GoalReached, Facts: Facts{Dose: s.goal, Goal: s.goal}}
	}
	// Progress by one step, clamped; the clamp that bit is the reason given.
	dose, clamp := min(s.quota+s.step, s.goal), Facts{}
	if c := s.ceiling(r); c > 0 && dose > c {
		dose, clamp = c, Facts{Clamp: ClampCeiling, Percent: r.CeilingMarginPercent, Threshold: s.threshold}
	}
	if sp := e.spikeCap(w, s); dose > sp {
		dose, clamp = max(sp, s.quota), Facts{Clamp: ClampSpike, Percent: r.SpikeCapPercent, Days: r.SpikeWindowDays}
	}
	if lc, ok := e.loadCap(w, s); ok && dose > lc {
		dose, clamp = max(lc, s.quota), Facts{Clamp: ClampLoad, Percent: r.WeeklyLoadCapPercent}
	}
	if dose <= s.quota {
		clamp.Dose = s.quota
		return Decision{Code: HoldCeiling, Facts: clamp}
	}
	f := clamp
	f.Dose, f.Prev, f.Done, f.Planned = dose, s.quota, prev.done, prev.planned
	f.Projected = date.AddDays(-1) >= e.now
	if dose == s.goal {
		f.Goal = s.goal
	}
	s.quota = dose
	return Decision{Code: Progress, Facts: f}
}

// spikeCap is the highest dose allowed by the single-session spike cap:
// SpikeCapPercent of the longest session done in the window, rounded up.
func (e *engine) spikeCap(w int, s *actState) int {
	end := 7 * w
	longest := 0
	for d := max(end-e.r.SpikeWindowDays, 0); d < end; d++ {
		longest = max(longest, s.doneMax[d])
	}
	if longest == 0 {
		return 0
	}
	return roundUp(float64(longest)*float64(e.r.SpikeCapPercent)/100, s.a.Granule)
}

// loadCap is the highest dose that keeps a full week's planned load within
// WeeklyLoadCapPercent of the mean completed load of the previous weeks.
func (e *engine) loadCap(w int, s *actState) (int, bool) {
	if w < e.r.LoadMinWeeks || s.perWeek == 0 {
		return 0, false
	}
	n := min(w, e.r.LoadHistoryWeeks)
	sum := 0
	for k := w - n; k < w; k++ {
		sum += s.week[k].load
	}
	perSession := float64(sum) / float64(n) * float64(e.r.WeeklyLoadCapPercent) / 100 /
		float64(s.perWeek*s.a.Sets)
	return int(perSession/float64(s.a.Granule)+1e-9) * s.a.Granule, true
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
		if d > 0 && e.pain[d] >= 0 && e.active[d-1] && int(e.pain[d]) >= usual+e.r.ResponsePainRise {
			n++
		}
	}
	return n
}

// usualPain is the median daily pain of the 28 days before week w (reports
// from before the start included); without any, the median of week w's own.
func (e *engine) usualPain(w int) (int, bool) {
	var hist [11]int
	from := 7*w - 28
	for _, p := range e.painBefore {
		if p.off >= from {
			hist[p.pain]++
		}
	}
	for d := max(from, 0); d < 7*w; d++ {
		if e.pain[d] >= 0 {
			hist[e.pain[d]]++
		}
	}
	if median, ok := lowerMedian(hist); ok {
		return median, true
	}
	for d := 7 * w; d < 7*w+7; d++ {
		if e.pain[d] >= 0 {
			hist[e.pain[d]]++
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
