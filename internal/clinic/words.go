package clinic

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"slices"
	"strings"
	"time"

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

// Name is an activity's name in the reader's language, e.g. "Walk", "Spaziergang".
func (r *Reasons) Name(activity string) string {
	if a, ok := r.Program.Activity(activity); ok {
		return a.NameIn(r.lang())
	}
	return activity
}

// lang is the reader's language, as programs names it.
func (r *Reasons) lang() string { return string(r.Cat.Lang()) }

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
		program = r.Program.NameIn(r.lang())
		if a, ok := r.Program.Activity(x.Activity); ok {
			name, instructions = a.NameIn(r.lang()), a.InstructionsIn(r.lang())
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

// SameTime groups a patient's sessions into calendar events: the sessions
// of one program at one time on one day (planned ones, not extras) are one
// event, so that a phone does not ring four times at 19:00 for four
// stretches; every other session is an event of its own. A group holds its
// cancelled sessions too, so that it keeps its members (and its UID) when a
// pause cancels them. Groups come in the order of their first session;
// members in the order their program (prog, by assignment; nil: none)
// lists its activities.
func SameTime(sessions []store.Session, prog func(assignmentID int64) *programs.Program) [][]store.Session {
	type key struct {
		assignment int64
		date       programs.Date
		time       programs.Clock
	}
	var out [][]store.Session
	at := map[key]int{}
	for _, x := range sessions {
		if x.Extra {
			out = append(out, []store.Session{x})
			continue
		}
		k := key{x.AssignmentID, x.Date, x.Time}
		if i, ok := at[k]; ok {
			out[i] = append(out[i], x)
			continue
		}
		at[k] = len(out)
		out = append(out, []store.Session{x})
	}
	for _, g := range out {
		if len(g) < 2 {
			continue
		}
		order := map[string]int{}
		if p := prog(g[0].AssignmentID); p != nil {
			for i, a := range p.Activities {
				order[a.ID] = i
			}
		}
		slices.SortStableFunc(g, func(a, b store.Session) int {
			return cmp.Or(cmp.Compare(order[a.Activity], order[b.Activity]), strings.Compare(a.Activity, b.Activity),
				cmp.Compare(a.Slot, b.Slot))
		})
	}
	return out
}

// GroupWords words the calendar event of several sessions of one program
// at one time on one day (four stretches at 19:00), which a calendar shows
// as one event with one alarm: a discreet title for the group ("Stretches
// · 4 × 30 s", or "Exercises · 3 exercises, 10 min" when their amounts
// differ), each session's amount and why, and one alarm when any session
// has one. Its instructions are on the group's page, as the event's link.
// length is the event's length. members come in the order the program
// lists its activities.
func (r *Reasons) GroupWords(p store.Patient, members []store.Session, length time.Duration) Words {
	cat := r.Cat
	var live []store.Session
	for _, x := range members {
		if x.Status != programs.Cancelled {
			live = append(live, x)
		}
	}
	shown := live
	if len(shown) == 0 { // all cancelled: said as they were planned
		shown = members
	}
	kind, same := programs.Kind(""), true
	for i, x := range shown {
		k := programs.Kind("")
		if r.Program != nil {
			if a, ok := r.Program.Activity(x.Activity); ok {
				k = a.Kind
			}
		}
		if i == 0 {
			kind = k
		} else if k != kind {
			kind = ""
		}
		if x.Unit != shown[0].Unit || x.Dose != shown[0].Dose || x.Sets != shown[0].Sets || x.Sets > 1 {
			same = false
		}
	}
	group := cat.Text("feed.group.mixed", nil)
	if kind != "" && cat.Has("feed.group."+string(kind)) {
		group = cat.Text("feed.group."+string(kind), nil)
	}
	var title string
	if same {
		title = cat.Text("feed.group.title_same", i18n.Args{"group": group, "n": len(shown), "dose": cat.Short(shown[0].Unit, shown[0].Dose)})
	} else {
		title = cat.Text("feed.group.title", i18n.Args{"group": group, "n": len(shown),
			"length": cat.Short(programs.Minutes, int(length/time.Minute))})
	}
	if !p.Discreet && r.Program != nil && r.Program.NameIn(r.lang()) != "" {
		title += " (" + r.Program.NameIn(r.lang()) + ")"
	}
	var desc strings.Builder
	desc.WriteString(cat.Text("feed.group.intro", i18n.Args{"n": len(shown), "week": shown[0].Week}))
	if shown[0].Projected {
		desc.WriteString(" " + cat.Text("feed.projected", nil))
	}
	var whys []string
	for _, x := range shown {
		desc.WriteString("\n" + cat.Text("feed.group.line", i18n.Args{"activity": r.Name(x.Activity), "amount": amountSets(cat, x.Unit, x.Dose, x.Sets)}))
		if why := r.Session(x); why != "" && !slices.Contains(whys, why) {
			whys = append(whys, why)
		}
	}
	for _, why := range whys {
		desc.WriteString("\n\n" + why)
	}
	desc.WriteString("\n\n" + cat.Text("feed.instructions_elsewhere", nil))
	alarm := false
	for _, x := range live {
		alarm = alarm || (p.Alarm && x.Date >= r.Now)
	}
	return Words{Title: title, Description: desc.String(), Alarm: alarm}
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
