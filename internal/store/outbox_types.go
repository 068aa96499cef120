package store

import (
	"encoding/json"
	"time"
)

// Reminder statuses (the outbox's life cycle).
const (
	ReminderPending = "pending" // waiting for due_at (or next_attempt_at after a temporary failure)
	ReminderSending = "sending" // claimed by a dispatcher until lease_until
	ReminderSent    = "sent"
	ReminderSkipped = "skipped" // never sent, with SkipReason (stale, checked_in, cancelled, quiet_hours, channel_removed, quota, unconfirmed)
	ReminderFailed  = "failed"  // gave up, with LastError
)

// Reminder is one row of the durable outbox: one message of one kind about one
// session (or none) to one channel, due at an instant. DedupeKey is unique, so
// a reminder is never created twice.
type Reminder struct {
	ID            int64
	Kind          string // session, nudge, weekly, flare, red_flag, alert_red_flag, alert_flare, alert_persistent, digest, test
	SessionID     int64  // 0: not about a session
	PatientID     int64  // 0: a therapist's digest
	TherapistID   int64  // set for therapist alerts and digests
	ChannelID     int64  // the patients' or therapists' channel row it goes to
	DedupeKey     string // kind + session (or date) + channel
	DueAt         time.Time
	Status        string
	Attempts      int
	NextAttemptAt time.Time // when a pending row may be claimed: DueAt, or later after a retry
	LeaseUntil    time.Time // for sending rows: when the claim expires
	LastError     string
	SkipReason    string
	Payload       json.RawMessage // kind-specific data the message is worded from; may be null
	SentAt        time.Time
	CreatedAt     time.Time
	// About lists the patients a therapist's message names beyond PatientID
	// (a digest's lines): erasing any of them deletes the row. Written by
	// AddReminders, not read back.
	About []int64
}

// Outcome is what became of a claimed reminder, for RecordOutcomes.
type Outcome struct {
	ID     int64
	Status string    // ReminderSent, ReminderPending (to be retried), ReminderFailed or ReminderSkipped
	At     time.Time // sent: when it was sent; pending: when to try again; otherwise unused
	// Error is the last error of a retried or failed reminder, shown to the
	// patient and the therapist: it must hold no secret (a bot token in a
	// URL). It is cut to 2,000 bytes.
	Error  string
	Reason string // skipped: why (stale, checked_in, cancelled, quiet_hours, channel_removed)
}

// Subjects are what a batch of claimed reminders is worded from, read
// together (ReminderSubjects) rather than row by row.
type Subjects struct {
	Channels map[int64]Channel        // by ID; a channel removed since is missing
	Sessions map[int64]Session        // by ID; a session deleted since is missing
	Patients map[int64]Patient        // the reminders' and their sessions' patients, by ID
	Settings map[int64]NotifySettings // by patient ID: as saved, or the defaults
}

// Channel is one way to reach a patient (or a therapist): a type and its
// settings as JSON, e.g. {"address":"a@b.example"} for email,
// {"server":"https://ntfy.example","topic":"…"} for ntfy, {"url":"https://…"}
// for a webhook, the browser's PushSubscription for webpush.
type Channel struct {
	ID          int64
	PatientID   int64 // one of PatientID and TherapistID is set
	TherapistID int64
	Type        string // email, ntfy, pushover, telegram, webhook, webpush
	Config      json.RawMessage
	CreatedAt   time.Time
	// Pending is a channel that receives nothing but its confirmation
	// message until it is confirmed (ConfirmChannel): an email address a
	// patient typed. ConfirmNonce is what the confirmation link's token is
	// derived from; ConfirmHash, given to SetChannels only, is the token's
	// hash it is found by.
	Pending      bool
	ConfirmNonce []byte
	ConfirmHash  []byte
}

// Limits on a patient's channels.
const (
	// MaxPushSubscriptions is how many Web Push subscriptions (browsers) a
	// patient may have; a new one beyond it replaces the oldest.
	MaxPushSubscriptions = 5
)

// NotifySettings are a patient's reminder preferences.
type NotifySettings struct {
	PatientID   int64
	QuietStart  int  // minutes after local midnight; default 21:30
	QuietEnd    int  // default 07:00
	QuietDrop   bool // drop a reminder due in quiet hours instead of moving it to their end
	LeadMinutes int  // remind this long before the session; default 0
	NudgeHours  int  // one follow-up nudge this long after a session with no check-in; 0: none; default 3
	Language    string
	UpdatedAt   time.Time
}

// DefaultNotifySettings are the defaults of reminders.md.
func DefaultNotifySettings(patientID int64) NotifySettings {
	return NotifySettings{PatientID: patientID, QuietStart: 21*60 + 30, QuietEnd: 7 * 60, LeadMinutes: 0, NudgeHours: 3, Language: "en"}
}
