package programs

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CheckInKind is what a patient logged.
type CheckInKind string

// The check-in kinds (progression.md, "Check-ins").
const (
	SessionCheckIn CheckInKind = "session"
	DailyCheckIn   CheckInKind = "daily"
	FlareCheckIn   CheckInKind = "flare"
	SettledCheckIn CheckInKind = "settled"
	WeeklyCheckIn  CheckInKind = "weekly"
	RedFlagCheckIn CheckInKind = "red_flag"
)

// order is the order in which a day's check-ins apply: what was done before
// what was declared, so that a red flag never cancels a session already done.
func (k CheckInKind) order() int {
	switch k {
	case SessionCheckIn:
		return 0
	case DailyCheckIn:
		return 1
	case WeeklyCheckIn:
		return 2
	case FlareCheckIn:
		return 3
	case SettledCheckIn:
		return 4
	case RedFlagCheckIn:
		return 5
	}
	return 6
}

// CheckIn is one event a patient logged; fields apply by Kind.
type CheckIn struct {
	Date     Date        `json:"date"`
	Kind     CheckInKind `json:"kind"`
	Activity string      `json:"activity,omitempty"`
	// Time picks one of several sessions on the same day.
	Time       *Clock   `json:"time,omitempty"`
	Status     Status   `json:"status,omitempty"`
	Dose       *int     `json:"dose,omitempty"`
	Pain       *int     `json:"pain,omitempty"`
	Function   *int     `json:"function,omitempty"`
	Symptoms   *int     `json:"symptoms,omitempty"`
	Confidence *int     `json:"confidence,omitempty"`
	Answers    []string `json:"answers,omitempty"`
	// At is when it was recorded, if known. It orders events of one day that
	// must not be reordered: a therapist's resume applies after a red flag of
	// the same day only when it was recorded after it.
	At time.Time `json:"at,omitzero"`
}

// RedFlag is one question of the red-flag screen; a "yes" pauses the
// program. The question's wording is the message catalogues' (redflag.q.<ID>).
type RedFlag struct {
	ID string
}

// RedFlags is the red-flag screen of progression.md, in the order it is asked.
var RedFlags = []RedFlag{
	{"leg_weakness"}, {"saddle_numbness"}, {"bladder_bowel"}, {"fever_weight_cancer"}, {"night_pain"}, {"fall_injury"},
}

func isRedFlag(id string) bool {
	return slices.ContainsFunc(RedFlags, func(r RedFlag) bool { return r.ID == id })
}

