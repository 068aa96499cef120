// Package clinic owns what patients and therapists do with pacer: add a
// patient, assign, edit and end a program, check in, pause, resume and
// override, set reminder channels, rotate links, export and erase. Each
// change that touches a plan ends in one atomic, patient-level re-plan
// (replan.go), the only place the progression engine runs for stored plans;
// everything a page, a feed, a message or the API shows is read from what it
// stored (read.go). Its functions take and return domain values and say what
// to fix on bad input (Problem). The web layer and the CLI call it and only
// translate HTTP or flags.
//
// It imports the store, the engine (programs), the catalogues (i18n) and the
// reminder rules (scheduler); never net/http.
package clinic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// Store is what the clinic needs of the store.
type Store interface {
	WithPatient(ctx context.Context, patientID int64, fn func(tx *store.PatientTx) error) error
	WithPatients(ctx context.Context, ids []int64, fn func(tx *store.PatientTx) error) ([]error, error)
	CreatePatient(ctx context.Context, p store.Patient, feedHash, checkinHash []byte) (store.Patient, error)
	Patient(ctx context.Context, therapistID, id int64) (store.Patient, error)
	PatientByID(ctx context.Context, id int64) (store.Patient, error)
	Assignment(ctx context.Context, therapistID, id int64) (store.Assignment, error)
	AllAssignments(ctx context.Context, patientID int64) ([]store.Assignment, error)
	Plan(ctx context.Context, assignmentID int64) (store.Plan, error)
	AssignmentSessions(ctx context.Context, assignmentID int64) ([]store.Session, error)
	RotateFeedToken(ctx context.Context, therapistID, patientID int64, newNonce, newHash []byte) error
	PatientData(ctx context.Context, therapistID, patientID int64) (store.PatientData, error)
	ErasePatient(ctx context.Context, therapistID, patientID int64) error
	StalePatients(ctx context.Context, rulesVersion int) ([]int64, error)
	Channels(ctx context.Context, patientID int64) ([]store.Channel, error)
	NotifySettings(ctx context.Context, patientID int64) (store.NotifySettings, error)
	Reminders(ctx context.Context, patientID int64, since time.Time) ([]store.Reminder, error)
	Session(ctx context.Context, id int64) (store.Session, error)
	AssignmentByID(ctx context.Context, id int64) (store.Assignment, error)
	RotateLinks(ctx context.Context, therapistID, patientID int64, feedNonce, feedHash, checkinNonce, checkinHash []byte) error
	PendingChannel(ctx context.Context, hash []byte) (store.Channel, error)
	CheckInsOf(ctx context.Context, patientID int64) ([]store.CheckIn, error)
	KnownRedFlags(ctx context.Context, patientID int64) ([]store.KnownRedFlag, error)
	RedFlagAcks(ctx context.Context, patientID int64) ([]store.RedFlagAck, error)
}

var _ Store = (*store.Store)(nil)

// ChannelChecker checks a channel's settings before they are stored: that
// the server can use its type and that its address is well formed.
type ChannelChecker interface {
	Check(ctx context.Context, ch store.Channel) error
	// Usable says whether the server can send through a channel type at
	// all: its server-wide settings are there (an SMTP server for email, a
	// bot token for Telegram, VAPID keys for Web Push).
	Usable(typ string) bool
}

// Clinic carries out patients' and therapists' actions. Its fields are set
// once, before use; nothing in it is global.
type Clinic struct {
	Store   Store
	Keys    Keyring
	BaseURL *url.URL
	Library *programs.Library
	Now     func() time.Time
	Log     *slog.Logger
	// Channels checks channel settings; nil checks only their form.
	Channels ChannelChecker
	// TherapistEmail is true when an SMTP server is configured, so that a
	// therapist without channels is alerted at their own address.
	TherapistEmail bool
	// Contact is how patients reach the clinic (clinic.contact), named in
	// a message that cannot say their therapist was told.
	Contact string
	// Wake, if set, tells the dispatcher that new reminders may be due.
	Wake func()
	// Changed, if set, is told after commit that a patient's plan, feed or
	// links changed (caches drop their copies).
	Changed func(patientID int64)
	// CheckInDailyCap is how many check-ins a patient may log in 24 hours;
	// 0 is DefaultCheckInDailyCap, negative is no cap.
	CheckInDailyCap int

	engineRuns atomic.Int64
	replay     bool     // At's clinic: it stamps what it records with its own clock
	zones      sync.Map // zone name → *time.Location
}

// At is a clinic with the same parts that lives at another clock: to replay
// a history day by day, as `serve --demo` does. What it records is stamped
// with its clock, not the store's; it takes no patient's input, so it has no
// daily check-in cap; its engine runs are counted apart.
func (c *Clinic) At(now func() time.Time) *Clinic {
	return &Clinic{Store: c.Store, Keys: c.Keys, BaseURL: c.BaseURL, Library: c.Library, Now: now, Log: c.Log,
		Channels: c.Channels, TherapistEmail: c.TherapistEmail, Contact: c.Contact, Wake: c.Wake, Changed: c.Changed, CheckInDailyCap: -1,
		replay: true}
}

