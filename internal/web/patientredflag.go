package web

// The red-flag screen (progression.md, version 2): asked as "new or worse
// since your last answers", with the items the therapist marked known and
// reviewed listed apart, each with a "worse" option; and the guidance of
// the most urgent answer at the top of the check-in page while the plan is
// paused for it, which says that the therapist was told only when an alert
// reached them (or is on its way to a channel that reaches them), and
// otherwise says so and names the clinic's contact.

import (
	"net/http"
	"slices"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// kindAlertRedFlag is the kind of the therapist's red-flag alert in the
// outbox (scheduler.KindAlertRedFlag).
const kindAlertRedFlag = "alert_red_flag"

// redFlagBox is the guidance at the top of a page paused by a red flag.
type redFlagBox struct {
	Title, Advice, Told string
	// Unreached: the therapist was not told, so the clinic's contact is
	// named (Told says to contact them).
	Unreached bool
}

// redFlagGuidance is the guidance of a red-flag answer as the API answers
// it: what to do, that the plan is paused, what is true of the therapist.
func redFlagGuidance(cat *i18n.Catalog, u programs.Urgency, told i18n.Told, contact string) string {
	_, body := cat.RedFlagAdvice(u, told, contact)
	return body
}

// redFlagBox is the guidance of the patient's red-flag pause, or nil when
// no program of theirs is paused by one. What it says of the therapist
// comes from the outbox: the alert sent, the alert on its way, or no alert
// that can reach them (none queued, or it failed).
func (pp *patientPages) redFlagBox(r *http.Request, p store.Patient, cat *i18n.Catalog, progs []plannedProgram) (*redFlagBox, error) {
	var (
		paused  programs.Date
		urgency programs.Urgency
		found   bool
	)
	for _, pr := range progs {
		h := pr.sp.Header
		if h.Pause != programs.PausedByRedFlag {
			continue
		}
		found, paused = true, h.PausedOn
		if u := clinic.PauseUrgency(pr.sp); u.MoreUrgent(urgency) {
			urgency = u
		}
	}
	if !found {
		return nil, nil
	}
	loc, err := pp.Clinic.Zone(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	alerts, err := pp.Store.TherapistAlerts(r.Context(), p.ID, kindAlertRedFlag, paused.In(loc, 0))
	if err != nil {
		return nil, err
	}
	// The latest alert says what is true of the latest answers: a screen
	// answered while paused is told apart (clinic.CheckIns).
	if n := len(alerts); n > 0 {
		last := alerts[n-1].CreatedAt
		alerts = slices.DeleteFunc(alerts, func(a store.Reminder) bool { return a.CreatedAt.Before(last) })
	}
	told := i18n.TherapistUnreached
	for _, a := range alerts {
		switch a.Status {
		case store.ReminderSent:
			told = i18n.TherapistTold
		case store.ReminderPending, store.ReminderSending:
			told = max(told, i18n.TherapistSending)
		}
	}
	box := &redFlagBox{Title: cat.Text("redflag.title", nil), Advice: cat.Text("redflag.advice", nil),
		Told: cat.RedFlagTold(told, pp.ClinicContact), Unreached: told == i18n.TherapistUnreached}
	if urgency != "" { // a pause from before the tiers has none
		box.Title, box.Advice = cat.Text("redflag.title."+string(urgency), nil), cat.Text("redflag.urgency."+string(urgency), nil)
	}
	return box, nil
}

// redFlagView is the red-flag screen.
type redFlagView struct {
	pageBase
	Lead string
	// Items are asked as new or worse; Known are those the therapist marked
	// known and reviewed, asked only if worse.
	Items, Known []redFlagItem
	LastAnswers  string // the day of the last answers, if any
	AfterWeekly  bool
	Paused       bool
}

// redFlagItem is one question of the screen in the page's language.
type redFlagItem struct {
	ID, Question string
}

// redFlagPage shows the red-flag screen.
func (pp *patientPages) redFlagPage(w http.ResponseWriter, r *http.Request) {
	p, cat, ok := pp.patientAndCatalog(w, r)
	if !ok {
		return
	}
	v := &redFlagView{pageBase: pp.base(r, cat, "page.redflag.heading"), Lead: cat.Text("redflag.lead", nil),
		AfterWeekly: r.URL.Query().Get("after") == "weekly"}
	if v.AfterWeekly {
		v.Notice, v.NoticeAt = cat.Text("page.weekly.saved", nil), "top"
	}
	known, err := pp.Clinic.KnownRedFlagsNow(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	for _, f := range programs.RedFlags {
		it := redFlagItem{ID: f.ID, Question: cat.Text("redflag.q."+f.ID, nil)}
		if slices.ContainsFunc(known, func(k programs.KnownRedFlag) bool { return k.ID == f.ID }) {
			v.Known = append(v.Known, it)
		} else {
			v.Items = append(v.Items, it)
		}
	}
	checkins, err := pp.Store.CheckInsOf(r.Context(), p.ID)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	for _, c := range checkins {
		if c.CheckIn.Kind == programs.RedFlagCheckIn {
			v.LastAnswers = cat.Day(c.CheckIn.Date)
		}
	}
	progs, err := pp.programsOf(r, p, cat)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	for _, pr := range progs {
		v.Paused = v.Paused || pr.sp.Header.Pause == programs.PausedByRedFlag
	}
	pp.show(w, r, http.StatusOK, "redflags", v)
}
