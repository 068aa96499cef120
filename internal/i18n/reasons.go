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
		return c.pausedRedFlag(f.Urgency)
	case programs.Paused:
		return c.Text("reason.paused_therapist", nil)
	case programs.Resumed:
		args["percent"], args["days"] = f.Percent, f.Days
		return c.Text("reason.resumed", args)
	case programs.Override:
		return c.change(a, f, false)
	case programs.CalibrationCode:
		return c.Text("reason.calibration", Args{"days": f.Days, "upto": a.amount(f.Dose), "name": a.name})
	case programs.Start:
		switch {
		case f.EveryOther:
			return c.tiny(a, f)
		case f.Calibrated:
			return c.Text("reason.start_calibrated", Args{"dose": a.amount(f.Dose), "percent": f.Percent,
				"baseline": a.amount(f.Baseline), "logged": f.Logged})
		case f.Clamp != "":
			return c.Text("reason.start_clamped", args)
		}
		return c.Text("reason.start", Args{"percent": f.Percent, "baseline": a.amount(f.Baseline)})
	case programs.FlarePersistent:
		if f.Exempt {
			args["days"] = f.Days
			return c.Text("reason.persistent_exempt", args)
		}
		return c.Text("reason.persistent", Args{"days": f.Days})
	case programs.FlareStepBack:
		switch {
		case f.Exempt:
			return c.Text("reason.step_back_exempt", args)
		case f.From != 0:
			args["share"], args["flare"], args["from"] = c.share(f.Percent), c.Day(f.Flare), c.Day(f.From)
			return c.Text("reason.step_back_from", args)
		}
		args["share"] = c.share(f.Percent)
		return c.Text("reason.step_back", args)
	case programs.FlareReentry:
		if f.Exempt {
			return c.Text("reason.reentry_exempt", args)
		}
		args["percent"], args["until"] = f.Percent, c.Day(f.Until)
		return c.Text("reason.reentry", args)
	case programs.FlareResume:
		if f.Exempt {
			return c.Text("reason.flare_resume_exempt", args)
		}
		return c.Text("reason.flare_resume", args)
	case programs.HoldAdherence:
		if f.Planned == 0 {
			return c.Text("reason.no_sessions", args)
		}
		args["done"], args["planned"], args["gate"], args["projected"] = f.Done, f.Planned, f.Percent, f.Projected
		return c.Text("reason.adherence", args)
	case programs.HoldResponse:
		args["days"], args["rise"] = f.Days, f.Rise
		return c.Text("reason.response", args)
	case programs.AdjustToLogged:
		args["weeks"], args["percent"] = f.Weeks, f.Percent
		return c.Text("reason.adjust", args)
	case programs.GoalReached:
		return c.Text("reason.goal", Args{"goal": a.amount(f.Goal)})
	case programs.HoldCeiling, programs.HoldSpike, programs.HoldLoad:
		if f.EveryOther {
			return c.tiny(a, f)
		}
		args["clamp"] = c.clamp(a, f)
		return c.Text("reason.hold", args)
	case programs.Progress:
		args["done"], args["planned"], args["projected"] = f.Done, f.Planned, f.Projected
		switch {
		case f.Carried:
			args["granule"] = a.amount(f.Granule)
			return c.Text("reason.progress_carried", args)
		case f.Goal != 0 && f.Dose == f.Goal:
			args["up"] = a.amount(f.Dose - f.Prev)
			return c.Text("reason.progress_goal", args)
		case f.Clamp != "":
			args["up"], args["clamp"] = a.amount(f.Dose-f.Prev), c.clamp(a, f)
			return c.Text("reason.progress_clamped", args)
		}
		args["up"] = a.amount(f.Dose - f.Prev)
		return c.Text("reason.progress", args)
	case programs.ThresholdLearned, programs.CeilingReady, programs.ThresholdTiny: // events only
		return c.Event(prog, programs.Event{Code: d.Code, Activity: d.Activity, Facts: f}, 0, "")
	}
	return c.Text("reason.unknown", Args{"code": string(d.Code)})
}