func redFlagIDs() string {
	ids := make([]string, len(RedFlags))
	for i, r := range RedFlags {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

// Validate checks one check-in against a program and says what to fix.
func (c *CheckIn) Validate(p *Program) error {
	score := func(name string, v *int) error {
		if v != nil && (*v < 0 || *v > 10) {
			return fmt.Errorf("%s %d is outside 0-10", name, *v)
		}
		return nil
	}
	if err := score("pain", c.Pain); err != nil {
		return err
	}
	if err := c.checkFields(); err != nil {
		return err
	}
	switch c.Kind {
	case SessionCheckIn:
		if c.Activity == "" {
			return fmt.Errorf("a session check-in needs an activity (one of %s)", strings.Join(p.ActivityIDs(), ", "))
		}
		if _, ok := p.Activity(c.Activity); !ok {
			return fmt.Errorf("unknown activity %q (this program has %s)", c.Activity, strings.Join(p.ActivityIDs(), ", "))
		}
		switch c.Status {
		case Done, Partial, Skipped:
		case "":
			return fmt.Errorf("a session check-in needs a status: done, partial or skipped")
		default:
			return fmt.Errorf("unknown status %q: use done, partial or skipped", c.Status)
		}
		if c.Dose != nil && (*c.Dose < 0 || *c.Dose > 100000) {
			return fmt.Errorf("dose %d must be between 0 and 100000", *c.Dose)
		}
	case DailyCheckIn:
		if c.Pain == nil {
			return fmt.Errorf("a daily check-in needs pain (0-10)")
		}
	case WeeklyCheckIn:
		for _, s := range []struct {
			n string
			v *int
		}{{"function", c.Function}, {"symptoms", c.Symptoms}, {"confidence", c.Confidence}} {
			if s.v == nil {
				return fmt.Errorf("a weekly check-in needs function, symptoms and confidence (each 0-10)")
			}
			if err := score(s.n, s.v); err != nil {
				return err
			}
		}
	case RedFlagCheckIn:
		for _, a := range c.Answers {
			if !isRedFlag(a) {
				return fmt.Errorf("unknown red-flag answer %q (known: %s)", a, redFlagIDs())
			}
		}
	case FlareCheckIn, SettledCheckIn:
	case "":
		return fmt.Errorf("kind is missing: use session, daily, flare, settled, weekly or red_flag")
	default:
		return fmt.Errorf("unknown kind %q: use session, daily, flare, settled, weekly or red_flag", c.Kind)
	}
	return nil
}

// compareCheckIns orders check-ins by date, then by the order a day's events
// apply, then by every other field, so that any input order gives one order.
func compareCheckIns(a, b *CheckIn) int {
	if c := cmp.Compare(a.Date, b.Date); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind.order(), b.Kind.order()); c != 0 {
		return c
	}
	if c := strings.Compare(a.Activity, b.Activity); c != 0 {
		return c
	}
	if c := cmp.Compare(clockOr(a.Time), clockOr(b.Time)); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Status), string(b.Status)); c != 0 {
		return c
	}
	for _, f := range [...][2]*int{{a.Dose, b.Dose}, {a.Pain, b.Pain}, {a.Function, b.Function},
		{a.Symptoms, b.Symptoms}, {a.Confidence, b.Confidence}} {
		if c := cmp.Compare(intOr(f[0]), intOr(f[1])); c != 0 {
			return c
		}
	}
	if c := slices.Compare(a.Answers, b.Answers); c != 0 {
		return c
	}
	return a.At.Compare(b.At)
}

func clockOr(c *Clock) Clock {
	if c == nil {
		return -1
	}
	return *c
}

func intOr(v *int) int {
	if v == nil {
		return -1
	}
	return *v
}

// OverrideKind is what a therapist changed.
type OverrideKind string

// The therapist override kinds.
const (
	PauseOverride     OverrideKind = "pause"
	ResumeOverride    OverrideKind = "resume"
	DoseOverride      OverrideKind = "dose"
	ThresholdOverride OverrideKind = "threshold"
	GoalOverride      OverrideKind = "goal"
)

// Overriding is a therapist's change to an assignment from a date on.
type Overriding struct {
	Date     Date         `json:"date"`
	Kind     OverrideKind `json:"kind"`
	Activity string       `json:"activity,omitempty"`
	Value    int          `json:"value,omitempty"`
	At       time.Time    `json:"at,omitzero"` // when it was recorded, if known (see CheckIn.At)
}

// Validate checks one override against a program.
func (o *Overriding) Validate(p *Program) error {
	switch o.Kind {
	case PauseOverride, ResumeOverride:
		return nil
	case DoseOverride, ThresholdOverride, GoalOverride:
		a, ok := p.Activity(o.Activity)
		if !ok {
			return fmt.Errorf("unknown activity %q (this program has %s)", o.Activity, strings.Join(p.ActivityIDs(), ", "))
		}
		return checkDose(a, string(o.Kind), o.Value)
	}
	return fmt.Errorf("unknown override %q: use pause, resume, dose, threshold or goal", o.Kind)
}

func checkDose(a *Activity, what string, v int) error {
	switch {
	case v <= 0:
		return fmt.Errorf("%s for %s must be more than zero", what, a.ID)
	case v > 100000:
		return fmt.Errorf("%s %d for %s is implausibly large", what, v, a.ID)
	case v%a.Granule != 0:
		return fmt.Errorf("%s %d for %s is not a whole number of granules of %d; use %d or %d",
			what, v, a.ID, a.Granule, v/a.Granule*a.Granule, (v/a.Granule+1)*a.Granule)
	}
	return nil
}
