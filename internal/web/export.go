package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// PatientDataStore is what export and erasure need of the store.
type PatientDataStore interface {
	PatientData(ctx context.Context, therapistID, patientID int64) (store.PatientData, error)
	ErasePatient(ctx context.Context, therapistID, patientID int64) error
}

// patientExport is the JSON of a patient's data export. It holds no token:
// links are capabilities, and an export file travels.
type patientExport struct {
	ExportedAt     time.Time          `json:"exported_at"`
	Patient        exportPatient      `json:"patient"`
	Assignments    []exportAssignment `json:"assignments"`
	CheckIns       []exportCheckIn    `json:"checkins"`
	Overrides      []exportOverride   `json:"overrides"`
	Sessions       []exportSession    `json:"sessions"`
	Decisions      []exportDecision   `json:"decisions"`
	Channels       []json.RawMessage  `json:"channels"`
	NotifySettings exportSettings     `json:"notify_settings"`
	Reminders      []exportReminder   `json:"reminders"`
}

type exportPatient struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Timezone  string    `json:"timezone"`
	Discreet  bool      `json:"discreet"`
	Alarm     bool      `json:"alarm"`
	CreatedAt time.Time `json:"created_at"`
}

type exportAssignment struct {
	ID        int64           `json:"id"`
	ProgramID string          `json:"program_id"`
	Program   string          `json:"program"` // the program as assigned, YAML
	Start     programs.Date   `json:"start"`
	Params    json.RawMessage `json:"params"`
	Status    string          `json:"status"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

type exportCheckIn struct {
	ID           int64 `json:"id"`
	AssignmentID int64 `json:"assignment_id,omitempty"`
	programs.CheckIn
	CreatedAt time.Time `json:"created_at"`
}

type exportOverride struct {
	ID           int64                 `json:"id"`
	AssignmentID int64                 `json:"assignment_id"`
	Date         programs.Date         `json:"date"`
	Kind         programs.OverrideKind `json:"kind"`
	Activity     string                `json:"activity,omitempty"`
	Value        int                   `json:"value,omitempty"`
	CreatedAt    time.Time             `json:"created_at"`
}

type exportSession struct {
	ID           int64           `json:"id"`
	AssignmentID int64           `json:"assignment_id"`
	Activity     string          `json:"activity"`
	Date         programs.Date   `json:"date"`
	Time         programs.Clock  `json:"time"`
	Dose         int             `json:"dose"`
	Sets         int             `json:"sets"`
	Unit         programs.Unit   `json:"unit"`
	Week         int             `json:"week"`
	Status       programs.Status `json:"status"`
	Projected    bool            `json:"projected"`
	Revision     int             `json:"revision"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

type exportSettings struct {
	QuietStart  programs.Clock `json:"quiet_start"`
	QuietEnd    programs.Clock `json:"quiet_end"`
	QuietDrop   bool           `json:"quiet_drop"`
	LeadMinutes int            `json:"lead_minutes"`
	NudgeHours  int            `json:"nudge_hours"`
	Language    string         `json:"language"`
}

type exportReminder struct {
	Kind       string    `json:"kind"`
	SessionID  int64     `json:"session_id,omitempty"`
	DueAt      time.Time `json:"due_at"`
	Status     string    `json:"status"`
	SkipReason string    `json:"skip_reason,omitempty"`
	Attempts   int       `json:"attempts"`
	SentAt     time.Time `json:"sent_at,omitzero"`
}

type exportDecision struct {
	AssignmentID int64         `json:"assignment_id"`
	Week         int           `json:"week"`
	Activity     string        `json:"activity,omitempty"`
	Code         programs.Code `json:"code"`
	Reason       string        `json:"reason"`
}

// dataStore is the store's export and erasure, if it has them.
func (s *Server) dataStore() (PatientDataStore, error) {
	ds, ok := s.Store.(PatientDataStore)
	if !ok {
		return nil, fmt.Errorf("the store cannot export or erase a patient")
	}
	return ds, nil
}

// exportPatient answers GET /api/v1/patients/{id}/export: everything stored
// about the therapist's patient, as one JSON file.
func (s *Server) exportPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "patient not found")
		return
	}
	out, err := s.patientExport(r.Context(), t, id)
	if err != nil {
		s.notFoundOr(w, r, err, "patient")
		return
	}
	writeExport(w, out)
}

