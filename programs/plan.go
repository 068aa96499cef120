package programs

import "time"

// RulesVersion is the version of progression.md the engine follows. A plan
// stored under older rules is computed again when pacer starts.
const RulesVersion = 2

// Code names a progression decision; progression.md lists them.
type Code string

// The decision and event codes. Decisions are a week's, per activity;
// events happen on a day (Event). THRESHOLD_LEARNED, CEILING_READY and
// THRESHOLD_TINY are events only: they tell the therapist something to review
// and never decide a week.
const (
	Start            Code = "START"
	Progress         Code = "PROGRESS"
	HoldAdherence    Code = "HOLD_ADHERENCE"
	HoldResponse     Code = "HOLD_RESPONSE"
	HoldCeiling      Code = "HOLD_CEILING"
	HoldSpike        Code = "HOLD_SPIKE"
	HoldLoad         Code = "HOLD_LOAD"
	GoalReached      Code = "GOAL_REACHED"
	AdjustToLogged   Code = "ADJUST_TO_LOGGED"
	FlareStepBack    Code = "FLARE_STEP_BACK"
	FlareReentry     Code = "FLARE_REENTRY"
	FlareResume      Code = "FLARE_RESUME"
	FlarePersistent  Code = "FLARE_PERSISTENT"
	Paused           Code = "PAUSED"
	PausedRedFlag    Code = "PAUSED_RED_FLAG"
	Resumed          Code = "RESUMED"
	CalibrationCode  Code = "CALIBRATION"
	Override         Code = "OVERRIDE"
	ThresholdLearned Code = "THRESHOLD_LEARNED"
	CeilingReady     Code = "CEILING_READY"
	ThresholdTiny    Code = "THRESHOLD_TINY"
)

// Codes lists every code, weightiest first: a week that mixes several
// activities shows the weightiest of their decisions. What stops the plan
// outweighs what steps it back, which outweighs what holds it, which
// outweighs what moves it on.
var Codes = []Code{
	PausedRedFlag, Paused, FlarePersistent, FlareStepBack, FlareReentry, FlareResume, Resumed,
	CalibrationCode, Override, AdjustToLogged, HoldResponse, HoldAdherence, HoldCeiling, HoldLoad,
	HoldSpike, Progress, GoalReached, Start, ThresholdTiny, ThresholdLearned, CeilingReady,
}

var codeWeight = func() map[Code]int {
	m := make(map[Code]int, len(Codes))
	for i, c := range Codes {
		m[c] = len(Codes) - i
	}
	return m
}()

func (c Code) weight() int { return codeWeight[c] }

// Status is a session's state.
type Status string

