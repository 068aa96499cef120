package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/programs"
)

// AlertStore is what immediate messages need of the store.
type AlertStore interface {
	Channels(ctx context.Context, patientID int64) ([]store.Channel, error)
	TherapistChannels(ctx context.Context, therapistID int64) ([]store.Channel, error)
	SetTherapistChannels(ctx context.Context, therapistID int64, chs []store.Channel) ([]store.Channel, error)
	Therapist(ctx context.Context, id int64) (store.Therapist, error)
	AddReminders(ctx context.Context, rs []store.Reminder) (int, error)
	NotifySettings(ctx context.Context, patientID int64) (store.NotifySettings, error)
}

// Alerts writes the messages that go at once (a flare plan, red-flag
// guidance, therapist alerts) into the outbox, so that they share its
// delivery, retries and records; the dispatcher is woken to send them.
type Alerts struct {
	Store      AlertStore
	EmailReady bool // an SMTP server is configured: therapists get alerts by email by default
	CheckinURL func(p store.Patient) string
	PatientURL func(p store.Patient) string // the therapist's view of the patient
	Wake       func()
}

func payload(m notify.Message) json.RawMessage {
	b, _ := json.Marshal(m) // a Message always encodes
	return b
}

// patient queues m to every channel of the patient.
func (a *Alerts) patient(ctx context.Context, p store.Patient, kind, subject string, m notify.Message, due store.Reminder) error {
	chs, err := a.Store.Channels(ctx, p.ID)
	if err != nil {
		return err
	}
	var rs []store.Reminder
	for _, ch := range chs {
		r := due
		r.Kind, r.PatientID, r.ChannelID, r.Payload = kind, p.ID, ch.ID, payload(m)
		r.DedupeKey = fmt.Sprintf("%s:%s:%d", kind, subject, ch.ID)
		rs = append(rs, r)
	}
	return a.add(ctx, rs)
}

// therapist queues an alert about a patient to their therapist. Therapists
// have no language setting yet, so their alerts are in English.
func (a *Alerts) therapist(ctx context.Context, p store.Patient, kind, subject string, due store.Reminder) error {
	return a.Therapist(ctx, p.TherapistID, kind, subject, AlertMessage(i18n.For(i18n.English), kind, p.Name, a.PatientURL(p)), due.DueAt)
}

// catalog is the catalogue of the patient's language (NotifySettings.Language).
func (a *Alerts) catalog(ctx context.Context, p store.Patient) (*i18n.Catalog, error) {
	set, err := a.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return i18n.For(i18n.Parse(set.Language)), nil
}

// Therapist queues m to a therapist's channels, by email to their own address
// when they have set no other channel. subject makes it unique per channel.
func (a *Alerts) Therapist(ctx context.Context, therapistID int64, kind, subject string, m notify.Message, now time.Time) error {
	chs, err := a.Store.TherapistChannels(ctx, therapistID)
	if err != nil {
		return err
	}
	if len(chs) == 0 && a.EmailReady {
		t, err := a.Store.Therapist(ctx, therapistID)
		if err != nil {
			return err
		}
		cfg, _ := json.Marshal(map[string]string{"type": "email", "address": t.Email})
		if chs, err = a.Store.SetTherapistChannels(ctx, t.ID, []store.Channel{{TherapistID: t.ID, Type: "email", Config: cfg}}); err != nil {
			return err
		}
	}
	var rs []store.Reminder
	for _, ch := range chs {
		rs = append(rs, store.Reminder{Kind: kind, TherapistID: therapistID, ChannelID: ch.ID, Payload: payload(m), DueAt: now,
			DedupeKey: fmt.Sprintf("%s:%s:%d", kind, subject, ch.ID)})
	}
	return a.add(ctx, rs)
}

func (a *Alerts) add(ctx context.Context, rs []store.Reminder) error {
	if len(rs) == 0 {
		return nil
	}
	if _, err := a.Store.AddReminders(ctx, rs); err != nil {
		return err
	}
	if a.Wake != nil {
		a.Wake()
	}
	return nil
}

// CheckedIn queues what a check-in calls for at once: after a flare, the
// flare plan to the patient and an alert to the therapist; after a red flag,
// the urgent-care guidance to the patient and an alert to the therapist.
// checkInID makes each message unique to its check-in.
func (a *Alerts) CheckedIn(ctx context.Context, p store.Patient, c programs.CheckIn, checkInID int64, plan *programs.Plan, now time.Time) error {
	due := store.Reminder{DueAt: now}
	subject := fmt.Sprint(checkInID)
	if c.Kind != programs.FlareCheckIn && (c.Kind != programs.RedFlagCheckIn || len(c.Answers) == 0) {
		return nil
	}
	cat, err := a.catalog(ctx, p)
	if err != nil {
		return err
	}
	switch {
	case c.Kind == programs.FlareCheckIn:
		if err := a.patient(ctx, p, KindFlare, subject, FlareMessage(cat, subject, stepBacks(cat, plan, c.Date), a.CheckinURL(p)), due); err != nil {
			return err
		}
		return a.therapist(ctx, p, KindAlertFlare, subject, due)
	case c.Kind == programs.RedFlagCheckIn && len(c.Answers) > 0:
		if err := a.patient(ctx, p, KindRedFlag, subject, RedFlagMessage(cat, a.CheckinURL(p)), due); err != nil {
			return err
		}
		return a.therapist(ctx, p, KindAlertRedFlag, subject, due)
	}
	return nil
}

