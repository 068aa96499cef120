// Package planjson is a plan as pacer prints it for people and programs:
// `pacer program plan --json` and GET /api/v1/assignments/{id}/plan. It is
// the engine's plan, in codes and numbers, with each decision and event also
// worded in one language by a message catalogue. It imports the engine's
// types and the catalogues, nothing that does I/O.
package planjson

import (
	"pacer/internal/i18n"
	"pacer/programs"
)

// Plan is programs.Plan with reasons.
type Plan struct {
	Program    string              `json:"program"`
	Start      programs.Date       `json:"start"`
	Timezone   string              `json:"timezone"`
	Now        programs.Date       `json:"now"`
	Paused     bool                `json:"paused"`
	InFlare    bool                `json:"in_flare"`
	Pause      programs.PauseCause `json:"pause,omitempty"`
	PausedOn   programs.Date       `json:"paused_on,omitzero"`
	Answers    []string            `json:"answers,omitempty"`
	Urgency    programs.Urgency    `json:"urgency,omitempty"`
	FlareOn    programs.Date       `json:"flare_on,omitzero"`
	FlareAsk   programs.Date       `json:"flare_ask,omitzero"`
	Persistent bool                `json:"persistent,omitempty"`
	Weeks      []Week              `json:"weeks"`
}

// Week is programs.Week with reasons.
type Week struct {
	Week       int               `json:"week"`
	Start      programs.Date     `json:"start"`
	Projected  bool              `json:"projected"`
	Decision   Decision          `json:"decision"`
	Activities []ActivityWeek    `json:"activities"`
	Events     []Event           `json:"events,omitempty"`
	Signals    *programs.Signals `json:"signals,omitempty"`
}

// Decision is a decision's code, its reason in the plan's language, and the
// facts the reason words.
type Decision struct {
	Code     programs.Code  `json:"code"`
	Activity string         `json:"activity,omitempty"`
	Reason   string         `json:"reason"`
	Facts    programs.Facts `json:"facts"`
}

// ActivityWeek is programs.ActivityWeek with reasons.
type ActivityWeek struct {
	ID         string        `json:"id"`
	Unit       programs.Unit `json:"unit"`
	Dose       int           `json:"dose"`
	Sets       int           `json:"sets"`
	Decision   Decision      `json:"decision"`
	Goal       int           `json:"goal"`
	Threshold  int           `json:"threshold,omitempty"`
	Learned    bool          `json:"learned,omitempty"`
	Ceiling    int           `json:"ceiling,omitempty"`
	EveryOther bool          `json:"every_other,omitempty"`
	Done       int           `json:"done"`
	Planned    int           `json:"planned"`
	Sessions   []Session     `json:"sessions"`
}

// Session is programs.Session; one whose dose an event of its week set
// (Cause > 0) carries that event's reason worded for its day, and the others
// have their activity's decision as their reason.
type Session struct {
	programs.Session
	Reason string `json:"reason,omitempty"`
}

// Event is programs.Event with its reason.
type Event struct {
	Date     programs.Date  `json:"date"`
	Code     programs.Code  `json:"code"`
	Activity string         `json:"activity,omitempty"`
	Reason   string         `json:"reason"`
	Facts    programs.Facts `json:"facts"`
}

// New words plan, an assignment of prog, in cat's language.
func New(plan *programs.Plan, prog *programs.Program, cat *i18n.Catalog) Plan {
	out := Plan{Program: plan.Program, Start: plan.Start, Timezone: plan.Timezone, Now: plan.Now,
		Paused: plan.Paused, InFlare: plan.InFlare, Pause: plan.Pause, PausedOn: plan.PausedOn, Answers: plan.Answers,
		Urgency: plan.Urgency, FlareOn: plan.FlareOn, FlareAsk: plan.FlareAsk, Persistent: plan.Persistent,
		Weeks: make([]Week, len(plan.Weeks))}
	decision := func(d programs.Decision) Decision {
		return Decision{Code: d.Code, Activity: d.Activity, Reason: cat.Reason(prog, d), Facts: d.Facts}
	}
	for i, w := range plan.Weeks {
		ow := Week{Week: w.Week, Start: w.Start, Projected: w.Projected, Decision: decision(w.Decision),
			Activities: make([]ActivityWeek, len(w.Activities)), Signals: w.Signals}
		for _, ev := range w.Events {
			ow.Events = append(ow.Events, Event{Date: ev.Date, Code: ev.Code, Activity: ev.Activity,
				Reason: cat.Event(prog, ev, 0, ""), Facts: ev.Facts})
		}
		for j, aw := range w.Activities {
			oa := ActivityWeek{ID: aw.ID, Unit: aw.Unit, Dose: aw.Dose, Sets: aw.Sets, Decision: decision(aw.Decision),
				Goal: aw.Goal, Threshold: aw.Threshold, Learned: aw.Learned, Ceiling: aw.Ceiling, EveryOther: aw.EveryOther, Done: aw.Done,
				Planned: aw.Planned, Sessions: make([]Session, len(aw.Sessions))}
			for k, x := range aw.Sessions {
				oa.Sessions[k] = Session{Session: x}
				if x.Cause > 0 && x.Cause <= len(w.Events) {
					oa.Sessions[k].Reason = cat.Event(prog, w.Events[x.Cause-1], x.Date, aw.ID)
				}
			}
			ow.Activities[j] = oa
		}
		out.Weeks[i] = ow
	}
	return out
}
