package programs

import "time"

// RulesVersion is the version of progression.md the engine follows. A plan
// stored under older rules is computed again when pacer starts.
const RulesVersion = 1

// Code names a progression decision; progression.md lists them.
type Code string

// The decision codes.
const (
	Start           Code = "START"
	Progress        Code = "PROGRESS"
	HoldAdherence   Code = "HOLD_ADHERENCE"
	HoldResponse    Code = "HOLD_RESPONSE"
	HoldCeiling     Code = "HOLD_CEILING"
	GoalReached     Code = "GOAL_REACHED"
	FlareStepBack   Code = "FLARE_STEP_BACK"
	FlareResume     Code = "FLARE_RESUME"
	FlarePersistent Code = "FLARE_PERSISTENT"
	PausedRedFlag   Code = "PAUSED_RED_FLAG"
	CalibrationCode Code = "CALIBRATION"
	Override        Code = "OVERRIDE"
)

// weight orders codes by how much they matter to the person reading a week
// that mixes several activities: the week shows its weightiest decision.
func (c Code) weight() int {
	switch c {
	case PausedRedFlag:
		return 12
	case FlarePersistent:
		return 11
	case FlareStepBack:
		return 10
	case FlareResume:
		return 9
	case CalibrationCode:
		return 8
	case Override:
		return 7
	case HoldResponse:
		return 6
	case HoldAdherence:
		return 5
	case HoldCeiling:
		return 4
	case Progress:
		return 3
	case GoalReached:
		return 2
	case Start:
		return 1
	}
	return 0
}

// Status is a session's state.
type Status string

// Session statuses. Planned sessions in the past become Missed; sessions a
// red flag or a pause removed become Cancelled.
const (
	Planned   Status = "planned"
	Done      Status = "done"
	Partial   Status = "partial"
	Skipped   Status = "skipped"
	Missed    Status = "missed"
	Cancelled Status = "cancelled"
)

// Session is one planned occurrence of an activity at a local date and time.
type Session struct {
	Date   Date   `json:"date"`
	Time   Clock  `json:"time"`
	Dose   int    `json:"dose"`
	Status Status `json:"status"`
	// Actual is the dose logged for a done or partial session.
	Actual int  `json:"actual,omitempty"`
	Pain   *int `json:"pain,omitempty"`
	// Calibration marks a calibration-phase session: as much as is
	// comfortable, up to Dose.
	Calibration bool `json:"calibration,omitempty"`
	// Extra marks a session the patient logged on a day none was planned.
	Extra bool `json:"extra,omitempty"`
	// Cause says why the session has its dose: 0 is its activity's decision
	// for the week; k > 0 is the week's k-th event (Week.Events[k-1]), e.g. a
	// flare declared that day or before, or a therapist's change.
	Cause int `json:"cause,omitempty"`
}

// At is the session's instant in loc, the plan's zone. The local wall-clock
// time is kept across DST changes; a time that a change skips resolves as in
// time.Date, moved forward by the gap, on the same date.
func (s *Session) At(loc *time.Location) time.Time { return s.Date.In(loc, int(s.Time)) }

// Clamp names the limit that held a dose back.
type Clamp string

// The clamps of the weekly review (progression.md, "Weekly review").
const (
	ClampCeiling Clamp = "ceiling" // Facts.Percent: the margin; Facts.Threshold
	ClampSpike   Clamp = "spike"   // Facts.Percent: the spike cap; Facts.Days: its window
	ClampLoad    Clamp = "load"    // Facts.Percent: the weekly load cap
)

// ActivityDose is one activity's dose, e.g. in a flare's step-back.
type ActivityDose struct {
	Activity string `json:"activity"`
	Dose     int    `json:"dose"`
}

