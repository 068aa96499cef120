package clinic

import (
	"cmp"
	"context"
	"errors"
	"slices"

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

// A group's link, /g/{token}, is what a merged calendar event carries: the
// sessions of one program at one time on one day (four stretches at 19:00),
// which a calendar shows as one event with one alarm. It shows those
// sessions and records each, or all at once, and nothing else. The group is
// found when the link is used, from the session that names it, so it
// follows a change of time.

// GroupURL is the link to the group of sessions that anchor belongs to.
func (c *Clinic) GroupURL(p store.Patient, anchor store.Session) string {
	return c.URL("/g/" + c.Keys.GroupToken(p.FeedNonce, anchor))
}

// GroupLink is a group of sessions as its link reaches them.
type GroupLink struct {
	Patient store.Patient
	// Sessions are the group's planned sessions (none cancelled, no
	// extra), in the order their program lists their activities.
	Sessions []store.Session
	Program  *programs.Program
}

// GroupByLink resolves a group link's token: ErrNotFound for a token that
// is not one, a session that is gone, or a link the patient's feed rotation
// (or erasure) revoked.
func (c *Clinic) GroupByLink(ctx context.Context, token string) (GroupLink, error) {
	id, mac, ok := sessionID(token)
	if !ok {
		return GroupLink{}, ErrNotFound
	}
	x, err := c.Store.Session(ctx, id)
	if err != nil {
		return GroupLink{}, err
	}
	p, err := c.Store.PatientByID(ctx, x.PatientID)
	if err != nil {
		return GroupLink{}, err
	}
	if !c.Keys.checkGroup(p.FeedNonce, x, mac) {
		return GroupLink{}, ErrNotFound
	}
	l := GroupLink{Patient: p}
	if a, err := c.Store.AssignmentByID(ctx, x.AssignmentID); err == nil {
		l.Program = a.Program
	} else if !errors.Is(err, store.ErrNotFound) {
		return l, err
	}
	all, err := c.Store.AssignmentSessions(ctx, x.AssignmentID)
	if err != nil {
		return l, err
	}
	for _, y := range all {
		if y.Date == x.Date && y.Time == x.Time && !y.Extra && y.Status != programs.Cancelled {
			l.Sessions = append(l.Sessions, y)
		}
	}
	if l.Program != nil {
		order := map[string]int{}
		for i, a := range l.Program.Activities {
			order[a.ID] = i
		}
		slices.SortStableFunc(l.Sessions, func(a, b store.Session) int {
			return cmp.Or(cmp.Compare(order[a.Activity], order[b.Activity]), cmp.Compare(a.Slot, b.Slot))
		})
	}
	return l, nil
}

// CheckInGroup records sessions of a group link: the one named by id with
// status (and a partial's dose), or, with id 0, every session of the group
// not logged yet done ("Done all"), in one re-plan.
func (c *Clinic) CheckInGroup(ctx context.Context, l GroupLink, id int64, status programs.Status, dose *int) ([]Recorded, error) {
	if id != 0 {
		for _, x := range l.Sessions {
			if x.ID == id {
				r, err := c.CheckInSession(ctx, SessionLink{Patient: l.Patient, Session: x, Program: l.Program}, status, dose)
				return []Recorded{r}, err
			}
		}
		return nil, &Conflict{"this session is not among this link's sessions any more; your calendar will update"}
	}
	if status != programs.Done {
		return nil, Problemf("status %q: all of a group's sessions at once can only be done", status)
	}
	var ins []CheckIn
	for _, x := range l.Sessions {
		if x.Status != programs.Planned {
			continue
		}
		t := x.Time
		ins = append(ins, CheckIn{CheckIn: programs.CheckIn{Date: x.Date, Kind: programs.SessionCheckIn,
			Activity: x.Activity, Time: &t, Status: programs.Done}, Assignment: x.AssignmentID})
	}
	if len(ins) == 0 {
		return nil, &Conflict{"every session of this link is logged already"}
	}
	return c.CheckIns(ctx, l.Patient, ins)
}
