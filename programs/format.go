package programs

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Kind is what sort of movement an activity is.
type Kind string

// The activity kinds.
const (
	Aerobic    Kind = "aerobic"
	Stretch    Kind = "stretch"
	Strength   Kind = "strength"
	Mobility   Kind = "mobility"
	Relaxation Kind = "relaxation"
)

var kinds = []Kind{Aerobic, Stretch, Strength, Mobility, Relaxation}

// Unit is what a dose counts.
type Unit string

// The dose units; Seconds is the length of a hold.
const (
	Minutes Unit = "minutes"
	Reps    Unit = "reps"
	Seconds Unit = "seconds"
)

var units = []Unit{Minutes, Reps, Seconds}

// DefaultGranule is the smallest step a unit allows unless an activity sets its own.
func (u Unit) DefaultGranule() int {
	if u == Seconds {
		return 5
	}
	return 1
}

// Format renders a dose with its unit, e.g. "1 minute", "8 reps", "20 seconds".
func (u Unit) Format(n int) string {
	s := string(u)
	if n == 1 {
		s = strings.TrimSuffix(s, "s")
	}
	return strconv.Itoa(n) + " " + s
}

// Rules are the progression rules' parameters; progression.md gives the
// defaults and their anchors. Percentages are whole percents.
type Rules struct {
	StartPercent         int `yaml:"start_percent"`
	StepPercent          int `yaml:"step_percent"`
	CeilingMarginPercent int `yaml:"ceiling_margin_percent"`
	AdherenceGatePercent int `yaml:"adherence_gate_percent"`
	PartialDonePercent   int `yaml:"partial_done_percent"`
	ResponsePainRise     int `yaml:"response_pain_rise"`
	ResponseDays         int `yaml:"response_days"`
	FlareStepBackPercent int `yaml:"flare_step_back_percent"`
	FlareDays            int `yaml:"flare_days"`
	PersistentFlareDays  int `yaml:"persistent_flare_days"`
	SpikeCapPercent      int `yaml:"spike_cap_percent"`
	SpikeWindowDays      int `yaml:"spike_window_days"`
	WeeklyLoadCapPercent int `yaml:"weekly_load_cap_percent"`
	LoadHistoryWeeks     int `yaml:"load_history_weeks"`
	LoadMinWeeks         int `yaml:"load_min_weeks"`
	// Version 2 of the rules.
	ReentryPercent      int `yaml:"reentry_percent"`
	LearnAfterFlareDays int `yaml:"learn_after_flare_days"`
	CeilingReviewWeeks  int `yaml:"ceiling_review_weeks"`
	AdjustPercent       int `yaml:"adjust_percent"`
	AdjustWeeks         int `yaml:"adjust_weeks"`
	ResumeAfterDays     int `yaml:"resume_after_days"`
	ResumePercent       int `yaml:"resume_percent"`
	LateLogDays         int `yaml:"late_log_days"`
}

// DefaultRules are progression.md's defaults.
func DefaultRules() Rules {
	return Rules{
		StartPercent: 80, StepPercent: 10, CeilingMarginPercent: 10,
		AdherenceGatePercent: 70, PartialDonePercent: 50,
		ResponsePainRise: 2, ResponseDays: 2,
		FlareStepBackPercent: 50, FlareDays: 7, PersistentFlareDays: 14,
		SpikeCapPercent: 110, SpikeWindowDays: 30,
		WeeklyLoadCapPercent: 130, LoadHistoryWeeks: 4, LoadMinWeeks: 2,
		ReentryPercent: 75, LearnAfterFlareDays: 7, CeilingReviewWeeks: 4,
		AdjustPercent: 80, AdjustWeeks: 2, ResumeAfterDays: 7, ResumePercent: 80, LateLogDays: 2,
	}
}

