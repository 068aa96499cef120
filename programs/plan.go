package programs

import "time"

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
}

// At is the session's instant in loc, the plan's zone. The local wall-clock
// time is kept across DST changes; a time that a change skips resolves as in
// time.Date, moved forward by the gap, on the same date.
func (s *Session) At(loc *time.Location) time.Time { return s.Date.In(loc, int(s.Time)) }

// ActivityWeek is one activity's dose and sessions in one week.
type ActivityWeek struct {
	ID        string    `json:"id"`
	Unit      Unit      `json:"unit"`
	Dose      int       `json:"dose"`
	Sets      int       `json:"sets"`
	Decision  Decision  `json:"decision"`
	Goal      int       `json:"goal"`
	Threshold int       `json:"threshold,omitempty"`
	Ceiling   int       `json:"ceiling,omitempty"`
	Sessions  []Session `json:"sessions"`
}

// Event is a change that took effect during a week rather than at its review:
// a flare step-back from the day after the flare, a flare's end, a red-flag
// pause, a therapist's override, the end of calibration.
type Event struct {
	Date     Date   `json:"date"`
	Code     Code   `json:"code"`
	Activity string `json:"activity,omitempty"`
	Reason   string `json:"reason"`
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

// Plan is the engine's output for one assignment.
type Plan struct {
	Program  string `json:"program"`
	Start    Date   `json:"start"`
	Timezone string `json:"timezone"`
	Now      Date   `json:"now"`
	// Paused and InFlare describe the assignment on Now.
	Paused  bool   `json:"paused"`
	InFlare bool   `json:"in_flare"`
	Weeks   []Week `json:"weeks"`
}