// Session statuses. A session with no check-in LateLogDays after its day
// becomes Missed (until then it is Planned: it may still be logged); sessions
// a red flag removed become Cancelled.
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
	ClampCeiling Clamp = "ceiling" // HOLD_CEILING; Facts.Percent: the margin; Facts.Threshold
	ClampSpike   Clamp = "spike"   // HOLD_SPIKE; Facts.Percent: the spike cap; Facts.Days: its window
	ClampLoad    Clamp = "load"    // HOLD_LOAD; Facts.Percent: the weekly load cap; Facts.Weeks: the counted weeks it looks at
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
	Dose        int            `json:"dose,omitempty"`         // the dose from now on
	Prev        int            `json:"prev,omitempty"`         // the dose before the decision
	Done        int            `json:"done,omitempty"`         // sessions done in the week judged
	Planned     int            `json:"planned,omitempty"`      // sessions planned in the week judged
	Percent     int            `json:"percent,omitempty"`      // the rule's percentage: start, gate, margin, cap, re-entry, restart
	Days        int            `json:"days,omitempty"`         // days the rule counts; days paused
	Weeks       int            `json:"weeks,omitempty"`        // counted weeks the rule looks at
	Rise        int            `json:"rise,omitempty"`         // pain points above usual (response gate)
	Baseline    int            `json:"baseline,omitempty"`     // the baseline a start is taken from
	Goal        int            `json:"goal,omitempty"`         // the goal
	Threshold   int            `json:"threshold,omitempty"`    // the flare threshold
	Ceiling     int            `json:"ceiling,omitempty"`      // the ceiling below the threshold
	PrevCeiling int            `json:"prev_ceiling,omitempty"` // the ceiling before a threshold was learned; 0: none
	Granule     int            `json:"granule,omitempty"`      // the smallest step: what a carried step adds up to
	Clamp       Clamp          `json:"clamp,omitempty"`        // the limit that held the dose back
	Change      OverrideKind   `json:"change,omitempty"`       // what a therapist changed
	Projected   bool           `json:"projected,omitempty"`    // the week judged is still to come, or has sessions still to be logged
	Calibrated  bool           `json:"calibrated,omitempty"`   // the start comes from calibration
	Logged      bool           `json:"logged,omitempty"`       // calibration amounts were logged
	Capped      bool           `json:"capped,omitempty"`       // a therapist's dose was lowered to the goal or ceiling
	Carried     bool           `json:"carried,omitempty"`      // the week's step is less than a granule: carried to the next week
	Exempt      bool           `json:"exempt,omitempty"`       // a relaxation activity: a flare does not change it
	EveryOther  bool           `json:"every_other,omitempty"`  // the threshold leaves no granule below it: one granule, every other session
	Flare       Date           `json:"flare,omitzero"`         // the day a flare was declared
	From        Date           `json:"from,omitzero"`          // the day a change takes effect
	Until       Date           `json:"until,omitzero"`         // the last day a change lasts (a re-entry)
	Since       Date           `json:"since,omitzero"`         // the day a pause or a restart began
	Doses       []ActivityDose `json:"doses,omitempty"`        // per activity, e.g. a flare's step-back
	Answers     []string       `json:"answers,omitempty"`      // red-flag answers (every yes of the screen)
	Known       []string       `json:"known,omitempty"`        // the answers the therapist had marked known and reviewed
	Urgency     Urgency        `json:"urgency,omitempty"`      // the most urgent of the answers that paused
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
	// EveryOther: the ceiling is below one granule, so the activity runs at
	// one granule on every other planned session (the tiny-threshold rule).
	EveryOther bool `json:"every_other,omitempty"`
	// Done of Planned sessions: the week's adherence as the gate counts it.
	// Planned counts the scheduled sessions that were not cancelled; Done
	// counts done sessions (a partial one from PartialDonePercent of its
	// dose), including extra ones logged on other days of the week, up to
	// Planned. A session still open to logging, like one in a projection,
	// counts as done.
	Done     int       `json:"done"`
	Planned  int       `json:"planned"`
	Sessions []Session `json:"sessions"`
}

// Event is a change that took effect during a week rather than at its review:
// a flare (dated the day it was declared, its step-back from Facts.From), a
// flare's end and re-entry, a red-flag pause, a therapist's change, the end
// of calibration; or something the therapist is told to review (a learned
// threshold, a ceiling held long enough to test, a tiny threshold). An event
// on a review day is also that week's decision for what it changes.
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
	// declared, Answers the red-flag answers of a red-flag pause (the first
	// screen's, then any new ones answered while paused) and Urgency the most
	// urgent of those that pause. FlareAsk is the day the patient
	// is asked "still in a flare-up?": the last day of the step-back, which a
	// "yes" (a still_in_flare check-in, or a flare) extends; without one the
	// flare ends after it.
	Paused     bool       `json:"paused"`
	InFlare    bool       `json:"in_flare"`
	Pause      PauseCause `json:"pause,omitempty"`
	PausedOn   Date       `json:"paused_on,omitzero"`
	Answers    []string   `json:"answers,omitempty"`
	Urgency    Urgency    `json:"urgency,omitempty"`
	FlareOn    Date       `json:"flare_on,omitzero"`
	FlareAsk   Date       `json:"flare_ask,omitzero"`
	Persistent bool       `json:"persistent,omitempty"`
	Weeks      []Week     `json:"weeks"`
}
