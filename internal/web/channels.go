package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
	"pacer/scheduler"
)

// Reminders wires the reminder side into the server: the channel settings
// that check and build notifiers, immediate alerts, the VAPID public key the
// check-in page subscribes with, and the dispatcher's wake-up.
func (s *Server) Reminders(chs *scheduler.Channels, alerts *scheduler.Alerts, vapidPublic string, wake func()) {
	s.channels, s.alerts, s.vapidPublic = chs, alerts, vapidPublic
	s.mat.Wake, s.mat.Alerts = wake, alerts
}

type channelsBody struct {
	Channels   []json.RawMessage `json:"channels"`
	QuietHours *struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Drop  bool   `json:"drop,omitempty"`
	} `json:"quiet_hours,omitempty"`
	LeadMinutes *int    `json:"lead_minutes,omitempty"`
	NudgeHours  *int    `json:"nudge_hours,omitempty"`
	Language    *string `json:"language,omitempty"` // en or de (a tag such as de-DE is read as de)
}

type channelsReply struct {
	Channels   []json.RawMessage `json:"channels"`
	QuietHours struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Drop  bool   `json:"drop"`
	} `json:"quiet_hours"`
	LeadMinutes int    `json:"lead_minutes"`
	NudgeHours  int    `json:"nudge_hours"`
	Language    string `json:"language"`
}

func (s *Server) putChannelsAPI(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if p, ok := s.patient(w, r, t); ok {
		s.putChannels(w, r, p)
	}
}

func (s *Server) getChannelsAPI(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if p, ok := s.patient(w, r, t); ok {
		s.replyChannels(w, r, p)
	}
}

func (s *Server) putChannelsPatient(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.checkinPatient(w, r); ok {
		s.putChannels(w, r, p)
	}
}

func (s *Server) getChannelsPatient(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.checkinPatient(w, r); ok {
		s.replyChannels(w, r, p)
	}
}

// putChannels replaces the patient's channels and reminder settings (see
// saveChannels) and answers with them.
func (s *Server) putChannels(w http.ResponseWriter, r *http.Request, p store.Patient) {
	var in channelsBody
	if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	if err := s.saveChannels(r.Context(), p, in); err != nil {
		s.fail(w, r, err)
		return
	}
	s.replyChannels(w, r, p)
}

// saveChannels replaces the patient's channels (Web Push subscriptions, which
// the browser adds, are kept) and reminder settings, then re-plans so that
// the coming sessions are reminded on the new channels.
func (s *Server) saveChannels(ctx context.Context, p store.Patient, in channelsBody) error {
	if in.Channels == nil {
		return badInputf(`channels is required: a list such as [{"type":"email","address":"a@b.example"}] (may be empty)`)
	}
	var want []store.Channel
	for i, raw := range in.Channels {
		var head struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &head); err != nil || head.Type == "" {
			return badInputf("channels[%d] needs a type: email, ntfy, pushover, telegram or webhook", i)
		}
		if head.Type == "webpush" {
			return badInputf("channels[%d]: Web Push is added by the browser through POST /c/{token}/push-subscriptions", i)
		}
		ch := store.Channel{PatientID: p.ID, Type: head.Type, Config: raw}
		if s.channels != nil {
			if err := s.channels.Check(ctx, ch); err != nil {
				return badInputf("channels[%d]: %v", i, err)
			}
		}
		want = append(want, ch)
	}
	set, err := s.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return err
	}
	if q := in.QuietHours; q != nil {
		start, err1 := programs.ParseClock(q.Start)
		end, err2 := programs.ParseClock(q.End)
		if err1 != nil || err2 != nil {
			return badInputf(`quiet_hours needs start and end as HH:MM, e.g. {"start":"21:30","end":"07:00"}`)
		}
		set.QuietStart, set.QuietEnd, set.QuietDrop = int(start), int(end), q.Drop
	}
	if in.LeadMinutes != nil {
		if *in.LeadMinutes < 0 || *in.LeadMinutes > 720 {
			return badInputf("lead_minutes must be between 0 and 720")
		}
		set.LeadMinutes = *in.LeadMinutes
	}
	if in.NudgeHours != nil {
		if *in.NudgeHours < 0 || *in.NudgeHours > 12 {
			return badInputf("nudge_hours must be between 0 (no nudge) and 12")
		}
		set.NudgeHours = *in.NudgeHours
	}
	languageChanged := false
	if in.Language != nil {
		lang, ok := i18n.Lookup(*in.Language)
		if !ok {
			return badInputf("language %q is not one pacer speaks: use en (English) or de (German)", *in.Language)
		}
		languageChanged, set.Language = i18n.Parse(set.Language) != lang, string(lang)
	}
	have, err := s.Store.Channels(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, ch := range have {
		if ch.Type == "webpush" {
			want = append(want, ch)
		}
	}
	if _, err := s.Store.SetChannels(ctx, p.ID, want); err != nil {
		return err
	}
	if err := s.Store.SetNotifySettings(ctx, set); err != nil {
		return err
	}
	if languageChanged {
		// The feed's words changed but not its sessions, so its version
		// stays; this replica's cached copy goes. (Another replica's copy
		// lasts until the patient's day ends or a session changes.)
		s.feeds.forget(p.ID)
	}
	return s.replanPatient(ctx, p)
}