// writeExport sends an export as a JSON file to download.
func writeExport(w http.ResponseWriter, x patientExport) {
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pacer-patient-%d.json"`, x.Patient.ID))
	writeJSON(w, http.StatusOK, x)
}

// patientExport gathers everything stored about the therapist's patient;
// ErrNotFound when the patient is not theirs.
func (s *Server) patientExport(ctx context.Context, t store.Therapist, id int64) (patientExport, error) {
	ds, err := s.dataStore()
	if err != nil {
		return patientExport{}, err
	}
	d, err := ds.PatientData(ctx, t.ID, id)
	if err != nil {
		return patientExport{}, err
	}
	p := d.Patient
	out := patientExport{
		ExportedAt: s.Now().UTC().Truncate(time.Second),
		Patient:    exportPatient{p.ID, p.Name, p.Email, p.Timezone, p.Discreet, p.Alarm, p.CreatedAt.UTC()},
		// Empty lists, not null, so a reader need not tell the two apart.
		Assignments: []exportAssignment{}, CheckIns: []exportCheckIn{}, Overrides: []exportOverride{},
		Sessions: []exportSession{}, Decisions: []exportDecision{},
	}
	for _, a := range d.Assignments {
		params := json.RawMessage(a.Params)
		if !json.Valid(params) {
			params = json.RawMessage("{}")
		}
		out.Assignments = append(out.Assignments, exportAssignment{a.ID, a.ProgramID, string(a.Program), a.Start, params,
			a.Status, a.CreatedAt.UTC(), a.UpdatedAt.UTC()})
	}
	for _, c := range d.CheckIns {
		ci := c.CheckIn
		ci.At = time.Time{} // the same instant as created_at
		out.CheckIns = append(out.CheckIns, exportCheckIn{c.ID, c.AssignmentID, ci, c.CreatedAt.UTC()})
	}
	for _, o := range d.Overrides {
		out.Overrides = append(out.Overrides, exportOverride{o.ID, o.AssignmentID, o.Date, o.Kind, o.Activity, o.Value, o.CreatedAt.UTC()})
	}
	for _, x := range d.Sessions {
		out.Sessions = append(out.Sessions, exportSession{x.ID, x.AssignmentID, x.Activity, x.Date, x.Time, x.Dose, x.Sets,
			x.Unit, x.Week, x.Status, x.Projected, x.Revision, x.UpdatedAt.UTC()})
	}
	for _, x := range d.Decisions {
		out.Decisions = append(out.Decisions, exportDecision{x.AssignmentID, x.Week, x.Activity, x.Code, x.Reason})
	}
	// The reminder side: channels (a Web Push subscription's keys stay out:
	// they belong to the browser), settings and every reminder row.
	chs, err := s.Store.Channels(ctx, p.ID)
	if err != nil {
		return out, err
	}
	out.Channels = publicChannels(chs)
	set, err := s.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return out, err
	}
	out.NotifySettings = exportSettings{programs.Clock(set.QuietStart), programs.Clock(set.QuietEnd), set.QuietDrop,
		set.LeadMinutes, set.NudgeHours, set.Language}
	rs, err := s.Store.Reminders(ctx, p.ID, time.Time{})
	if err != nil {
		return out, err
	}
	out.Reminders = []exportReminder{}
	for _, x := range rs {
		out.Reminders = append(out.Reminders, exportReminder{x.Kind, x.SessionID, x.DueAt.UTC(), x.Status, x.SkipReason,
			x.Attempts, x.SentAt.UTC()})
	}
	return out, nil
}

// erasePatient answers DELETE /api/v1/patients/{id}: the therapist's patient
// and everything of theirs are deleted in one transaction; 204.
func (s *Server) erasePatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "patient not found")
		return
	}
	if err := s.erase(r.Context(), t, id); err != nil {
		s.notFoundOr(w, r, err, "patient")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// erase deletes the therapist's patient and everything of theirs in one
// transaction; ErrNotFound when the patient is not theirs.
func (s *Server) erase(ctx context.Context, t store.Therapist, id int64) error {
	ds, err := s.dataStore()
	if err != nil {
		return err
	}
	if err := ds.ErasePatient(ctx, t.ID, id); err != nil {
		return err
	}
	s.feeds.forget(id)
	s.Log.Info("patient erased", "patient_id", id, "therapist_id", t.ID)
	return nil
}