// Facts are the numbers behind a decision or an event: everything the
// sentence that explains it quotes, so that a message catalogue can word it
// in any language and every reader words the same facts. A zero field is
// absent. Which fields a code sets is told at each use in the engine; the
// rules' own numbers (a gate, a cap) are copied in, so that a stored reason
// stays true to the rules it was decided under.
type Facts struct {
	Dose       int            `json:"dose,omitempty"`       // the dose from now on
	Prev       int            `json:"prev,omitempty"`       // the dose before the decision
	Done       int            `json:"done,omitempty"`       // sessions done in the week judged
	Planned    int            `json:"planned,omitempty"`    // sessions planned in the week judged
	Percent    int            `json:"percent,omitempty"`    // the rule's percentage: start, gate, margin or cap
	Days       int            `json:"days,omitempty"`       // days the rule counts
	Rise       int            `json:"rise,omitempty"`       // pain points above usual (response gate)
	Baseline   int            `json:"baseline,omitempty"`   // the baseline a start is taken from
	Goal       int            `json:"goal,omitempty"`       // the goal
	Threshold  int            `json:"threshold,omitempty"`  // the flare threshold
	Clamp      Clamp          `json:"clamp,omitempty"`      // the limit that held the dose back
	Change     OverrideKind   `json:"change,omitempty"`     // what a therapist changed
	Projected  bool           `json:"projected,omitempty"`  // the week judged is still to come
	Calibrated bool           `json:"calibrated,omitempty"` // the start comes from calibration
	Logged     bool           `json:"logged,omitempty"`     // calibration amounts were logged
	Capped     bool           `json:"capped,omitempty"`     // a therapist's dose was lowered to the goal or ceiling
	Flare      Date           `json:"flare,omitzero"`       // the day a flare was declared
	From       Date           `json:"from,omitzero"`        // the day a change takes effect
	Since      Date           `json:"since,omitzero"`       // the day a pause or a restart began
	Doses      []ActivityDose `json:"doses,omitempty"`      // per activity, e.g. a flare's step-back
	Answers    []string       `json:"answers,omitempty"`    // red-flag answers
}

// Decision is what the weekly review decided for an activity, or, for a
// week, the weightiest of its activities' decisions, with the numbers behind
// it. The engine writes no prose: a message catalogue words it.
type Decision struct {
	Code Code `json:"code"`
	// Activity is the activity decided for; a week's decision keeps the
	// activity whose decision it is.
	Activity string `json:"activity,omitempty"`
	Facts    Facts  `json:"facts"`
}

// ActivityWeek is one activity's dose and sessions in one week.
type ActivityWeek struct {
	ID       string   `json:"id"`
	Unit     Unit     `json:"unit"`
	Dose     int      `json:"dose"`
	Sets     int      `json:"sets"`
	Decision Decision `json:"decision"`
	Goal     int      `json:"goal"`
	// Threshold is the flare threshold in force at the review, set by the
	// therapist or, when Learned, learned from a flare; Ceiling is the
	// highest dose it allows.
	Threshold int  `json:"threshold,omitempty"`
	Learned   bool `json:"learned,omitempty"`
	Ceiling   int  `json:"ceiling,omitempty"`
	// Done of Planned sessions: the week's adherence as the gate counts it
	// (extra and cancelled sessions do not count; in a projection every
	// planned session counts as done).
	Done     int       `json:"done"`
	Planned  int       `json:"planned"`
	Sessions []Session `json:"sessions"`
}

// Event is a change that took effect during a week rather than at its review:
// a flare (dated the day it was declared, its step-back from Facts.From), a
// flare's end, a red-flag pause, a therapist's change, the end of
// calibration.
type Event struct {
	Date     Date   `json:"date"`
	Code     Code   `json:"code"`
	Activity string `json:"activity,omitempty"`
	Facts    Facts  `json:"facts"`
}

// Signals are the weekly three-signals check, each 0-10.
type Signals struct {
	Function   int `json:"function"`
	Symptoms   int `json:"symptoms"`
	Confidence int `json:"confidence"`
}

// Week is program week n: seven local days from the assignment's start date.
type Week struct {
	Week       int            `json:"week"`
	Start      Date           `json:"start"`
	Projected  bool           `json:"projected"`
	Decision   Decision       `json:"decision"`
	Activities []ActivityWeek `json:"activities"`
	Events     []Event        `json:"events,omitempty"`
	Signals    *Signals       `json:"signals,omitempty"`
}

// PauseCause says who paused a plan.
type PauseCause string

// The pause causes.
const (
	PausedByRedFlag   PauseCause = "red_flag"
	PausedByTherapist PauseCause = "therapist"
)

// Plan is the engine's output for one assignment.
type Plan struct {
	Program  string `json:"program"`
	Start    Date   `json:"start"`
	Timezone string `json:"timezone"`
	Now      Date   `json:"now"`
	// Paused and InFlare describe the assignment on Now; Pause says who
	// paused it and PausedOn when, FlareOn is the day the current flare was
	// declared, Answers the red-flag answers of a red-flag pause.
	Paused     bool       `json:"paused"`
	InFlare    bool       `json:"in_flare"`
	Pause      PauseCause `json:"pause,omitempty"`
	PausedOn   Date       `json:"paused_on,omitzero"`
	Answers    []string   `json:"answers,omitempty"`
	FlareOn    Date       `json:"flare_on,omitzero"`
	Persistent bool       `json:"persistent,omitempty"`
	Weeks      []Week     `json:"weeks"`
}