// stamp is when a check-in or override recorded now is said to be recorded:
// the store's own clock (zero), but a replay's.
func (c *Clinic) stamp() time.Time {
	if c.replay {
		return c.Now()
	}
	return time.Time{}
}

// EngineRuns is how many times the engine has run: the re-plans of this
// process. Reading a page or a feed never runs it.
func (c *Clinic) EngineRuns() int64 { return c.engineRuns.Load() }

// Problem is an error that is the caller's input's fault, worded so that
// its sender can fix it: the API answers it with 400, a page shows it by
// the form, the CLI prints it.
type Problem struct{ Msg string }

func (p *Problem) Error() string { return p.Msg }

// Problemf makes a Problem.
func Problemf(format string, args ...any) error { return &Problem{fmt.Sprintf(format, args...)} }

// ErrNotFound is a patient or an assignment that is not there, or is another
// therapist's (which must not be revealed).
var ErrNotFound = store.ErrNotFound

// Conflict is a request that clashes with the current state, e.g. a check-in
// with no plan to check in to; the API answers it with 409.
type Conflict struct{ Msg string }

func (c *Conflict) Error() string { return c.Msg }

// Zone loads a time zone once per name; LoadLocation reads a file each time.
func (c *Clinic) Zone(name string) (*time.Location, error) {
	if loc, ok := c.zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	c.zones.Store(name, loc)
	return loc, nil
}

// Today is the patient's local date now.
func (c *Clinic) Today(p store.Patient) programs.Date {
	loc, err := c.Zone(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	return programs.DateOf(c.Now().In(loc))
}

// Links are a patient's capability URLs, rebuilt from the stored nonces.
type Links struct {
	ID         int64  `json:"id"`
	FeedURL    string `json:"feed_url"`
	WebcalURL  string `json:"webcal_url"`
	CheckinURL string `json:"checkin_url"`
}

// Links rebuilds the patient's links.
func (c *Clinic) Links(p store.Patient) Links {
	feedURL := c.URL("/feed/" + c.Keys.FeedToken(p.FeedNonce) + ".ics")
	return Links{p.ID, feedURL, WebcalURL(feedURL), c.CheckinURL(p)}
}

// CheckinURL is the patient's check-in page.
func (c *Clinic) CheckinURL(p store.Patient) string {
	return c.URL("/c/" + c.Keys.CheckinToken(p.CheckinNonce))
}

// TherapistURL is the therapist's page of the patient.
func (c *Clinic) TherapistURL(p store.Patient) string {
	return c.URL(fmt.Sprintf("/patients/%d", p.ID))
}

// URL builds an absolute URL under the base URL.
func (c *Clinic) URL(path string) string {
	u := *c.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String()
}

// WebcalURL is the webcal:// form of a feed URL, which opens calendar apps.
func WebcalURL(feedURL string) string {
	_, rest, ok := strings.Cut(feedURL, "://")
	if !ok {
		return feedURL
	}
	return "webcal://" + rest
}

// changed tells the Changed hook and the dispatcher what a committed write did.
func (c *Clinic) changed(patientID int64) {
	if c.Changed != nil {
		c.Changed(patientID)
	}
	if c.Wake != nil {
		c.Wake()
	}
}

// write runs fn in a PatientTx of the patient, then tells the hooks.
func (c *Clinic) write(ctx context.Context, patientID int64, fn func(tx *store.PatientTx) error) error {
	if err := c.Store.WithPatient(ctx, patientID, fn); err != nil {
		return err
	}
	c.changed(patientID)
	return nil
}

// ProgramFrom reads a program given as a template id (a JSON string) or an
// inline program (a JSON object in the program format).
func (c *Clinic) ProgramFrom(raw json.RawMessage) (*programs.Program, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, Problemf("program is required: a template id (%s) or an inline program", strings.Join(c.Library.IDs(), ", "))
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		if p, ok := c.Library.Get(id); ok {
			return p, nil
		}
		return nil, Problemf("program %q is not a template: use one of %s, or an inline program", id, strings.Join(c.Library.IDs(), ", "))
	}
	// JSON is YAML, so the program decoder reads an inline program as it is.
	p, err := programs.Parse("program", raw)
	if err != nil {
		return nil, Problemf("the inline program is not valid: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return p, nil
}

// Usable says whether the server can send through a channel type; without
// a checker, every type is.
func (c *Clinic) Usable(typ string) bool { return c.Channels == nil || c.Channels.Usable(typ) }

// IsProblem reports whether err is the input's fault.
func IsProblem(err error) bool {
	var p *Problem
	return errors.As(err, &p)
}
