// Package notify owns how a message reaches a person: one small interface,
// one sub-package per channel (email, ntfy, webpush, pushover, telegram,
// webhook), and the classification of each channel's failures as temporary
// (retry later) or permanent (give up; for a push subscription, forget it).
// It knows nothing of plans, the store or HTTP handlers; the scheduler's
// outbox decides when to send and owns retries.
package notify

import (
	"context"
	"errors"
)

// Message is what a channel delivers. Text is discreet by default: the
// caller words it; channels never add health details of their own.
type Message struct {
	Title  string // e.g. "Time for your walk · 14 min"; a subject line or a notification title
	Body   string // plain text; carries the dose and the check-in link
	URL    string // the one-tap check-in link (a click action where the channel has one)
	Tag    string // collapses repeats on a device (Web Push topic, ntfy tag); may be empty
	Urgent bool   // red-flag guidance and alerts: high priority where the channel has one
	// Done, if set, is a one-tap button that records the message's session
	// done from the lock screen, where the channel has buttons (an ntfy
	// http action, a Web Push notification action); other channels ignore
	// it and carry URL only.
	Done *Done
}

// Done is a session reminder's "Done" button: a POST of DoneBody, as JSON,
// to URL, the session's own link, which records that session and nothing
// else.
type Done struct {
	Label     string // the button's text in the recipient's language, e.g. "Done"
	URL       string // the session's link, /s/{token}
	Confirmed string // what a device says once it is recorded, where it can say something
}

// DoneBody is what a Done button posts to its URL.
const DoneBody = `{"status":"done"}`

// Notifier sends one message through one channel to one recipient.
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// Error is a failed send, classified by the channel that saw it.
type Error struct {
	Channel   string // "email", "ntfy", …
	Temporary bool   // worth retrying later (timeouts, 5xx, 429, connection refused)
	Gone      bool   // the recipient no longer exists (Web Push 404/410): delete it
	Err       error
}

func (e *Error) Error() string { return e.Channel + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether err is worth retrying. Errors a channel did not
// classify are treated as temporary: the outbox's attempt limit bounds them.
func Temporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return err != nil
}

// Gone reports whether the recipient of err no longer exists.
func Gone(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Gone
}
