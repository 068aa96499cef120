package clinic

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/programs"
	"pacer/scheduler"
)

// The messages a re-plan sends at once follow from what changed between the
// plan it replaced and the one it computed, once per patient: a flare that
// was not in the old plan, a red-flag pause that was not, a flare that has
// just become persistent, a threshold learned from a flare, a learned
// ceiling held long enough to test, a threshold below one granule, a week
// boundary crossed. A first plan (a new
// assignment, or the re-plan of every patient after an upgrade) changes
// nothing, so it sends nothing. Each message's dedupe key names the patient
// and the day, so a repeated re-plan writes no second copy.

// messageWindow is how old a flare or a red flag may be and still be told
// at once: one logged a day or two late is; one back-dated further is news
// to nobody.
const messageWindow = 2

// messages queues the re-plan's messages in tx and reports whether the
// therapist can be reached.
func (c *Clinic) messages(tx *store.PatientTx, plans []planned, chs []store.Channel, set store.NotifySettings,
	cat *i18n.Catalog, loc *time.Location, now time.Time) (bool, error) {
	p := tx.Patient
	today := programs.DateOf(now.In(loc))
	recent := func(d programs.Date) bool { return d >= today.AddDays(-messageWindow) && d <= today }
	url := c.CheckinURL(p)
	var (
		toPatient   []store.Reminder
		alerts      []alert
		flareDoses  = map[programs.Date][]string{}
		redFlag     programs.Date
		urgency     programs.Urgency
		redFlagEv   programs.Event
		persistents []programs.Date
		reviews     = map[reviewKey][]review{} // the therapist's reviews to do, by kind and day
	)
	pauses := 0 // red-flag events so far (pauses, and screens while paused), in the plan that holds most
	for _, pl := range plans {
		n := 0
		seen := map[eventKey]int{}
		for _, w := range pl.plan.Weeks {
			for _, ev := range w.Events {
				if ev.Code == programs.PausedRedFlag && ev.Date <= today {
					n++
				}
				nth := seen[keyOf(ev)]
				seen[keyOf(ev)]++
				switch {
				case ev.Code == programs.FlareStepBack && recent(ev.Facts.Flare) && !pl.had(ev, nth):
					flareDoses[ev.Facts.Flare] = append(flareDoses[ev.Facts.Flare], cat.Doses(pl.a.Program, ev.Facts.Doses, ""))
				case ev.Code == programs.PausedRedFlag && recent(ev.Date) && !pl.had(ev, nth):
					redFlag, urgency, redFlagEv = ev.Date, ev.Facts.Urgency, ev // a patient's screen: the same in every plan
				case ev.Code == programs.FlarePersistent && ev.Date <= today && recent(ev.Date) && !pl.had(ev, nth) &&
					!slices.Contains(persistents, ev.Facts.Flare):
					persistents = append(persistents, ev.Facts.Flare)
				case reviewAlerts[ev.Code] != "" && ev.Date <= today && recent(ev.Date) && !pl.had(ev, nth):
					k := reviewKey{reviewAlerts[ev.Code], ev.Date}
					reviews[k] = append(reviews[k], review{pl.a.Program, ev})
				}
			}
		}
		pauses = max(pauses, n)
	}
	// The therapist's red-flag alert is keyed by the day and by how many
	// red-flag events the plan has had: a screen that pauses nothing new
	// tells them nothing again, while one with a new yes, or a pause after
	// they resumed the same day, does. The patient's guidance goes once a
	// day, however many screens (their page shows the latest).
	redFlagSubject := fmt.Sprintf("p%d:%s:%d", p.ID, today, pauses)
	// Keyed by the patient and today, not the flare's own date: at most one
	// flare message of each kind a day, however many days are logged.
	for _, day := range slices.Sorted(mapKeys(flareDoses)) {
		subject := fmt.Sprintf("p%d:%s", p.ID, today)
		m := scheduler.FlareMessage(cat, subject, strings.Join(flareDoses[day], "; "), url)
		toPatient = append(toPatient, patientMessages(p, chs, scheduler.KindFlare, subject, m, now)...)
		alerts = append(alerts, alert{kind: scheduler.KindAlertFlare, subject: subject})
	}
	if redFlag != 0 {
		m, err := c.redFlagAlert(tx, redFlagEv, loc)
		if err != nil {
			return false, err
		}
		alerts = append(alerts, alert{kind: scheduler.KindAlertRedFlag, subject: redFlagSubject, m: &m})
	}
	for _, flare := range persistents {
		alerts = append(alerts, alert{kind: scheduler.KindAlertPersistent, subject: fmt.Sprintf("p%d:%s", p.ID, flare)})
	}
	for _, k := range slices.SortedFunc(mapKeys(reviews), compareReviewKeys) {
		m := c.reviewAlert(p, k.kind, reviews[k])
		alerts = append(alerts, alert{kind: k.kind, subject: fmt.Sprintf("p%d:%s", p.ID, k.day), m: &m})
	}
	if m, ok := c.weekSummary(plans, cat, today, url); ok {
		subject := fmt.Sprintf("p%d:%s", p.ID, today)
		due := today.In(loc, set.QuietEnd)
		if due.Before(now) {
			due = now
		}
		toPatient = append(toPatient, patientMessages(p, chs, scheduler.KindWeekly, subject, m, due)...)
	}
	reach, rs, err := c.therapistAlerts(tx, alerts, now)
	if err != nil {
		return false, err
	}
	if redFlag != 0 {
		// Its words depend on whether the alert can reach the therapist.
		toPatient = append(toPatient, patientMessages(p, chs, scheduler.KindRedFlag, fmt.Sprintf("p%d:%s", p.ID, today),
			scheduler.RedFlagMessage(cat, urgency, reach, c.Contact, url), now)...)
	}
	if _, err := tx.AddReminders(append(toPatient, rs...)); err != nil {
		return false, err
	}
	return reach, nil
}

