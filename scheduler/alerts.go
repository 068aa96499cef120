package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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

// therapist queues an alert about a patient to their therapist.
func (a *Alerts) therapist(ctx context.Context, p store.Patient, kind, subject string, due store.Reminder) error {
	return a.Therapist(ctx, p.TherapistID, kind, subject, AlertMessage(kind, p.Name, a.PatientURL(p)), due.DueAt)
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
	switch {
	case c.Kind == programs.FlareCheckIn:
		if err := a.patient(ctx, p, KindFlare, subject, FlareMessage(subject, stepBacks(plan, c.Date), a.CheckinURL(p)), due); err != nil {
			return err
		}
		return a.therapist(ctx, p, KindAlertFlare, subject, due)
	case c.Kind == programs.RedFlagCheckIn && len(c.Answers) > 0:
		if err := a.patient(ctx, p, KindRedFlag, subject, RedFlagMessage(a.CheckinURL(p)), due); err != nil {
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

// stepBacks describes the doses from the day after date, e.g. "Walk: 4 minutes".
func stepBacks(plan *programs.Plan, date programs.Date) string {
	for _, w := range plan.Weeks {
		for _, ev := range w.Events {
			if ev.Code == programs.FlareStepBack && ev.Date == date.AddDays(1) {
				if i, j := strings.Index(ev.Reason, "("), strings.Index(ev.Reason, ")"); i >= 0 && j > i {
					return ev.Reason[i+1 : j]
				}
			}
		}
	}
	return "about half your usual dose"
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
		prev := plan.Weeks[i-1]
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
			dose := aw.Unit.Format(aw.Dose)
			if aw.Sets > 1 {
				dose = fmt.Sprintf("%d × %s", aw.Sets, dose)
			}
			name := aw.ID
			if prog != nil {
				if act, ok := prog.Activity(aw.ID); ok {
					name = act.Name
				}
			}
			lines = append(lines, fmt.Sprintf("%s: %s. %s", name, dose, aw.Decision.Reason()))
		}
		url := a.CheckinURL(p)
		m := notify.Message{
			Title: fmt.Sprintf(weeklyTitles[pick(fmt.Sprintf("%d:%d", asg.ID, w.Week), len(weeklyTitles))], done, planned),
			Body:  fmt.Sprintf("Last week you did %d of %d planned sessions. This week:\n%s\n%s", done, planned, strings.Join(lines, "\n"), url),
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