// ruleFields lists every rule with its allowed range, in file order.
func (r *Rules) fields() []ruleField {
	return []ruleField{
		{"start_percent", &r.StartPercent, 1, 100},
		{"step_percent", &r.StepPercent, 1, 100},
		{"ceiling_margin_percent", &r.CeilingMarginPercent, 0, 90},
		{"adherence_gate_percent", &r.AdherenceGatePercent, 0, 100},
		{"partial_done_percent", &r.PartialDonePercent, 1, 100},
		{"response_pain_rise", &r.ResponsePainRise, 1, 10},
		{"response_days", &r.ResponseDays, 1, 7},
		{"flare_step_back_percent", &r.FlareStepBackPercent, 1, 100}, // 100: a flare does not step back (a floor)
		{"flare_days", &r.FlareDays, 1, 28},
		{"persistent_flare_days", &r.PersistentFlareDays, 1, 60},
		{"spike_cap_percent", &r.SpikeCapPercent, 101, 300}, // at 100 nothing could ever rise
		{"spike_window_days", &r.SpikeWindowDays, 1, 90},
		{"weekly_load_cap_percent", &r.WeeklyLoadCapPercent, 100, 300},
		{"load_history_weeks", &r.LoadHistoryWeeks, 1, 12},
		{"load_min_weeks", &r.LoadMinWeeks, 1, 12},
		{"reentry_percent", &r.ReentryPercent, 1, 100},
		{"learn_after_flare_days", &r.LearnAfterFlareDays, 0, 28},
		{"ceiling_review_weeks", &r.CeilingReviewWeeks, 1, 52},
		{"adjust_percent", &r.AdjustPercent, 1, 100},
		{"adjust_weeks", &r.AdjustWeeks, 1, 12},
		{"resume_after_days", &r.ResumeAfterDays, 0, 90},
		{"resume_percent", &r.ResumePercent, 1, 100},
		{"late_log_days", &r.LateLogDays, 0, 7},
	}
}

type ruleField struct {
	key      string
	v        *int
	min, max int
}

// Clock is a local wall-clock time of day in minutes after midnight.
type Clock int

// ParseClock parses "HH:MM" (24-hour).
func ParseClock(s string) (Clock, error) {
	// Digits only: strconv.Atoi would take "+7" or "-0" for an hour.
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, fmt.Errorf("time %q is not HH:MM (24-hour, e.g. 07:30)", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("time %q is not HH:MM (24-hour, e.g. 07:30)", s)
	}
	return Clock(h*60 + m), nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// MarshalText implements encoding.TextMarshaler.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	*c = v
	return err
}

