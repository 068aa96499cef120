package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

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
		s.putChannels(w, r, p, false)
	}
}

func (s *Server) getChannelsAPI(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if p, ok := s.patient(w, r, t); ok {
		s.replyChannels(w, r, p)
	}
}

func (s *Server) putChannelsPatient(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.checkinPatient(w, r); ok {
		s.putChannels(w, r, p, true)
	}
}

func (s *Server) getChannelsPatient(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.checkinPatient(w, r); ok {
		s.replyChannels(w, r, p)
	}
}

// putChannels replaces the patient's channels and reminder settings (see
// clinic.SetSettings) and answers with them; byPatient when the patient
// sent them with their check-in link.
func (s *Server) putChannels(w http.ResponseWriter, r *http.Request, p store.Patient, byPatient bool) {
	var in channelsBody
	if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	set := in.settings()
	set.ByPatient = byPatient
	if err := s.Clinic.SetSettings(r.Context(), p, set); err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	s.replyChannels(w, r, p)
}

// settings is the body as the clinic takes it.
func (in channelsBody) settings() clinic.Settings {
	out := clinic.Settings{Channels: in.Channels, LeadMinutes: in.LeadMinutes, NudgeHours: in.NudgeHours, Language: in.Language}
	if q := in.QuietHours; q != nil {
		out.QuietHours = &clinic.QuietHours{Start: q.Start, End: q.End, Drop: q.Drop}
	}
	return out
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
	out.Channels = clinic.PublicChannels(chs)
	out.QuietHours.Start, out.QuietHours.End = programs.Clock(set.QuietStart).String(), programs.Clock(set.QuietEnd).String()
	out.QuietHours.Drop, out.LeadMinutes, out.NudgeHours = set.QuietDrop, set.LeadMinutes, set.NudgeHours
	out.Language = string(i18n.Parse(set.Language))
	writeJSON(w, http.StatusOK, out)
}

// postPushSubscription stores the browser's PushSubscription as a channel.
func (s *Server) postPushSubscription(w http.ResponseWriter, r *http.Request) {
	p, ok := s.checkinPatient(w, r)
	if !ok {
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxJSONBody))
		return
	}
	if err := s.Clinic.AddPushSubscription(r.Context(), p, raw); err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Subscribed bool `json:"subscribed"`
	}{true})
}

func (s *Server) vapidKey(w http.ResponseWriter, r *http.Request) {
	if s.VAPIDPublic == "" {
		writeError(w, http.StatusNotFound, "Web Push is not set up on this server")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		PublicKey string `json:"public_key"`
	}{s.VAPIDPublic})
}
