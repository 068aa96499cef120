package clinic

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"

	"pacer/internal/feed"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// instructionDays is how many days from the plan's day on a session's
// calendar event carries the activity's full instructions: the coming week,
// the sessions the patient is about to do. Repeating them in every event of
// the feed's window would take it towards Google's 1 MB limit.
const instructionDays = 7

// Reasons words the stored plan of one assignment: why each week's dose is
// what it is, and why each session has its own. Every reader of a plan (the
// check-in page, the therapist's pages, the feed, the plan API, messages)
// words it through here, from the facts the re-plan stored, so that the same
// session gives the same reason everywhere.
type Reasons struct {
	Cat     *i18n.Catalog
	Program *programs.Program
	Now     programs.Date // the day the plan was computed for
	// Header is the stored plan's header: its state as of Now.
	Header store.PlanHeader
	weeks  map[weekKey]store.PlanWeek
	events map[int][]programs.Event
}

type weekKey struct {
	week     int
	activity string
}

// NewReasons indexes a stored plan for wording in cat's language.
func NewReasons(cat *i18n.Catalog, prog *programs.Program, sp store.Plan) *Reasons {
	r := &Reasons{Cat: cat, Program: prog, Now: sp.Header.Now, Header: sp.Header, weeks: map[weekKey]store.PlanWeek{},
		events: map[int][]programs.Event{}}
	for _, w := range sp.Weeks {
		r.weeks[weekKey{w.Week, w.Activity}] = w
	}
	for _, e := range sp.Events {
		r.events[e.Week] = append(r.events[e.Week], e.Event)
	}
	return r
}

// Week words a week's decision for an activity ("" for the week's own).
func (r *Reasons) Week(week int, activity string) string {
	w, ok := r.weeks[weekKey{week, activity}]
	if !ok {
		return ""
	}
	return r.Cat.Reason(r.Program, w.Decision)
}

// Decision is the stored decision of a week for an activity ("" for the
// week's own).
func (r *Reasons) Decision(week int, activity string) (programs.Decision, bool) {
	w, ok := r.weeks[weekKey{week, activity}]
	return w.Decision, ok
}

// ActivityWeek is the stored week of an activity ("" for the week's own row).
func (r *Reasons) ActivityWeek(week int, activity string) (store.PlanWeek, bool) {
	w, ok := r.weeks[weekKey{week, activity}]
	return w, ok
}

// Paused words why the plan is paused, or is "" when it is not; a red-flag
// pause gives the guidance of its most urgent answer.
func (r *Reasons) Paused() string {
	switch r.Header.Pause {
	case programs.PausedByRedFlag:
		var f programs.Facts
		for w := range r.events {
			for _, e := range r.events[w] {
				if e.Code == programs.PausedRedFlag && e.Date == r.Header.PausedOn {
					f = e.Facts
				}
			}
		}
		return r.Cat.Reason(r.Program, programs.Decision{Code: programs.PausedRedFlag, Facts: f})
	case programs.PausedByTherapist:
		return r.Cat.Reason(r.Program, programs.Decision{Code: programs.Paused})
	}
	return ""
}

// Events are a week's events, in order.
func (r *Reasons) Events(week int) []programs.Event { return r.events[week] }

// Event words an event, for no day in particular.
func (r *Reasons) Event(e programs.Event) string { return r.Cat.Event(r.Program, e, 0, "") }

// Session words why a session has its dose: the event that set it, worded
// for the session's day, or else its activity's decision for the week.
func (r *Reasons) Session(x store.Session) string {
	if evs := r.events[x.Week]; x.Cause > 0 && x.Cause <= len(evs) {
		return r.Cat.Event(r.Program, evs[x.Cause-1], x.Date, x.Activity)
	}
	return r.Week(x.Week, x.Activity)
}

// Name is an activity's name for a reader, e.g. "Walk".
func (r *Reasons) Name(activity string) string {
	if a, ok := r.Program.Activity(activity); ok {
		return a.Name
	}
	return activity
}

// Words is what a session's calendar event shows, but for its link.
type Words struct {
	Title       string
	Description string
	Alarm       bool
}

// SessionWords words a session's calendar event for patient p: its title
// (discreet unless p turned that off), what to do and why, its instructions
// in the coming week, and whether it carries an alarm (not for sessions
// before the plan's day, nor cancelled ones).
func (r *Reasons) SessionWords(p store.Patient, x store.Session) Words {
	cat := r.Cat
	name, instructions, program := x.Activity, "", ""
	if r.Program != nil {
		program = r.Program.Name
		if a, ok := r.Program.Activity(x.Activity); ok {
			name, instructions = a.Name, a.Instructions
		}
	}
	title := feed.TitleIn(cat, name, x.Unit, x.Dose, x.Sets)
	if !p.Discreet && program != "" {
		title += " (" + program + ")"
	}
	var desc strings.Builder
	desc.WriteString(cat.Text("feed.today", i18n.Args{"amount": cat.Amount(x.Unit, x.Dose), "sets": x.Sets, "week": x.Week}))
	if x.Projected {
		desc.WriteString(" " + cat.Text("feed.projected", nil))
	}
	if why := r.Session(x); why != "" {
		desc.WriteString("\n\n" + why)
	}
	switch {
	case instructions != "" && x.Date >= r.Now && x.Date < r.Now.AddDays(instructionDays):
		desc.WriteString("\n\n" + instructions)
	case instructions != "":
		desc.WriteString("\n\n" + cat.Text("feed.instructions_elsewhere", nil))
	}
	return Words{Title: title, Description: desc.String(),
		Alarm: p.Alarm && x.Date >= r.Now && x.Status != programs.Cancelled}
}

// digest hashes the parts of a Shown digest.
type digest struct{ h hash.Hash }

func newDigest() digest { return digest{sha256.New()} }

func (d digest) str(s string) {
	d.h.Write([]byte(s))
	d.h.Write([]byte{0})
}

func (d digest) bool(b bool) {
	if b {
		d.h.Write([]byte{1})
	} else {
		d.h.Write([]byte{2})
	}
}

func (d digest) json(v any) {
	b, _ := json.Marshal(v) // decisions and events always encode
	d.h.Write(b)
	d.h.Write([]byte{0})
}

func (d digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)[:12]) }