// Schedule says on which local days and at which local times an activity
// happens: either fixed Days or PerWeek sessions spread over each week.
type Schedule struct {
	Days    []time.Weekday // sorted Sunday-first as time.Weekday; empty when PerWeek is set
	PerWeek int
	Times   []Clock // sorted, distinct
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// DayName is the schedule spelling of a weekday ("mon").
func DayName(d time.Weekday) string { return strings.ToLower(d.String()[:3]) }

// ParseDays parses schedule day names; "daily" means every day.
func ParseDays(names []string) ([]time.Weekday, error) {
	var days []time.Weekday
	for _, n := range names {
		if n == "daily" {
			if len(names) != 1 {
				return nil, fmt.Errorf(`"daily" must stand alone in days`)
			}
			return []time.Weekday{0, 1, 2, 3, 4, 5, 6}, nil
		}
		d, ok := dayNames[n]
		if !ok {
			return nil, fmt.Errorf("unknown day %q: use mon, tue, wed, thu, fri, sat, sun or daily", n)
		}
		if slices.Contains(days, d) {
			return nil, fmt.Errorf("day %q is listed twice", n)
		}
		days = append(days, d)
	}
	slices.Sort(days)
	return days, nil
}

// ParseTimes parses and sorts distinct HH:MM times.
func ParseTimes(ss []string) ([]Clock, error) {
	if len(ss) > MaxTimesPerDay {
		return nil, fmt.Errorf("%d times of day; an activity has at most %d", len(ss), MaxTimesPerDay)
	}
	var ts []Clock
	for _, s := range ss {
		c, err := ParseClock(s)
		if err != nil {
			return nil, err
		}
		if slices.Contains(ts, c) {
			return nil, fmt.Errorf("time %s is listed twice", s)
		}
		ts = append(ts, c)
	}
	slices.Sort(ts)
	return ts, nil
}

// Activity is one movement of a program.
type Activity struct {
	ID           string
	Name         string
	Kind         Kind
	Unit         Unit
	Sets         int
	Granule      int
	Baseline     int
	Goal         int
	Threshold    int // 0: no known flare threshold
	Step         int // 0: StepPercent of the baseline
	StartPercent int // 0: the program's rule
	Schedule     Schedule
	Instructions string
}

// Calibration is an optional first phase in which the patient finds their baseline.
type Calibration struct {
	Days int
}

// Program is a validated graded-activity program.
type Program struct {
	ID          string
	Name        string
	Description string
	Calibration *Calibration
	Rules       Rules
	Activities  []Activity
}

// Activity returns the activity with the given id.
func (p *Program) Activity(id string) (*Activity, bool) {
	for i := range p.Activities {
		if p.Activities[i].ID == id {
			return &p.Activities[i], true
		}
	}
	return nil, false
}

// ActivityIDs lists the program's activity ids in file order.
func (p *Program) ActivityIDs() []string {
	ids := make([]string, len(p.Activities))
	for i, a := range p.Activities {
		ids[i] = a.ID
	}
	return ids
}

// roundDown rounds v down to a whole number of granules, never below one granule.
func roundDown(v float64, granule int) int {
	n := int(v/float64(granule)+1e-9) * granule
	return max(n, granule)
}

// roundUp rounds v up to a whole number of granules, never below one granule.
func roundUp(v float64, granule int) int {
	n := int(v/float64(granule)-1e-9) * granule
	if float64(n) < v-1e-9 {
		n += granule
	}
	return max(n, granule)
}

// startPercent is the activity's start percentage after the program's rule.
func (a *Activity) startPercent(r Rules) int {
	if a.StartPercent > 0 {
		return a.StartPercent
	}
	return r.StartPercent
}

// StartDose is the first week's dose for a baseline.
func (a *Activity) StartDose(r Rules, baseline int) int {
	return roundDown(float64(baseline)*float64(a.startPercent(r))/100, a.Granule)
}

// StepHundredths is the weekly step for a baseline in hundredths of the
// unit: the activity's own step, or StepPercent of the baseline. The engine
// carries what is below a granule to the next week, so the average rise is
// the step however small it is, and no week rises by a granule more than it.
func (a *Activity) StepHundredths(r Rules, baseline int) int {
	if a.Step > 0 {
		return a.Step * 100
	}
	return baseline * r.StepPercent
}

// Ceiling is the highest dose allowed below a flare threshold (0: none known):
// the largest whole number of granules at most threshold × (1 − margin) and
// below the threshold. When that is less than one granule the threshold is
// tiny (Tiny) and the ceiling is one granule, which the engine then schedules
// on every other session only: pacer keeps people gently active.
func (a *Activity) Ceiling(r Rules, threshold int) int {
	if threshold <= 0 {
		return 0
	}
	return max(a.ceiling(r, threshold), a.Granule)
}

func (a *Activity) ceiling(r Rules, threshold int) int {
	n := threshold * (100 - r.CeilingMarginPercent) / 100 / a.Granule * a.Granule
	if n >= threshold { // never at the threshold itself
		n -= a.Granule
	}
	return n
}

// Tiny reports whether a threshold leaves no whole granule below its ceiling.
func (a *Activity) Tiny(r Rules, threshold int) bool {
	return threshold > 0 && a.ceiling(r, threshold) < a.Granule
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Limits of a program, so that no program makes a calendar feed or a
// message too large to deliver: a push notification holds about 4 KB, and
// a calendar past 1 MB is dropped by Google.
const (
	MaxActivities  = 12   // activities in a program
	MaxTimesPerDay = 12   // times of day in an activity's schedule
	MaxNameLength  = 80   // characters of a program's or an activity's name
	MaxTextLength  = 2000 // characters of a description or instructions
)

// maxProgramBytes bounds what the decoder reads; real programs are a few KiB.
const maxProgramBytes = 1 << 20

// Parse decodes and validates a program. file names the source in problems.
// On failure the error is a Problems listing every problem found.
func Parse(file string, data []byte) (*Program, error) {
	d := &decoder{file: file}
	if len(data) > maxProgramBytes {
		d.add(1, 1, "file is larger than 1 MiB; a program is a few KiB of YAML")
		return nil, d.problems
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		d.syntax(err)
		return nil, d.problems
	}
	if len(doc.Content) == 0 || (doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
		d.add(1, 1, "file is empty: a program needs id, name and activities")
		return nil, d.problems
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.add(next.Line, next.Column, "a program file holds one YAML document; remove the second one or put it in its own file")
	case err != io.EOF:
		d.syntax(err)
	}
	p := d.program(doc.Content[0])
	if len(d.problems) > 0 {
		slices.SortStableFunc(d.problems, func(a, b Problem) int { return cmp.Or(a.Line-b.Line, a.Col-b.Col) })
		return nil, d.problems
	}
	return p, nil
}

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// syntax reports a YAML syntax error. yaml.v3 numbers the lines of its
// scanner's errors from 1 but its parser's ("did not find expected …", which
// point at the collection being parsed) from 0, and leaves out line 0.
func (d *decoder) syntax(err error) {
	line := 0
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimPrefix(msg, m[0])
	}
	if strings.HasPrefix(msg, "did not find expected ") && !strings.HasPrefix(msg, "did not find expected whitespace") {
		line++
	}
	d.add(max(line, 1), 1, "YAML syntax: "+msg)
}

// Problem is one validation finding with its position in the file.
type Problem struct {
	File      string
	Line, Col int
	Message   string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Message)
}

