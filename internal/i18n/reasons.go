package i18n

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"pacer/programs"
)

// The engine decides in codes and numbers (programs.Decision, programs.Event);
// this file words them. Every reader of a plan (the check-in page, the
// therapist's pages, the feed, the plan API, reminders and summaries) words
// the same stored facts through these functions, so the same decision reads
// the same everywhere in a language.

// Reason words an activity's decision for a week, e.g. "Up 1 minute to 9
// minutes: you did 5 of 5 walk sessions last week and had no flare."
// prog names the activity and its unit; a week's own decision carries the
// activity whose decision it is.
func (c *Catalog) Reason(prog *programs.Program, d programs.Decision) string {
	f := d.Facts
	a := c.subject(prog, d.Activity)
	args := Args{"name": a.name, "dose": a.amount(f.Dose)}
	switch d.Code {
	case programs.PausedRedFlag:
		return c.Text("reason.paused_red_flag", nil)
	case programs.Override:
		return c.change(a, f, false)
	case programs.CalibrationCode:
		return c.Text("reason.calibration", Args{"days": f.Days, "upto": a.amount(f.Dose), "name": a.name})
	case programs.Start:
		switch {
		case f.Calibrated:
			return c.Text("reason.start_calibrated", Args{"dose": a.amount(f.Dose), "percent": f.Percent,
				"baseline": a.amount(f.Baseline), "logged": f.Logged})
		case f.Clamp != "":
			return c.Text("reason.start_clamped", args)
		}
		return c.Text("reason.start", Args{"percent": f.Percent, "baseline": a.amount(f.Baseline)})
	case programs.FlarePersistent:
		return c.Text("reason.persistent", Args{"days": f.Days})
	case programs.FlareStepBack:
		return c.Text("reason.step_back", args)
	case programs.FlareResume:
		return c.Text("reason.flare_resume", args)
	case programs.HoldAdherence:
		if f.Planned == 0 {
			return c.Text("reason.no_sessions", args)
		}
		args["done"], args["planned"], args["gate"] = f.Done, f.Planned, f.Percent
		return c.Text("reason.adherence", args)
	case programs.HoldResponse:
		args["days"], args["rise"] = f.Days, f.Rise
		return c.Text("reason.response", args)
	case programs.GoalReached:
		return c.Text("reason.goal", Args{"goal": a.amount(f.Goal)})
	case programs.HoldCeiling:
		args["clamp"] = c.clamp(a, f)
		return c.Text("reason.hold", args)
	case programs.Progress:
		args["up"], args["done"], args["planned"], args["projected"] = a.amount(f.Dose-f.Prev), f.Done, f.Planned, f.Projected
		switch {
		case f.Goal != 0 && f.Dose == f.Goal:
			return c.Text("reason.progress_goal", args)
		case f.Clamp != "":
			args["clamp"] = c.clamp(a, f)
			return c.Text("reason.progress_clamped", args)
		}
		return c.Text("reason.progress", args)
	}
	return c.Text("reason.unknown", Args{"code": string(d.Code)})
}

// Event words a change during a week. day is the day the sentence is about
// (a session's date), or 0 for a list of events; activity, when set, narrows
// a list of doses to that activity's.
func (c *Catalog) Event(prog *programs.Program, ev programs.Event, day programs.Date, activity string) string {
	f := ev.Facts
	switch ev.Code {
	case programs.FlareStepBack:
		args := Args{"doses": c.Doses(prog, f.Doses, activity), "flare": c.Day(f.Flare), "from": c.Day(f.From)}
		switch {
		case day == 0:
			return c.Text("event.flare", args)
		case day < f.From:
			return c.Text("event.flare_today", args)
		}
		return c.Text("event.flare_since", args)
	case programs.FlareResume:
		return c.Text("event.flare_resume", Args{"doses": c.Doses(prog, f.Doses, activity)})
	case programs.FlarePersistent:
		return c.Text("reason.persistent", Args{"days": f.Days})
	case programs.PausedRedFlag:
		return c.Text("reason.paused_red_flag", nil)
	case programs.Override:
		return c.change(c.subject(prog, ev.Activity), f, true)
	case programs.Start:
		return c.Reason(prog, programs.Decision{Code: ev.Code, Activity: ev.Activity, Facts: f})
	}
	return c.Text("reason.unknown", Args{"code": string(ev.Code)})
}

