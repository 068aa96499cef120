package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"pacer/internal/store"
	"pacer/notify"
)

// AlertStore is what a therapist's messages need of the store.
type AlertStore interface {
	TherapistChannels(ctx context.Context, therapistID int64) ([]store.Channel, error)
	SetTherapistChannels(ctx context.Context, therapistID int64, chs []store.Channel) ([]store.Channel, error)
	Therapist(ctx context.Context, id int64) (store.Therapist, error)
	AddReminders(ctx context.Context, rs []store.Reminder) (int, error)
}

// Alerts writes therapist-level messages (the daily digest) into the
// outbox, so that they share its delivery, retries and records; the
// dispatcher is woken to send them. A patient's messages (a flare's plan,
// red-flag guidance, the alerts about them, the weekly summary) are written
// by the re-plan that gives rise to them (internal/clinic).
type Alerts struct {
	Store      AlertStore
	EmailReady bool // an SMTP server is configured: therapists get alerts by email by default
	Wake       func()
}

// Therapist queues m to a therapist's channels, by email to their own address
// when they have set no other channel. subject makes it unique per channel.
// about lists the patients m names, so that erasing one deletes it.
func (a *Alerts) Therapist(ctx context.Context, therapistID int64, kind, subject string, m notify.Message, now time.Time, about []int64) error {
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
	payload, _ := json.Marshal(m) // a Message always encodes
	var rs []store.Reminder
	for _, ch := range chs {
		rs = append(rs, store.Reminder{Kind: kind, TherapistID: therapistID, ChannelID: ch.ID, Payload: payload, DueAt: now,
			DedupeKey: fmt.Sprintf("%s:%s:%d", kind, subject, ch.ID), About: about})
	}
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