// Problems is every problem found in one file, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

type decoder struct {
	file     string
	problems Problems
}

func (d *decoder) add(line, col int, msg string) {
	d.problems = append(d.problems, Problem{d.file, line, col, msg})
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.add(n.Line, n.Column, fmt.Sprintf(format, args...))
}

// fields walks a mapping, rejecting unknown and repeated keys, and returns the
// value node of each known key. Required keys that are missing are reported
// at the mapping's position.
func (d *decoder) fields(n *yaml.Node, what string, known, required []string) map[string]*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values", what)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			d.errorf(k, "unknown key %q in %s (known keys: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "key %q appears twice in %s", k.Value, what)
			continue
		}
		out[k.Value] = resolve(v)
	}
	for _, r := range required {
		if _, ok := out[r]; !ok {
			d.errorf(n, "%s has no %q", what, r)
		}
	}
	return out
}

// resolve follows aliases so that anchors in hand-written files work.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// str returns a scalar's text; a null, a list or a mapping is reported and not ok.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be text", key)
		return "", false
	}
	return n.Value, true
}

// text is a required, non-empty text value, trimmed.
func (d *decoder) text(n *yaml.Node, key, hint string) string {
	v, ok := d.str(n, key)
	if v = strings.TrimSpace(v); ok && v == "" {
		d.errorf(n, "%s must not be empty%s", key, hint)
	}
	return v
}

// limit reports text longer than max characters, or with characters that
// have no place in text people read (see CheckText).
func (d *decoder) limit(n *yaml.Node, key, v string, max int, multiline bool) {
	if c := utf8.RuneCountInString(v); c > max {
		d.errorf(n, "%s is %d characters long; keep it to %d", key, c, max)
	}
	if err := CheckText(v, multiline); err != nil {
		d.errorf(n, "%s %v", key, err)
	}
}

func (d *decoder) integer(n *yaml.Node, key string, lo, hi int) (int, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a whole number", key)
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		d.errorf(n, "%s must be a whole number, not %q", key, n.Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, "%s must be between %d and %d, not %d", key, lo, hi, v)
		return 0, false
	}
	return v, true
}

// list checks that n is a non-empty sequence and returns its items.
func (d *decoder) list(n *yaml.Node, key, example string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, "%s must be a list of at least one item, e.g. %s", key, example)
		return nil
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		items[i] = resolve(c)
	}
	return items
}