// change words a therapist's change; event is true for the change itself,
// false for the decision of the week it falls in.
func (c *Catalog) change(a subject, f programs.Facts, event bool) string {
	switch f.Change {
	case programs.PauseOverride:
		return c.Text("reason.paused_therapist", nil)
	case programs.ResumeOverride:
		switch {
		case event:
			return c.Text("event.restart", nil)
		case f.Since != 0:
			return c.Text("reason.restart_week", Args{"dose": a.amount(f.Dose)})
		}
		return c.Text("reason.restart", Args{"dose": a.amount(f.Dose)})
	case programs.DoseOverride:
		return c.Text("event.set_dose", Args{"name": a.name, "dose": a.amount(f.Dose), "capped": f.Capped})
	case programs.ThresholdOverride:
		return c.Text("event.set_threshold", Args{"name": a.name, "threshold": a.amount(f.Threshold), "margin": f.Percent})
	case programs.GoalOverride:
		return c.Text("event.set_goal", Args{"name": a.name, "goal": a.amount(f.Goal)})
	}
	return c.Text("reason.unknown", Args{"code": string(programs.Override)})
}

func (c *Catalog) clamp(a subject, f programs.Facts) string {
	switch f.Clamp {
	case programs.ClampCeiling:
		return c.Text("clamp.ceiling", Args{"margin": f.Percent, "threshold": a.amount(f.Threshold)})
	case programs.ClampSpike:
		return c.Text("clamp.spike", Args{"cap": f.Percent, "days": f.Days})
	case programs.ClampLoad:
		return c.Text("clamp.load", Args{"cap": f.Percent})
	}
	return ""
}

// Doses words a list of doses, "Walk: 4 minutes; Bridge: 2 × 4 reps", or
// only activity's when it is set and in the list.
func (c *Catalog) Doses(prog *programs.Program, ds []programs.ActivityDose, activity string) string {
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		if activity != "" && d.Activity != activity {
			continue
		}
		a := c.subject(prog, d.Activity)
		parts = append(parts, c.Text("flare.dose", Args{"activity": a.title, "amount": a.amountSets(d.Dose)}))
	}
	if len(parts) == 0 && activity != "" {
		return c.Doses(prog, ds, "")
	}
	return strings.Join(parts, "; ")
}

// Day words a date as pages and messages show it: "Monday 23 Nov",
// "Montag, 23. Nov.".
func (c *Catalog) Day(d programs.Date) string {
	if d == 0 {
		return ""
	}
	t := d.In(time.UTC, 12*60)
	wd := c.Text("page.weekday."+strconv.Itoa(int(t.Weekday())), nil)
	mo := c.Text("page.month."+strconv.Itoa(int(t.Month())), nil)
	return c.Text("date.day", Args{"weekday": wd, "day": t.Day(), "month": mo})
}

// subject is an activity as a sentence names it.
type subject struct {
	c     *Catalog
	title string // the name as a title: "Walk", "Übung"
	name  string // the name mid-sentence
	unit  programs.Unit
	sets  int
}

func (c *Catalog) subject(prog *programs.Program, id string) subject {
	s := subject{c: c, title: id, unit: programs.Minutes, sets: 1}
	if prog != nil {
		if a, ok := prog.Activity(id); ok {
			s.title, s.unit, s.sets = a.Name, a.Unit, max(a.Sets, 1)
		}
	}
	s.name = s.title
	if c.lang == English { // English names read in lower case mid-sentence; German nouns keep theirs
		s.name = lowerFirst(s.title)
	}
	return s
}

func (s subject) amount(n int) string { return s.c.Amount(s.unit, n) }

// amountSets is a dose with its sets, "2 × 8 reps".
func (s subject) amountSets(n int) string {
	a := s.amount(n)
	if s.sets > 1 {
		a = s.c.Text("amount.sets", Args{"sets": s.sets, "amount": a})
	}
	return a
}

// lowerFirst lowers a name's first letter, whatever its script, unless the
// name is an initialism ("TENS") whose second letter is upper case too.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}
