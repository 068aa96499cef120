package store

import (
	"errors"
	"fmt"
	"time"

	"pacer/programs"
)

// ErrNotFound means no row matched; for patient-scoped lookups it also means
// the row belongs to another therapist, which callers must not reveal.
var ErrNotFound = errors.New("not found")

// ErrInvalid means the values given cannot be stored as they are (a channel
// listed twice, a malformed setting); its message says what to fix.
var ErrInvalid = errors.New("invalid")

// invalidError is an ErrInvalid with its own message.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalidf(format string, args ...any) error { return &invalidError{fmt.Sprintf(format, args...)} }

// ErrConflict means a unique value (an email, a token) is already taken.
var ErrConflict = errors.New("conflict")

// Therapist is a therapist or an admin who logs in and owns patients.
type Therapist struct {
	ID        int64
	Email     string
	Name      string
	Admin     bool
	CreatedAt time.Time
	// DisabledAt is when an admin disabled the therapist; zero while they
	// may sign in and use their tokens.
	DisabledAt time.Time
}

// Patient belongs to one therapist. Feed and check-in tokens are stored only
// as hashes (see HashToken).
type Patient struct {
	ID          int64
	TherapistID int64
	Name        string
	Email       string
	Timezone    string // IANA name
	Discreet    bool   // calendar and notification text without program names
	Alarm       bool   // a VALARM on feed events
	// FeedVersion rises whenever this patient's sessions change or a link of
	// theirs is rotated.
	FeedVersion int64
	// FeedNonce and CheckinNonce are random per patient; the server derives
	// the capability tokens from them with its secret key (outside the
	// database), so it can put links in feeds and reminders while the
	// database alone reveals no token. Rotating a token replaces its nonce.
	FeedNonce    []byte
	CheckinNonce []byte
	CreatedAt    time.Time
}

// Assignment is a program given to a patient: a snapshot of the program
// (stored as its normalized YAML, so later template edits do not change it)
// and the therapist's parameters. The store decodes the snapshot once per
// distinct program; Program is shared and must not be changed.
type Assignment struct {
	ID        int64
	PatientID int64
	ProgramID string
	Program   *programs.Program
	Start     programs.Date
	Params    Params
	Status    string // "active" or "ended"
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Params are the therapist's per-patient parameters of an assignment, keyed by
// activity id.
type Params struct {
	Baseline  map[string]int              `json:"baseline,omitempty"`
	Threshold map[string]int              `json:"threshold,omitempty"`
	Goal      map[string]int              `json:"goal,omitempty"`
	Schedule  map[string]ScheduleOverride `json:"schedule,omitempty"`
}

// ScheduleOverride replaces an activity's days and local times.
type ScheduleOverride struct {
	Days    []string `json:"days,omitempty"` // mon..sun or ["daily"]
	PerWeek int      `json:"per_week,omitempty"`
	Times   []string `json:"times"`
}

// CheckIn is one logged event. Patient-level kinds (daily, flare, settled,
// weekly, red_flag) have AssignmentID 0 and apply to every assignment of the
// patient; a session check-in names its assignment.
type CheckIn struct {
	ID           int64
	PatientID    int64
	AssignmentID int64
	CheckIn      programs.CheckIn
	CreatedAt    time.Time
}

// Override is a therapist's change to an assignment from a date on.
type Override struct {
	ID           int64
	AssignmentID int64
	programs.Overriding
	CreatedAt time.Time
}

// Session is one materialized session. (AssignmentID, Activity, Date, Slot)
// identifies it for good: its ID never changes, and Revision (the feed's
// SEQUENCE) rises whenever a calendar would show it differently: its time,
// dose, sets, unit, projected flag, cancellation, or anything Shown digests.
// A check-in that marks it done changes Status, Actual and Pain only.
type Session struct {
	ID           int64
	AssignmentID int64
	PatientID    int64
	Activity     string
	Date         programs.Date
	// Slot is the 0-based order among the activity's planned sessions on
	// Date; an extra session (one the patient logged on a day with nothing
	// planned) has a negative slot.
	Slot        int
	Time        programs.Clock
	Dose        int
	Sets        int
	Unit        programs.Unit
	Week        int
	Status      programs.Status
	Projected   bool
	Actual      int  // the dose logged for a done or partial session
	Pain        *int // the pain logged with it, 0-10
	Calibration bool
	Extra       bool
	// Cause is programs.Session.Cause: 0 is its activity's decision for
	// the week, k > 0 the week's k-th event (PlanEvent.Seq).
	Cause int
	// Shown digests what a calendar shows of the session beyond the other
	// fields (the wording of its reason, its title, its alarm), as the
	// re-plan that wrote it chose them.
	Shown     string
	Revision  int
	UpdatedAt time.Time
}

// PlanHeader is an assignment's plan as of its last re-plan: when, under
// which rules, and its state then.
type PlanHeader struct {
	AssignmentID int64
	PatientID    int64
	RulesVersion int
	Now          programs.Date // the patient's local date the plan was computed for
	PlannedAt    time.Time
	Weeks        int
	Pause        programs.PauseCause
	PausedOn     programs.Date
	Answers      []string
	FlareOn      programs.Date
	// FlareAsk is the day the patient is asked "still in a flare-up?"
	// (programs.Plan.FlareAsk); 0: none.
	FlareAsk   programs.Date
	Persistent bool
	// Digest is PlanDigest of the sessions, weeks and events the re-plan
	// wrote; set by SavePlan.
	Digest string
}

// PlanWeek is a week's decision for an activity, or (Activity "") the week's
// own decision with its signals.
type PlanWeek struct {
	Week      int
	Activity  string
	Start     programs.Date
	Projected bool
	Decision  programs.Decision
	Unit      programs.Unit
	Dose      int
	Sets      int
	Goal      int
	Threshold int
	Learned   bool
	Ceiling   int
	Done      int
	Planned   int
	Signals   *programs.Signals
}

// PlanEvent is a change within a week; Seq numbers a week's events from 1.
type PlanEvent struct {
	Week int
	Seq  int
	programs.Event
}

// Plan is what re-planning stores of an assignment besides its sessions.
type Plan struct {
	Header PlanHeader
	Weeks  []PlanWeek  // by week, then activity ("" first)
	Events []PlanEvent // by week, then seq
}