// replan re-materializes every active assignment of the patient, answering
// 500 itself on failure.
func (s *Server) replan(w http.ResponseWriter, r *http.Request, p store.Patient) bool {
	if err := s.replanPatient(r.Context(), p); err != nil {
		s.internal(w, r, err)
		return false
	}
	return true
}

// replanPatient re-materializes every active assignment of the patient.
func (s *Server) replanPatient(ctx context.Context, p store.Patient) error {
	as, err := s.Store.Assignments(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, a := range as {
		if _, err := s.mat.Materialize(ctx, p, a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) replyChannels(w http.ResponseWriter, r *http.Request, p store.Patient) {
	chs, err := s.Store.Channels(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	set, err := s.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var out channelsReply
	out.Channels = publicChannels(chs)
	out.QuietHours.Start, out.QuietHours.End = programs.Clock(set.QuietStart).String(), programs.Clock(set.QuietEnd).String()
	out.QuietHours.Drop, out.LeadMinutes, out.NudgeHours = set.QuietDrop, set.LeadMinutes, set.NudgeHours
	out.Language = string(i18n.Parse(set.Language))
	writeJSON(w, http.StatusOK, out)
}

// publicChannels are the channels as a patient or therapist may see them: a
// Web Push subscription's endpoint and keys stay with the browser.
func publicChannels(chs []store.Channel) []json.RawMessage {
	out := []json.RawMessage{}
	for _, ch := range chs {
		if ch.Type == "webpush" {
			out = append(out, json.RawMessage(fmt.Sprintf(`{"type":"webpush","id":%d}`, ch.ID)))
			continue
		}
		out = append(out, ch.Config)
	}
	return out
}

// postPushSubscription stores the browser's PushSubscription as a channel.
func (s *Server) postPushSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := s.checkinPatient(w, r)
	if !ok {
		return
	}
	var raw json.RawMessage
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be the browser's PushSubscription as JSON")
		return
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		writeError(w, http.StatusBadRequest, "the body must be the browser's PushSubscription as JSON")
		return
	}
	ch := store.Channel{PatientID: p.ID, Type: "webpush", Config: compact.Bytes()}
	if s.channels != nil {
		if err := s.channels.Check(r.Context(), ch); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if _, err := s.Store.AddPushSubscription(r.Context(), p.ID, compact.Bytes()); err != nil {
		s.internal(w, r, err)
		return
	}
	if !s.replan(w, r, p) {
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Subscribed bool `json:"subscribed"`
	}{true})
}

func (s *Server) vapidKey(w http.ResponseWriter, r *http.Request) {
	if s.vapidPublic == "" {
		writeError(w, http.StatusNotFound, "Web Push is not set up on this server")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		PublicKey string `json:"public_key"`
	}{s.vapidPublic})
}

// defaultChannels gives a patient created with an email the email channel.
func (s *Server) defaultChannels(ctx context.Context, p store.Patient) error {
	if p.Email == "" {
		return nil
	}
	cfg, _ := json.Marshal(map[string]string{"type": "email", "address": p.Email})
	_, err := s.Store.SetChannels(ctx, p.ID, []store.Channel{{PatientID: p.ID, Type: "email", Config: cfg}})
	return err
}
