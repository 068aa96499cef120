package clinic

import (
	"context"
	"errors"

	"pacer/internal/store"
	"pacer/programs"
)

// A session link, /s/{token}, is what a calendar event carries: it shows one
// session and records it done, partial or skipped, and nothing else. A
// calendar is often shared, and its URL is fetched by the calendar
// provider's servers, so the feed never carries the check-in link, whose
// page can report flares and red flags and change reminder channels.

// SessionURL is the link to one session of the patient's.
func (c *Clinic) SessionURL(p store.Patient, x store.Session) string {
	return c.URL("/s/" + c.Keys.SessionToken(p.FeedNonce, x))
}

// SessionLink is a session as its link reaches it.
type SessionLink struct {
	Patient store.Patient
	Session store.Session
	// Program is the session's program snapshot; nil if its assignment is
	// gone.
	Program *programs.Program
}

// SessionByLink resolves a session link's token: ErrNotFound for a token
// that is not one, a session that is gone, or a link the patient's feed
// rotation (or erasure) revoked.
func (c *Clinic) SessionByLink(ctx context.Context, token string) (SessionLink, error) {
	id, mac, ok := sessionID(token)
	if !ok {
		return SessionLink{}, ErrNotFound
	}
	x, err := c.Store.Session(ctx, id)
	if err != nil {
		return SessionLink{}, err
	}
	p, err := c.Store.PatientByID(ctx, x.PatientID)
	if err != nil {
		return SessionLink{}, err
	}
	if !c.Keys.checkSession(p.FeedNonce, x, mac) {
		return SessionLink{}, ErrNotFound
	}
	l := SessionLink{Patient: p, Session: x}
	if a, err := c.Store.AssignmentByID(ctx, x.AssignmentID); err == nil {
		l.Program = a.Program
	} else if !errors.Is(err, store.ErrNotFound) {
		return l, err
	}
	return l, nil
}

// CheckInSession records the session of a link done, partial or skipped,
// through CheckIn (so in one re-plan, with its checks and its daily cap).
// A partial may carry the dose done; anything else about the patient needs
// the check-in link.
func (c *Clinic) CheckInSession(ctx context.Context, l SessionLink, status programs.Status, dose *int) (Recorded, error) {
	switch status {
	case programs.Done, programs.Partial, programs.Skipped:
	default:
		return Recorded{}, Problemf("status %q: a session link records done, partial or skipped", status)
	}
	if l.Session.Extra || l.Session.Status == programs.Cancelled {
		return Recorded{}, &Conflict{"this session is no longer planned; your calendar will update"}
	}
	t := l.Session.Time
	in := CheckIn{CheckIn: programs.CheckIn{Date: l.Session.Date, Kind: programs.SessionCheckIn,
		Activity: l.Session.Activity, Time: &t, Status: status, Dose: dose}, Assignment: l.Session.AssignmentID}
	return c.CheckIn(ctx, l.Patient, in)
}