// had reports whether the plan a re-plan replaced held ev already, on or
// before its own day: an event it only projected (a flare that would become
// persistent, a ceiling held long enough by a coming review) is news when its
// day comes. ev is the nth (from 0) of the new plan's events alike in code,
// day, flare and activity: a second red-flag pause on a day, after the
// therapist resumed the first, is news too. A first plan holds everything,
// so that it announces nothing.
func (pl planned) had(ev programs.Event, nth int) bool {
	if pl.old == nil {
		return true
	}
	k := keyOf(ev)
	for _, e := range pl.old.Events {
		if keyOf(e.Event) == k && e.Date <= pl.old.Header.Now {
			if nth == 0 {
				return true
			}
			nth--
		}
	}
	return false
}

// eventKey is what tells events apart for had.
type eventKey struct {
	code     programs.Code
	date     programs.Date
	flare    programs.Date
	activity string
}

func keyOf(ev programs.Event) eventKey {
	return eventKey{ev.Code, ev.Date, ev.Facts.Flare, ev.Activity}
}

// The therapist alerts of the engine's review events: a threshold learned
// from a flare (old and new ceiling), a learned ceiling held for
// ceiling_review_weeks flare-free counted weeks, a threshold that leaves no
// granule below it. One message per kind, patient and day lists every
// activity; its dedupe key names the patient and the day.
const (
	KindAlertThreshold     = "alert_threshold"
	KindAlertCeiling       = "alert_ceiling_ready"
	KindAlertTinyThreshold = "alert_tiny"
)

var reviewAlerts = map[programs.Code]string{
	programs.ThresholdLearned: KindAlertThreshold,
	programs.CeilingReady:     KindAlertCeiling,
	programs.ThresholdTiny:    KindAlertTinyThreshold,
}

type reviewKey struct {
	kind string
	day  programs.Date
}

func compareReviewKeys(a, b reviewKey) int {
	return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.kind, b.kind))
}

type review struct {
	prog *programs.Program
	ev   programs.Event
}