// Event words a change during a week. day is the day the sentence is about
// (a session's date), or 0 for a list of events; activity, when set, narrows
// a list of doses to that activity's.
func (c *Catalog) Event(prog *programs.Program, ev programs.Event, day programs.Date, activity string) string {
	f := ev.Facts
	a := c.subject(prog, ev.Activity)
	switch ev.Code {
	case programs.FlareStepBack:
		args := Args{"doses": c.Doses(prog, f.Doses, activity), "flare": c.Day(f.Flare), "from": c.Day(f.From),
			"share": c.share(f.Percent)}
		switch {
		case day == 0:
			return c.Text("event.flare", args)
		case day < f.From:
			return c.Text("event.flare_today", args)
		}
		return c.Text("event.flare_since", args)
	case programs.FlareReentry:
		return c.Text("event.reentry", Args{"doses": c.Doses(prog, f.Doses, activity), "percent": f.Percent,
			"until": c.Day(f.Until)})
	case programs.FlareResume: // from the first rules; a flare's end is now a re-entry
		return c.Text("event.flare_resume", Args{"doses": c.Doses(prog, f.Doses, activity)})
	case programs.FlarePersistent:
		return c.Text("reason.persistent", Args{"days": f.Days})
	case programs.PausedRedFlag:
		return c.pausedRedFlag(f.Urgency)
	case programs.Paused:
		return c.Text("reason.paused_therapist", nil)
	case programs.Resumed:
		if f.Percent == 0 {
			return c.Text("event.restart", nil)
		}
		return c.Text("event.restart_lower", Args{"days": f.Days, "percent": f.Percent, "doses": c.Doses(prog, f.Doses, activity)})
	case programs.Override:
		return c.change(a, f, true)
	case programs.ThresholdLearned:
		return c.Text("event.threshold_learned", Args{"name": a.name, "flare": c.Day(f.Flare),
			"threshold": a.amount(f.Threshold), "ceiling": a.amount(f.Ceiling), "prev": c.optional(a, f.PrevCeiling)})
	case programs.CeilingReady:
		return c.Text("event.ceiling_ready", Args{"name": a.name, "ceiling": a.amount(f.Ceiling), "weeks": f.Weeks})
	case programs.ThresholdTiny:
		return c.tiny(a, f)
	}
	return c.Reason(prog, programs.Decision{Code: ev.Code, Activity: ev.Activity, Facts: f})
}

// pausedRedFlag words a red-flag pause with the guidance of its urgency; a
// pause stored before the tiers has none and reads as before.
func (c *Catalog) pausedRedFlag(u programs.Urgency) string {
	if u == "" {
		return c.Text("reason.paused_red_flag", nil)
	}
	return c.Text("reason.paused_red_flag_tier", Args{"guidance": c.Text("redflag.urgency."+string(u), nil)})
}

// tiny words the tiny-threshold rule for an activity.
func (c *Catalog) tiny(a subject, f programs.Facts) string {
	return c.Text("reason.tiny", Args{"name": a.name, "dose": a.amount(f.Dose), "threshold": a.amount(f.Threshold)})
}

// share is the step-back's share of the usual dose: "about half your usual
// dose" at the default 50 % (which a fact stored without it had).
func (c *Catalog) share(percent int) string {
	if percent == 0 {
		percent = 50
	}
	return c.Text("flare.share", Args{"percent": percent})
}

// optional words an amount, or "" for none (0).
func (c *Catalog) optional(a subject, n int) string {
	if n == 0 {
		return ""
	}
	return a.amount(n)
}

// change words a therapist's change; event is true for the change itself,
// false for the decision of the week it falls in.
func (c *Catalog) change(a subject, f programs.Facts, event bool) string {
	switch f.Change {
	case programs.PauseOverride: // stored under the first rules
		return c.Text("reason.paused_therapist", nil)
	case programs.ResumeOverride: // stored under the first rules
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
		if f.EveryOther {
			return c.tiny(a, programs.Facts{Dose: f.Dose, Threshold: f.Threshold})
		}
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
	s := subject{c: c, unit: programs.Minutes, sets: 1}
	n := c.ActivityName(prog, id)
	s.title, s.name = n.Title, n.Mid
	if prog != nil {
		if a, ok := prog.Activity(id); ok {
			s.unit, s.sets = a.Unit, max(a.Sets, 1)
		}
	}
	return s
}

// Name is an activity's name as a reader of one language sees it.
type Name struct {
	Title string // as a title: "Walk", "Spaziergang"
	Mid   string // mid-sentence: "walk", "Spaziergang"
}

// ActivityName names activity id of prog in c's language, or in the
// program's own when it has no translation; an activity prog does not have
// (or a nil prog) is named by its id.
func (c *Catalog) ActivityName(prog *programs.Program, id string) Name {
	title, lang := id, string(c.lang)
	if prog != nil {
		if a, ok := prog.Activity(id); ok {
			title, lang = a.NameIn(string(c.lang)), prog.NameLang(a, string(c.lang))
		}
	}
	return Name{Title: title, Mid: c.MidSentence(title, lang)}
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

// MidSentence is an activity's name as a sentence in c's language reads it
// mid-sentence, when the name is in lang: English names read in lower case
// ("5 of 5 walk sessions"); German nouns, and a name in another language than
// the sentence's, keep theirs.
func (c *Catalog) MidSentence(name, lang string) string {
	if c.lang == English && lang == string(English) {
		return lowerFirst(name)
	}
	return name
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
