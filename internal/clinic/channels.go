package clinic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
	"pacer/scheduler"
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
	// ByPatient is set when the patient sends them (their check-in link):
	// an email address they add receives nothing until it is confirmed
	// through a link sent to it. A therapist's settings confirm the
	// channels they list.
	ByPatient bool
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
	stored, err := c.Store.Channels(ctx, p.ID)
	if err != nil {
		return err
	}
	var want []store.Channel
	for i, raw := range in.Channels {
		raw = withoutPending(raw)
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
		// A channel kept as it is stored is not checked again: one the
		// server cannot use (an email address without a mail server) must
		// not keep the patient from saving anything else. It shows as
		// unavailable where channels are shown.
		if c.Channels != nil && !slices.ContainsFunc(stored, func(s store.Channel) bool { return sameChannel(s, ch) }) {
			if err := c.Channels.Check(ctx, ch); err != nil {
				return Problemf("channels[%d]: %v", i, err)
			}
		}
		if in.ByPatient && ch.Type == "email" {
			nonce, err := NewNonce()
			if err != nil {
				return err
			}
			ch.Pending, ch.ConfirmNonce = true, nonce
			ch.ConfirmHash = store.HashToken(c.Keys.ConfirmToken(nonce))
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
		had := map[int64]bool{}
		for _, ch := range have {
			had[ch.ID] = true
			if ch.Type == store.ChannelWebPush {
				want = append(want, ch)
			}
		}
		set2, err := tx.SetChannels(want)
		if errors.Is(err, store.ErrInvalid) {
			return Problemf("%v", err)
		} else if err != nil {
			return err
		}
		if err := tx.SetNotifySettings(set); err != nil {
			return err
		}
		// A new address waits for its confirmation; the message goes at
		// once (under the patient's daily quota, like every message).
		var confirm []store.Reminder
		for _, ch := range set2 {
			if ch.Pending && !had[ch.ID] {
				confirm = append(confirm, store.Reminder{Kind: scheduler.KindConfirm, PatientID: p.ID, ChannelID: ch.ID,
					DueAt: c.Now().UTC(), DedupeKey: fmt.Sprintf("%s:%d", scheduler.KindConfirm, ch.ID)})
			}
		}
		if _, err := tx.AddReminders(confirm); err != nil {
			return err
		}
		_, err = c.replan(tx)
		return err
	})
}

// sameChannel reports whether ch, as sent, is the stored channel s: the same
// type and the same settings, whatever their order and spacing.
func sameChannel(s, ch store.Channel) bool {
	if s.Type != ch.Type {
		return false
	}
	var a, b any
	if json.Unmarshal(s.Config, &a) != nil || json.Unmarshal(ch.Config, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// PendingChannel is the channel a confirmation link names, with its
// patient: ErrNotFound for a link that is not (or no longer) valid.
func (c *Clinic) PendingChannel(ctx context.Context, token string) (store.Channel, store.Patient, error) {
	ch, err := c.Store.PendingChannel(ctx, store.HashToken(token))
	if err != nil {
		return ch, store.Patient{}, err
	}
	p, err := c.Store.PatientByID(ctx, ch.PatientID)
	return ch, p, err
}

// ConfirmChannel confirms the channel of a confirmation link and re-plans
// its patient, so that the coming sessions are reminded through it too.
func (c *Clinic) ConfirmChannel(ctx context.Context, token string) error {
	ch, p, err := c.PendingChannel(ctx, token)
	if err != nil {
		return err
	}
	return c.write(ctx, p.ID, func(tx *store.PatientTx) error {
		if _, err := tx.ConfirmChannel(store.HashToken(token)); err != nil {
			return err
		}
		c.Log.Info("channel confirmed", "patient_id", p.ID, "channel_id", ch.ID)
		_, err := c.replan(tx)
		return err
	})
}

// ConfirmURL is the link that confirms a pending channel; "" for one that
// is not pending.
func (c *Clinic) ConfirmURL(ch store.Channel) string {
	if !ch.Pending || len(ch.ConfirmNonce) == 0 {
		return ""
	}
	return c.URL("/confirm/" + c.Keys.ConfirmToken(ch.ConfirmNonce))
}

// active are the channels that may receive reminders and messages: the
// confirmed ones.
func active(chs []store.Channel) []store.Channel {
	out := make([]store.Channel, 0, len(chs))
	for _, ch := range chs {
		if !ch.Pending {
			out = append(out, ch)
		}
	}
	return out
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
	// The page sends the browser's subscription at every load (a browser
	// may renew it at any time); one stored as it is changes nothing.
	have, err := c.Store.Channels(ctx, p.ID)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(have, func(s store.Channel) bool { return sameChannel(s, ch) }) {
		return nil
	}
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
// Web Push subscription's endpoint and keys stay with the browser. A channel
// waiting for its confirmation says so ("pending": true).
func PublicChannels(chs []store.Channel) []json.RawMessage {
	out := []json.RawMessage{}
	for _, ch := range chs {
		switch {
		case ch.Type == store.ChannelWebPush:
			out = append(out, json.RawMessage(fmt.Sprintf(`{"type":"webpush","id":%d}`, ch.ID)))
		case ch.Pending:
			var m map[string]any
			if json.Unmarshal(ch.Config, &m) != nil {
				m = map[string]any{"type": ch.Type}
			}
			m["pending"] = true
			b, _ := json.Marshal(m)
			out = append(out, b)
		default:
			out = append(out, ch.Config)
		}
	}
	return out
}

// withoutPending drops the "pending" mark PublicChannels adds, so that a
// client may send back what it read; it is the server's to set.
func withoutPending(raw json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	if _, ok := m["pending"]; !ok {
		return raw
	}
	delete(m, "pending")
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// NewNtfyTopic is a private ntfy topic for a patient: "pacer-" and 128
// random bits, which nobody can guess (anyone who knows a topic on an open
// server can read it). The patient subscribes to it from a link or a QR
// code, without typing it.
func NewNtfyTopic() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("ntfy topic: %w", err)
	}
	return "pacer-" + base64.RawURLEncoding.EncodeToString(b), nil
}
