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
	// StillInFlareCheckIn answers "still in a flare-up?", asked on the last
	// day of a flare's step-back (Plan.FlareAsk): Yes true extends the flare
	// as a flare check-in does, false ends it as settled does. Without an
	// answer the flare ends after that day.
	StillInFlareCheckIn CheckInKind = "still_in_flare"
)

var checkInKinds = "session, daily, flare, still_in_flare, settled, weekly or red_flag"

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
	case StillInFlareCheckIn:
		return 4
	case SettledCheckIn:
		return 5
	case RedFlagCheckIn:
		return 6
	}
	return 7
}

// CheckIn is one event a patient logged; fields apply by Kind.
type CheckIn struct {
	Date     Date        `json:"date"`
	Kind     CheckInKind `json:"kind"`
	Activity string      `json:"activity,omitempty"`
	// Time picks one of several sessions on the same day.
	Time       *Clock `json:"time,omitempty"`
	Status     Status `json:"status,omitempty"`
	Dose       *int   `json:"dose,omitempty"`
	Pain       *int   `json:"pain,omitempty"`
	Function   *int   `json:"function,omitempty"`
	Symptoms   *int   `json:"symptoms,omitempty"`
	Confidence *int   `json:"confidence,omitempty"`
	// Yes answers "still in a flare-up?" (still_in_flare).
	Yes *bool `json:"yes,omitempty"`
	// Answers are the red-flag items answered yes; Worse those of them the
	// patient says are worse than when the therapist marked them known.
	Answers []string `json:"answers,omitempty"`
	Worse   []string `json:"worse,omitempty"`
	// At is when it was recorded, if known. It orders events of one day that
	// must not be reordered: a therapist's resume applies after a red flag of
	// the same day only when it was recorded after it.
	At time.Time `json:"at,omitzero"`
}

// Urgency is how soon a red-flag answer needs a doctor (progression.md,
// "Red-flag screen"); the guidance a patient reads is the most urgent
// answered, worded by the message catalogues (redflag.urgency.<urgency>).
type Urgency string

// The urgency tiers, least urgent first.
const (
	UrgencySoon      Urgency = "soon"      // contact your doctor soon
	UrgencyToday     Urgency = "today"     // see a doctor today
	UrgencyEmergency Urgency = "emergency" // emergency now
)

func (u Urgency) rank() int {
	switch u {
	case UrgencySoon:
		return 1
	case UrgencyToday:
		return 2
	case UrgencyEmergency:
		return 3
	}
	return 0
}

// RedFlag is one item of the red-flag screen; a "yes" pauses the program.
// Its question is the message catalogues' (redflag.q.<ID>), asked as new or
// worse since the patient's last answers.
type RedFlag struct {
	ID      string
	Urgency Urgency
}

// RedFlags is the red-flag screen of progression.md (version 2), in the
// order it is asked: most urgent first.
var RedFlags = []RedFlag{
	{"saddle_numbness", UrgencyEmergency},
	{"bladder_bowel", UrgencyEmergency},
	{"leg_weakness", UrgencyEmergency},
	{"fever_unwell", UrgencyToday},
	{"weight_loss_cancer", UrgencyToday},
	{"fall_injury", UrgencyToday},
	{"immune_drugs", UrgencyToday},
	{"night_pain", UrgencySoon},
}

// retiredRedFlags were asked by the first screen and may be in stored
// check-ins; they are no longer asked but keep their meaning.
var retiredRedFlags = []RedFlag{
	{"fever_weight_cancer", UrgencyToday},
}

// RedFlagUrgency is the urgency of a red-flag answer, asked or retired.
func RedFlagUrgency(id string) (Urgency, bool) {
	for _, r := range slices.Concat(RedFlags, retiredRedFlags) {
		if r.ID == id {
			return r.Urgency, true
		}
	}
	return "", false
}

// MoreUrgent reports whether u is more urgent than v.
func (u Urgency) MoreUrgent(v Urgency) bool { return u.rank() > v.rank() }

// MostUrgent is the most urgent tier of the answers ("" for none).
func MostUrgent(answers []string) Urgency {
	var most Urgency
	for _, a := range answers {
		if u, ok := RedFlagUrgency(a); ok && u.rank() > most.rank() {
			most = u
		}
	}
	return most
}

func isRedFlag(id string) bool {
	_, ok := RedFlagUrgency(id)
	return ok
}