// Persistent alerts the therapist once per flare that has lasted long enough
// to be persistent, as the plan reports it up to today.
func (a *Alerts) Persistent(ctx context.Context, p store.Patient, plan *programs.Plan, now time.Time) error {
	for _, w := range plan.Weeks {
		for _, ev := range w.Events {
			if ev.Code == programs.FlarePersistent && ev.Date <= plan.Now {
				if err := a.therapist(ctx, p, KindAlertPersistent, ev.Date.String(), store.Reminder{DueAt: now}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// stepBacks describes the doses from the day after date, e.g. "Walk: 4
// minutes", or is "" when the plan has no step-back then. The engine gives
// them, in English, in the step-back event's reason ("… (Walk: 4 minutes;
// Bridge: 4 reps) …"); each is worded again in c's language.
func stepBacks(c *i18n.Catalog, plan *programs.Plan, date programs.Date) string {
	for _, w := range plan.Weeks {
		for _, ev := range w.Events {
			if ev.Code == programs.FlareStepBack && ev.Date == date.AddDays(1) {
				if i, j := strings.Index(ev.Reason, "("), strings.Index(ev.Reason, ")"); i >= 0 && j > i {
					return rewordDoses(c, ev.Reason[i+1:j])
				}
			}
		}
	}
	return ""
}

var doseText = regexp.MustCompile(`^(.+): (\d+) (minutes?|reps?|seconds?)$`)

// rewordDoses words "Walk: 4 minutes; Bridge: 1 rep" in c's language.
func rewordDoses(c *i18n.Catalog, s string) string {
	parts := strings.Split(s, "; ")
	for i, p := range parts {
		m := doseText.FindStringSubmatch(p)
		if m == nil {
			continue // not a dose as the engine writes it: leave it as it is
		}
		n, _ := strconv.Atoi(m[2])
		u := programs.Unit(strings.TrimSuffix(m[3], "s") + "s")
		parts[i] = c.Text("flare.dose", i18n.Args{"activity": m[1], "amount": c.Amount(u, n)})
	}
	return strings.Join(parts, "; ")
}

// WeekSummary queues, once per program week, a summary to the patient: how
// many sessions last week held, and this week's doses with their reasons. It
// goes out at the end of the patient's quiet hours on the week's first day,
// and only while that day is near, so a late review sends no stale summary.
func (a *Alerts) WeekSummary(ctx context.Context, p store.Patient, asg store.Assignment, plan *programs.Plan,
	set store.NotifySettings, loc *time.Location, now time.Time) error {
	if a.Store == nil {
		return nil
	}
	for i, w := range plan.Weeks {
		if i == 0 || w.Start > plan.Now || plan.Now >= w.Start.AddDays(1) || w.Decision.Code == programs.PausedRedFlag {
			continue
		}
		prev, cat := plan.Weeks[i-1], i18n.For(i18n.Parse(set.Language))
		prog, _ := programs.Parse("assignment", asg.Program) // only for the activities' names
		planned, done := 0, 0
		var lines []string
		for k, aw := range w.Activities {
			for _, s := range prev.Activities[k].Sessions {
				if s.Extra || s.Status == programs.Cancelled {
					continue
				}
				planned++
				if s.Status == programs.Done || s.Status == programs.Partial {
					done++
				}
			}
			name := aw.ID
			if prog != nil {
				if act, ok := prog.Activity(aw.ID); ok {
					name = act.Name
				}
			}
			lines = append(lines, cat.Text("weekly.line", i18n.Args{"activity": name,
				"amount": amount(cat, aw.Unit, aw.Dose, aw.Sets), "reason": aw.Decision.ReasonIn(cat)}))
		}
		url := a.CheckinURL(p)
		args := i18n.Args{"done": done, "planned": planned, "lines": strings.Join(lines, "\n"), "url": url}
		m := notify.Message{
			Title: cat.Text(phrasing("weekly", fmt.Sprintf("%d:%d", asg.ID, w.Week), "title"), args),
			Body:  cat.Text("weekly.body", args),
			URL:   url, Tag: KindWeekly,
		}
		due := w.Start.In(loc, set.QuietEnd)
		if due.Before(now) {
			due = now
		}
		return a.patient(ctx, p, KindWeekly, fmt.Sprintf("%d:%d", asg.ID, w.Week), m, store.Reminder{DueAt: due.UTC()})
	}
	return nil
}
