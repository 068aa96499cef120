package clinic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// Settings are a patient's reminder channels and settings as a patient or
// therapist sends them; a nil field keeps what is stored.
type Settings struct {
	// Channels replaces the patient's channels (Web Push subscriptions,
	// which the browser adds, are kept); each is its JSON object with a
	// "type". Nil is an error: send an empty list for none.
	Channels   []json.RawMessage
	QuietHours *QuietHours
	LeadMinutes,
	NudgeHours *int
	Language *string // en or de (a tag such as de-DE is read as de)
}

// QuietHours are local HH:MM times; Drop drops reminders that fall inside
// instead of moving them to the end.
type QuietHours struct {
	Start, End string
	Drop       bool
}

// SetSettings checks and saves a patient's channels and reminder settings
// and re-plans, in one transaction, so that the coming sessions are reminded
// on the new channels and the calendar speaks the new language.
func (c *Clinic) SetSettings(ctx context.Context, p store.Patient, in Settings) error {
	if in.Channels == nil {
		return Problemf(`channels is required: a list such as [{"type":"email","address":"a@b.example"}] (may be empty)`)
	}
	var want []store.Channel
	for i, raw := range in.Channels {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.Type == "" {
			return Problemf("channels[%d] needs a type: email, ntfy, pushover, telegram or webhook", i)
		}
		if head.Type == store.ChannelWebPush {
			return Problemf("channels[%d]: Web Push is added by the browser through POST /c/{token}/push-subscriptions", i)
		}
		ch := store.Channel{PatientID: p.ID, Type: head.Type, Config: raw}
		if c.Channels != nil {
			if err := c.Channels.Check(ctx, ch); err != nil {
				return Problemf("channels[%d]: %v", i, err)
			}
		}
		want = append(want, ch)
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		set, err := tx.NotifySettings()
		if err != nil {
			return err
		}
		if q := in.QuietHours; q != nil {
			start, err1 := programs.ParseClock(q.Start)
			end, err2 := programs.ParseClock(q.End)
			if err1 != nil || err2 != nil {
				return Problemf(`quiet_hours needs start and end as HH:MM, e.g. {"start":"21:30","end":"07:00"}`)
			}
			set.QuietStart, set.QuietEnd, set.QuietDrop = int(start), int(end), q.Drop
		}
		if in.LeadMinutes != nil {
			if *in.LeadMinutes < 0 || *in.LeadMinutes > 720 {
				return Problemf("lead_minutes must be between 0 and 720")
			}
			set.LeadMinutes = *in.LeadMinutes
		}
		if in.NudgeHours != nil {
			if *in.NudgeHours < 0 || *in.NudgeHours > 12 {
				return Problemf("nudge_hours must be between 0 (no nudge) and 12")
			}
			set.NudgeHours = *in.NudgeHours
		}
		if in.Language != nil {
			lang, ok := i18n.Lookup(*in.Language)
			if !ok {
				return Problemf("language %q is not one pacer speaks: use en (English) or de (German)", *in.Language)
			}
			set.Language = string(lang)
		}
		have, err := tx.Channels()
		if err != nil {
			return err
		}
		for _, ch := range have {
			if ch.Type == store.ChannelWebPush {
				want = append(want, ch)
			}
		}
		if _, err := tx.SetChannels(want); errors.Is(err, store.ErrInvalid) {
			return Problemf("%v", err)
		} else if err != nil {
			return err
		}
		if err := tx.SetNotifySettings(set); err != nil {
			return err
		}
		_, err = c.replan(tx)
		return err
	})
}

// AddPushSubscription stores the browser's PushSubscription (its JSON) as a
// Web Push channel of the patient and re-plans, so the coming sessions are
// reminded through it.
func (c *Clinic) AddPushSubscription(ctx context.Context, p store.Patient, raw []byte) error {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return Problemf("the body must be the browser's PushSubscription as JSON")
	}
	ch := store.Channel{PatientID: p.ID, Type: store.ChannelWebPush, Config: compact.Bytes()}
	if c.Channels != nil {
		if err := c.Channels.Check(ctx, ch); err != nil {
			return Problemf("%v", err)
		}
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		if _, err := tx.AddPushSubscription(compact.Bytes()); err != nil {
			return fmt.Errorf("add push subscription: %w", err)
		}
		_, err := c.replan(tx)
		return err
	})
}

// PublicChannels are the channels as a patient or therapist may see them: a
// Web Push subscription's endpoint and keys stay with the browser.
func PublicChannels(chs []store.Channel) []json.RawMessage {
	out := []json.RawMessage{}
	for _, ch := range chs {
		if ch.Type == store.ChannelWebPush {
			out = append(out, json.RawMessage(fmt.Sprintf(`{"type":"webpush","id":%d}`, ch.ID)))
			continue
		}
		out = append(out, ch.Config)
	}
	return out
}