func redFlagIDs() string {
	ids := make([]string, len(RedFlags))
	for i, r := range RedFlags {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

// KnownRedFlag is a red-flag item a therapist has marked known and reviewed
// for a patient, e.g. a history of cancer already assessed. The screen asks
// what is new or worse since the last answers; a patient with a known item
// will still answer it yes. Such a yes, on a screen after the item was
// marked, does not pause. A screen pauses when it holds any other yes (a new
// item) or lists the known item in the check-in's Worse (worse than when it
// was reviewed). Marking an item changes nothing before it was marked: a
// pause it explained stays in the plan's history, and a therapist resumes it.
// Un-marking it changes nothing before it was un-marked either: a screen it
// covered then does not pause after the fact.
type KnownRedFlag struct {
	ID string
	// Since is the day it was marked, At when (if known). It covers answers
	// dated after Since, and those dated Since and recorded after At.
	Since Date
	At    time.Time
	// Until is the day it was un-marked (0: it is still marked), UntilAt
	// when (if known). It covers answers dated before Until, and those dated
	// Until and recorded before UntilAt.
	Until   Date
	UntilAt time.Time
}

// PausingAnswers splits the yes answers of red-flag screen c by whether they
// pause a plan, given the therapist's markings: an answer pauses unless a
// marking of its item covers the screen and the patient does not say it is
// worse. The engine pauses on a screen with any pausing answer.
func PausingAnswers(marked []KnownRedFlag, c *CheckIn) (known, pausing []string) {
	for _, a := range c.Answers {
		covered := false
		for i := range marked {
			if marked[i].ID == a && marked[i].covers(c) {
				covered = true
				break
			}
		}
		if covered && !slices.Contains(c.Worse, a) {
			known = append(known, a)
		} else {
			pausing = append(pausing, a)
		}
	}
	return known, pausing
}

// covers reports whether k covers a yes to its item on screen c. Where the
// order of a day's screen and a therapist's mark cannot be told (an instant
// is missing), the screen is not covered: it pauses.
func (k *KnownRedFlag) covers(c *CheckIn) bool {
	switch {
	case c.Date < k.Since:
		return false
	case c.Date == k.Since && (k.At.IsZero() || c.At.IsZero() || !c.At.After(k.At)):
		return false
	case k.Until == 0 || c.Date < k.Until:
		return true
	case c.Date > k.Until:
		return false
	}
	return !k.UntilAt.IsZero() && !c.At.IsZero() && c.At.Before(k.UntilAt)
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
		for _, a := range c.Worse {
			if !slices.Contains(c.Answers, a) {
				return fmt.Errorf("worse lists %q, which is not among the answers; list an item in worse only when it is answered yes", a)
			}
		}
	case StillInFlareCheckIn:
		if c.Yes == nil {
			return fmt.Errorf(`a still_in_flare check-in needs "yes": true (still in a flare-up) or false (it has settled)`)
		}
	case FlareCheckIn, SettledCheckIn:
	case "":
		return fmt.Errorf("kind is missing: use %s", checkInKinds)
	default:
		return fmt.Errorf("unknown kind %q: use %s", c.Kind, checkInKinds)
	}
	if c.Kind != RedFlagCheckIn && (len(c.Answers) > 0 || len(c.Worse) > 0) {
		return fmt.Errorf("answers and worse belong to a red_flag check-in")
	}
	if c.Kind != StillInFlareCheckIn && c.Yes != nil {
		return fmt.Errorf(`"yes" belongs to a still_in_flare check-in`)
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
	// A day's red-flag screens in the order they were answered (one with
	// no time first): a screen after a resume of its day pauses again, one
	// before it does not.
	if a.Kind == RedFlagCheckIn {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
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
	if c := cmp.Compare(boolOr(a.Yes), boolOr(b.Yes)); c != 0 {
		return c
	}
	if c := slices.Compare(a.Answers, b.Answers); c != 0 {
		return c
	}
	if c := slices.Compare(a.Worse, b.Worse); c != 0 {
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

func boolOr(v *bool) int {
	switch {
	case v == nil:
		return -1
	case *v:
		return 1
	}
	return 0
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

// order is the order in which a day's overrides recorded at the same instant
// (or at none known, as in a check-ins file) apply: a pause before a resume
// (so that both leave the plan running), a resume before a dose (so that a
// dose the therapist sets on resuming is the one that holds). Overrides
// recorded at different instants apply in the order they were recorded.
func (k OverrideKind) order() int {
	switch k {
	case PauseOverride:
		return 0
	case ResumeOverride:
		return 1
	case ThresholdOverride:
		return 2
	case GoalOverride:
		return 3
	case DoseOverride:
		return 4
	}
	return 5
}

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