// reviewAlert words a review alert in English (therapists have no language
// setting yet): a line per activity, e.g. "Walk: threshold 12 minutes,
// ceiling 10 minutes (before: 23 minutes)".
func (c *Clinic) reviewAlert(p store.Patient, kind string, rs []review) notify.Message {
	en := i18n.For(i18n.English)
	id := map[string]string{KindAlertThreshold: "alert.threshold", KindAlertCeiling: "alert.ceiling_ready",
		KindAlertTinyThreshold: "alert.tiny"}[kind]
	lines := make([]string, len(rs))
	args := i18n.Args{"patient": p.Name, "url": c.TherapistURL(p)}
	for i, r := range rs {
		f := r.ev.Facts
		name, unit := r.ev.Activity, programs.Minutes
		if a, ok := r.prog.Activity(r.ev.Activity); ok {
			name, unit = a.NameIn(string(en.Lang())), a.Unit
		}
		prev := ""
		if f.PrevCeiling > 0 {
			prev = en.Amount(unit, f.PrevCeiling)
		}
		lines[i] = en.Text(id+".line", i18n.Args{"activity": name, "threshold": en.Amount(unit, f.Threshold),
			"ceiling": en.Amount(unit, f.Ceiling), "prev": prev, "dose": en.Amount(unit, f.Dose)})
		args["flare"], args["weeks"] = en.Day(f.Flare), f.Weeks
	}
	args["lines"] = strings.Join(lines, "; ")
	return notify.Message{Title: en.Text(id+".title", args), Body: en.Text(id+".body", args), URL: c.TherapistURL(p), Tag: kind}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// alert is a therapist alert: its kind and subject (its dedupe key), and
// its message when it is not one of scheduler.AlertMessage's.
type alert struct {
	kind, subject string
	m             *notify.Message
}

// patientMessages addresses m to each of the patient's channels.
func patientMessages(p store.Patient, chs []store.Channel, kind, subject string, m notify.Message, due time.Time) []store.Reminder {
	payload, _ := json.Marshal(m) // a Message always encodes
	out := make([]store.Reminder, 0, len(chs))
	for _, ch := range chs {
		out = append(out, store.Reminder{Kind: kind, PatientID: p.ID, ChannelID: ch.ID, Payload: payload,
			DueAt: due.UTC(), DedupeKey: fmt.Sprintf("%s:%s:%d", kind, subject, ch.ID)})
	}
	return out
}

// therapistAlerts addresses the alerts to the patient's therapist's
// channels; a therapist with none is alerted at their own address when an
// SMTP server is configured. It reports whether any channel the server can
// send through reaches them.
// Therapists have no language setting yet, so alerts are in English.
func (c *Clinic) therapistAlerts(tx *store.PatientTx, alerts []alert, now time.Time) (bool, []store.Reminder, error) {
	chs, err := tx.TherapistChannels()
	if err != nil {
		return false, nil, err
	}
	if len(chs) == 0 && c.TherapistEmail && len(alerts) > 0 {
		t, err := tx.Therapist()
		if err != nil {
			return false, nil, err
		}
		cfg, _ := json.Marshal(map[string]string{"type": "email", "address": t.Email})
		if chs, err = tx.SetTherapistChannels([]store.Channel{{Type: "email", Config: cfg}}); err != nil {
			return false, nil, err
		}
	}
	// A channel reaches the therapist only if the server can send through
	// its type: an email channel without a mail server reaches no one.
	reach := slices.ContainsFunc(chs, func(ch store.Channel) bool { return c.Usable(ch.Type) })
	if len(alerts) == 0 {
		return reach || c.TherapistEmail, nil, nil
	}
	p, en := tx.Patient, i18n.For(i18n.English)
	var rs []store.Reminder
	for _, a := range alerts {
		m := scheduler.AlertMessage(en, a.kind, p.Name, c.TherapistURL(p))
		if a.m != nil {
			m = *a.m
		}
		payload, _ := json.Marshal(m)
		for _, ch := range chs {
			rs = append(rs, store.Reminder{Kind: a.kind, TherapistID: p.TherapistID, PatientID: p.ID, ChannelID: ch.ID, Payload: payload,
				DueAt: now.UTC(), DedupeKey: fmt.Sprintf("%s:%s:%d", a.kind, a.subject, ch.ID)})
		}
	}
	return reach, rs, nil
}

// weekSummary is the patient's weekly summary when the re-plan crossed the
// week boundary of their oldest active program (so one summary per patient
// per week, however many programs they have) and today is that boundary: how
// many of the last seven days' sessions were done, and every program's doses
// for the week with their reasons. A paused patient gets none.
func (c *Clinic) weekSummary(plans []planned, cat *i18n.Catalog, today programs.Date, url string) (notify.Message, bool) {
	if len(plans) == 0 {
		return notify.Message{}, false
	}
	anchor := plans[0]
	for _, pl := range plans {
		if pl.plan.Paused {
			return notify.Message{}, false
		}
	}
	since := anchor.a.Start
	if today <= since || int(today-since)%7 != 0 || anchor.old == nil || anchor.old.Header.Now >= today {
		return notify.Message{}, false
	}
	planned, done := 0, 0
	var lines []string
	for _, pl := range plans {
		for _, w := range pl.plan.Weeks {
			for _, aw := range w.Activities {
				for _, s := range aw.Sessions {
					if s.Extra || s.Status == programs.Cancelled || s.Date < today.AddDays(-7) || s.Date >= today {
						continue
					}
					planned++
					if s.Status == programs.Done || s.Status == programs.Partial {
						done++
					}
				}
				if today >= w.Start && today < w.Start.AddDays(7) {
					act, _ := pl.a.Program.Activity(aw.ID)
					name := aw.ID
					if act != nil {
						name = act.NameIn(string(cat.Lang()))
					}
					lines = append(lines, cat.Text("weekly.line", i18n.Args{"activity": name,
						"amount": amountSets(cat, aw.Unit, aw.Dose, aw.Sets), "reason": cat.Reason(pl.a.Program, aw.Decision)}))
				}
			}
		}
	}
	key := fmt.Sprintf("weekly:%s", today)
	args := i18n.Args{"done": done, "planned": planned, "lines": strings.Join(lines, "\n"), "url": url}
	return notify.Message{
		Title: cat.Text(scheduler.Phrasing("weekly", key, "title"), args),
		Body:  cat.Text("weekly.body", args),
		URL:   url, Tag: scheduler.KindWeekly,
	}, true
}

// amountSets words a dose with its sets, "14 minutes", "2 × 8 reps".
func amountSets(cat *i18n.Catalog, u programs.Unit, dose, sets int) string {
	a := cat.Amount(u, dose)
	if sets > 1 {
		a = cat.Text("amount.sets", i18n.Args{"sets": sets, "amount": a})
	}
	return a
}
