package web

// The JSON API of the therapist's control of programs and of the red-flag
// review: preview and remove an assignment, read the red-flag screens,
// acknowledge one, mark and un-mark items known and reviewed.

import (
	"net/http"
	"strconv"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/planjson"
	"pacer/internal/store"
	"pacer/programs"
)

// previewAssignment answers the plan an assignment would get, in the plan
// JSON, storing nothing.
func (s *Server) previewAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	in, ok := s.readAssignment(w, r)
	if !ok {
		return
	}
	plan, err := s.Clinic.Preview(r.Context(), t.ID, p.ID, in)
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	cat, err := s.catalog(r, p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planjson.New(plan, in.Program, cat))
}

// removeAssignment removes an assignment made by mistake: 409 once the
// patient has checked in since it was assigned (end it instead).
func (s *Server) removeAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	_, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	if err := s.Clinic.RemoveAssignment(r.Context(), t.ID, a.ID); err != nil {
		s.fail(w, r, err, "assignment")
		return
	}
	a.Status = clinic.StatusRemoved
	writeJSON(w, http.StatusOK, s.assignmentJSON(a))
}

type redFlagAnswerJSON struct {
	Item    string           `json:"item"`
	Urgency programs.Urgency `json:"urgency"`
	Known   bool             `json:"known,omitempty"`
	Worse   bool             `json:"worse,omitempty"`
}

type redFlagScreenJSON struct {
	CheckInID      int64               `json:"checkin_id"`
	Date           programs.Date       `json:"date"`
	RecordedAt     time.Time           `json:"recorded_at"`
	Answers        []redFlagAnswerJSON `json:"answers"`
	Pausing        bool                `json:"pausing"`
	Urgency        programs.Urgency    `json:"urgency,omitempty"`
	AcknowledgedAt *time.Time          `json:"acknowledged_at,omitempty"`
	AcknowledgedBy int64               `json:"acknowledged_by,omitempty"`
}

type knownRedFlagJSON struct {
	Item     string        `json:"item"`
	Since    programs.Date `json:"since"`
	MarkedAt time.Time     `json:"marked_at"`
}

type redFlagsJSON struct {
	Screens        []redFlagScreenJSON `json:"screens"`
	Known          []knownRedFlagJSON  `json:"known"`
	Unacknowledged int                 `json:"unacknowledged"`
}

// getRedFlags answers the patient's red-flag screens with a yes, newest
// first, and the items marked known and reviewed.
func (s *Server) getRedFlags(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	s.writeRedFlags(w, r, p, http.StatusOK)
}

func (s *Server) writeRedFlags(w http.ResponseWriter, r *http.Request, p store.Patient, status int) {
	review, err := s.Clinic.RedFlags(r.Context(), p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := redFlagsJSON{Screens: []redFlagScreenJSON{}, Known: []knownRedFlagJSON{}, Unacknowledged: review.Unacknowledged()}
	for _, sc := range review.Screens {
		js := redFlagScreenJSON{CheckInID: sc.CheckInID, Date: sc.Date, RecordedAt: sc.At.UTC(), Pausing: sc.Pausing, Urgency: sc.Urgency}
		for _, a := range sc.Answers {
			js.Answers = append(js.Answers, redFlagAnswerJSON{a.Item, a.Urgency, a.Known, a.Worse})
		}
		if sc.Ack != nil {
			at := sc.Ack.AcknowledgedAt.UTC()
			js.AcknowledgedAt, js.AcknowledgedBy = &at, sc.Ack.TherapistID
		}
		out.Screens = append(out.Screens, js)
	}
	for _, k := range review.Known {
		out.Known = append(out.Known, knownRedFlagJSON{k.Item, k.Since, k.MarkedAt.UTC()})
	}
	writeJSON(w, status, out)
}

// acknowledgeRedFlag records that the therapist saw a red-flag screen and
// answers the red-flag review.
func (s *Server) acknowledgeRedFlag(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("checkin"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "red-flag screen not found")
		return
	}
	if _, err := s.Clinic.AcknowledgeRedFlag(r.Context(), t.ID, p.ID, id); err != nil {
		s.fail(w, r, err, "red-flag screen")
		return
	}
	s.writeRedFlags(w, r, p, http.StatusOK)
}

// markRedFlagKnown marks the path's item known and reviewed for the patient.
func (s *Server) markRedFlagKnown(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	if err := s.Clinic.MarkRedFlagKnown(r.Context(), t.ID, p.ID, r.PathValue("item")); err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	s.writeRedFlags(w, r, p, http.StatusOK)
}

// unmarkRedFlagKnown ends the marking of the path's item.
func (s *Server) unmarkRedFlagKnown(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	if err := s.Clinic.UnmarkRedFlagKnown(r.Context(), t.ID, p.ID, r.PathValue("item")); err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	s.writeRedFlags(w, r, p, http.StatusOK)
}