// days decodes schedule days, reporting each bad day at its own position.
func (d *decoder) days(n *yaml.Node) []time.Weekday {
	var out []time.Weekday
	items := d.list(n, "days", "[mon, wed, fri] or [daily]")
	for _, it := range items {
		name, ok := d.str(it, "a day")
		if !ok {
			continue
		}
		if name == "daily" {
			if len(items) != 1 {
				d.errorf(it, `"daily" must stand alone in days`)
				return nil
			}
			return []time.Weekday{0, 1, 2, 3, 4, 5, 6}
		}
		wd, err := ParseDays([]string{name})
		switch {
		case err != nil:
			d.errorf(it, "%v", err)
		case slices.Contains(out, wd[0]):
			d.errorf(it, "day %q is listed twice", name)
		default:
			out = append(out, wd[0])
		}
	}
	slices.Sort(out)
	return out
}

// times decodes schedule times, reporting each bad time at its own position.
func (d *decoder) times(n *yaml.Node) []Clock {
	var out []Clock
	items := d.list(n, "times", `["07:30"]`)
	if len(items) > MaxTimesPerDay {
		d.errorf(n, "times lists %d times of day; an activity has at most %d", len(items), MaxTimesPerDay)
		return nil
	}
	for _, it := range items {
		v, ok := d.str(it, "a time")
		if !ok {
			continue
		}
		c, err := ParseClock(v)
		switch {
		case err != nil:
			d.errorf(it, "%v", err)
		case slices.Contains(out, c):
			d.errorf(it, "time %s is listed twice", v)
		default:
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

func (d *decoder) program(root *yaml.Node) *Program {
	f := d.fields(root, "the program",
		[]string{"id", "name", "description", "calibration", "rules", "activities"},
		[]string{"id", "name", "activities"})
	if f == nil {
		return nil
	}
	p := &Program{Rules: DefaultRules()}
	if n := f["id"]; n != nil {
		var ok bool
		if p.ID, ok = d.str(n, "id"); ok && !idPattern.MatchString(p.ID) {
			d.errorf(n, "id %q must be lowercase letters, digits and hyphens, e.g. walking", p.ID)
		}
	}
	if n := f["name"]; n != nil {
		p.Name = d.text(n, "name", "")
		d.limit(n, "name", p.Name, MaxNameLength, false)
	}
	if n := f["description"]; n != nil {
		desc, _ := d.str(n, "description")
		p.Description = strings.TrimSpace(desc)
		d.limit(n, "description", p.Description, MaxTextLength, true)
	}
	if n := f["calibration"]; n != nil {
		c := d.fields(n, "calibration", []string{"days"}, nil)
		p.Calibration = &Calibration{Days: 3}
		if v := c["days"]; v != nil {
			p.Calibration.Days, _ = d.integer(v, "calibration.days", 1, 7)
		}
	}
	if n := f["rules"]; n != nil {
		d.rules(n, &p.Rules)
	}
	if n := f["activities"]; n != nil {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			d.errorf(n, "activities must be a list of at least one activity")
		} else if len(n.Content) > MaxActivities {
			d.errorf(n, "activities lists %d activities; a program has at most %d", len(n.Content), MaxActivities)
		} else {
			seen := map[string]bool{}
			for _, an := range n.Content {
				a, idNode := d.activity(resolve(an), p.Rules)
				if a == nil {
					continue
				}
				if a.ID != "" && seen[a.ID] {
					d.errorf(idNode, "activity id %q is used twice; each activity needs its own id", a.ID)
				}
				seen[a.ID] = true
				p.Activities = append(p.Activities, *a)
			}
		}
	}
	return p
}

func (d *decoder) rules(n *yaml.Node, r *Rules) {
	rf := r.fields()
	known := make([]string, len(rf))
	for i, x := range rf {
		known[i] = x.key
	}
	f := d.fields(n, "rules", known, nil)
	for _, x := range rf {
		if v := f[x.key]; v != nil {
			if i, ok := d.integer(v, "rules."+x.key, x.min, x.max); ok {
				*x.v = i
			}
		}
	}
}

var activityKeys = []string{"id", "name", "kind", "unit", "sets", "granule", "baseline", "goal",
	"threshold", "step", "start_percent", "schedule", "instructions"}

func (d *decoder) activity(n *yaml.Node, r Rules) (*Activity, *yaml.Node) {
	f := d.fields(n, "an activity", activityKeys,
		[]string{"id", "name", "kind", "unit", "baseline", "goal", "schedule", "instructions"})
	if f == nil {
		return nil, nil
	}
	a := &Activity{Sets: 1}
	if v := f["id"]; v != nil {
		id, ok := d.str(v, "id")
		if a.ID = id; ok && !idPattern.MatchString(id) {
			d.errorf(v, "activity id %q must be lowercase letters, digits and hyphens, e.g. walk", id)
		}
	}
	if v := f["name"]; v != nil {
		a.Name = d.text(v, "name", "")
		d.limit(v, "name", a.Name, MaxNameLength, false)
	}
	if v := f["kind"]; v != nil {
		k, ok := d.str(v, "kind")
		if a.Kind = Kind(k); ok && !slices.Contains(kinds, a.Kind) {
			d.errorf(v, "unknown kind %q: use aerobic, stretch, strength, mobility or relaxation", k)
		}
	}
	if v := f["unit"]; v != nil {
		u, ok := d.str(v, "unit")
		if a.Unit = Unit(u); ok && !slices.Contains(units, a.Unit) {
			d.errorf(v, "unknown unit %q: use minutes, reps or seconds", u)
		}
	}
	if v := f["sets"]; v != nil {
		a.Sets, _ = d.integer(v, "sets", 1, 20)
	}
	a.Granule = a.Unit.DefaultGranule()
	if v := f["granule"]; v != nil {
		a.Granule, _ = d.integer(v, "granule", 1, 600)
	}
	if v := f["start_percent"]; v != nil {
		a.StartPercent, _ = d.integer(v, "start_percent", 1, 100)
	}
	dose := func(key string) int {
		v := f[key]
		if v == nil {
			return 0
		}
		x, ok := d.integer(v, key, -1<<31, 1<<31-1)
		if !ok {
			return 0
		}
		switch {
		case x <= 0:
			d.errorf(v, "%s must be more than zero, not %d", key, x)
			return 0
		case x > 100000:
			d.errorf(v, "%s %d is implausibly large; doses are minutes, reps or seconds of one session", key, x)
			return 0
		case a.Granule > 0 && x%a.Granule != 0:
			d.errorf(v, "%s %d is not a whole number of granules of %d; use %d or %d",
				key, x, a.Granule, x/a.Granule*a.Granule, (x/a.Granule+1)*a.Granule)
			return 0
		}
		return x
	}
	a.Baseline, a.Goal, a.Threshold, a.Step = dose("baseline"), dose("goal"), dose("threshold"), dose("step")
	if a.Baseline > 0 && a.Goal > 0 && a.Granule > 0 {
		if start := a.StartDose(r, a.Baseline); a.Goal < start {
			d.errorf(f["goal"], "goal %d is below the start dose %d (%d%% of the baseline %d); raise the goal or lower the baseline",
				a.Goal, start, a.startPercent(r), a.Baseline)
		}
	}
	if v := f["schedule"]; v != nil {
		a.Schedule = d.schedule(v)
	}
	if v := f["instructions"]; v != nil {
		ins, ok := d.str(v, "instructions")
		if a.Instructions = strings.TrimSpace(ins); ok && a.Instructions == "" {
			d.errorf(v, "instructions must say how to do the activity, what it should feel like and when to stop")
		}
		d.limit(v, "instructions", a.Instructions, MaxTextLength, true)
	}
	return a, f["id"]
}

func (d *decoder) schedule(n *yaml.Node) Schedule {
	f := d.fields(n, "schedule", []string{"days", "per_week", "times"}, []string{"times"})
	var s Schedule
	if f == nil {
		return s
	}
	days, perWeek := f["days"], f["per_week"]
	switch {
	case days != nil && perWeek != nil:
		d.errorf(perWeek, "schedule has both days and per_week; keep one")
	case days == nil && perWeek == nil:
		d.errorf(n, "schedule needs days (e.g. [mon, wed, fri] or [daily]) or per_week (1 to 7)")
	case days != nil:
		s.Days = d.days(days)
	default:
		s.PerWeek, _ = d.integer(perWeek, "per_week", 1, 7)
	}
	if t := f["times"]; t != nil {
		s.Times = d.times(t)
	}
	return s
}
