package store

import (
	"errors"
	"time"

	"pacer/programs"
)

// ErrNotFound means no row matched; for patient-scoped lookups it also means
// the row belongs to another therapist, which callers must not reveal.
var ErrNotFound = errors.New("not found")

// ErrConflict means a unique value (an email, a token) is already taken.
var ErrConflict = errors.New("conflict")

// Therapist is a therapist or an admin who logs in and owns patients.
type Therapist struct {
	ID        int64
	Email     string
	Name      string
	Admin     bool
	CreatedAt time.Time
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
	// FeedVersion rises whenever this patient's sessions change, so a cached
	// feed rendered at one version stays valid until it moves.
	FeedVersion int64
	// FeedNonce and CheckinNonce are random per patient; the server derives
	// the capability tokens from them with its secret key (outside the
	// database), so it can put links in feeds and reminders while the
	// database alone reveals no token. Rotating a token replaces its nonce.
	FeedNonce    []byte
	CheckinNonce []byte
	CreatedAt    time.Time
}

// Assignment is a program given to a patient: a snapshot of the program (its
// normalized YAML, so later template edits do not change it) and the
// therapist's parameters.
type Assignment struct {
	ID        int64
	PatientID int64
	ProgramID string
	Program   []byte // programs.Program.YAML()
	Start     programs.Date
	Params    []byte // JSON of Params
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
// dose, sets, unit, projected flag, or its cancellation. A check-in that marks
// it done changes Status only.
type Session struct {
	ID           int64
	AssignmentID int64
	PatientID    int64
	Activity     string
	Date         programs.Date
	Slot         int // 0-based order among the activity's sessions on Date
	Time         programs.Clock
	Dose         int
	Sets         int
	Unit         programs.Unit
	Week         int
	Status       programs.Status
	Projected    bool
	Revision     int
	UpdatedAt    time.Time
}

// Decision is one weekly decision of an assignment: Activity "" is the week's.
type Decision struct {
	AssignmentID int64
	Week         int
	Activity     string
	Code         programs.Code
	Reason       string
}
