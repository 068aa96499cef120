package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/planjson"
	"pacer/internal/store"
	"pacer/programs"
)

type patientJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Timezone  string    `json:"timezone"`
	Discreet  bool      `json:"discreet"`
	CreatedAt time.Time `json:"created_at"`
}

func toPatientJSON(p store.Patient) patientJSON {
	return patientJSON{p.ID, p.Name, p.Email, p.Timezone, p.Discreet, p.CreatedAt.UTC()}
}

func (s *Server) createPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	var in struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		Timezone string `json:"timezone"`
		Discreet *bool  `json:"discreet"`
	}
	if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	discreet := true
	if in.Discreet != nil {
		discreet = *in.Discreet
	}
	p, err := s.Clinic.AddPatient(r.Context(), t.ID, clinic.NewPatient{Name: in.Name, Email: in.Email,
		Timezone: in.Timezone, Discreet: discreet})
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/patients/%d", p.ID)))
	writeJSON(w, http.StatusCreated, s.Clinic.Links(p))
}

func (s *Server) listPatients(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	ps, err := s.Store.Patients(r.Context(), t.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]patientJSON, len(ps))
	for i, p := range ps {
		out[i] = toPatientJSON(p)
	}
	writeJSON(w, http.StatusOK, out)
}

// pathID reads the {id} path value; a malformed id is as unknown as a missing one.
func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// patient loads the therapist's patient named by the path, or answers 404.
func (s *Server) patient(w http.ResponseWriter, r *http.Request, t store.Therapist) (store.Patient, bool) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "patient not found")
		return store.Patient{}, false
	}
	p, err := s.Store.Patient(r.Context(), t.ID, id)
	if err != nil {
		s.fail(w, r, err, "patient")
		return p, false
	}
	return p, true
}

type assignmentJSON struct {
	ID      int64         `json:"id"`
	Program string        `json:"program"`
	Start   programs.Date `json:"start"`
	Status  string        `json:"status"`
	PlanURL string        `json:"plan_url"`
}

func (s *Server) getPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	as, err := s.Store.AllAssignments(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	l := s.Clinic.Links(p)
	out := struct {
		patientJSON
		FeedURL     string           `json:"feed_url"`
		WebcalURL   string           `json:"webcal_url"`
		CheckinURL  string           `json:"checkin_url"`
		Assignments []assignmentJSON `json:"assignments"`
	}{toPatientJSON(p), l.FeedURL, l.WebcalURL, l.CheckinURL, []assignmentJSON{}}
	for _, a := range as {
		out.Assignments = append(out.Assignments, s.assignmentJSON(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) assignmentJSON(a store.Assignment) assignmentJSON {
	return assignmentJSON{a.ID, a.ProgramID, a.Start, a.Status, s.url(fmt.Sprintf("/api/v1/assignments/%d/plan", a.ID))}
}

func (s *Server) createAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	var in struct {
		Program   json.RawMessage                   `json:"program"`
		Start     string                            `json:"start"`
		Baseline  map[string]int                    `json:"baseline"`
		Threshold map[string]int                    `json:"threshold"`
		Goal      map[string]int                    `json:"goal"`
		Schedule  map[string]store.ScheduleOverride `json:"schedule"`
	}
	if !decodeJSON(w, r, maxProgramBody, &in) {
		return
	}
	prog, err := s.Clinic.ProgramFrom(in.Program)
	if err != nil {
		s.fail(w, r, err, "program")
		return
	}
	var start programs.Date
	if in.Start != "" {
		if start, err = parseDate(in.Start); err != nil {
			writeError(w, http.StatusBadRequest, "start: "+err.Error())
			return
		}
	}
	a, err := s.Clinic.Assign(r.Context(), t.ID, p.ID, clinic.Assignment{Program: prog, Start: start,
		Params: store.Params{Baseline: in.Baseline, Threshold: in.Threshold, Goal: in.Goal, Schedule: in.Schedule}})
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/assignments/%d/plan", a.ID)))
	writeJSON(w, http.StatusCreated, s.assignmentJSON(a))
}

// assignment loads the therapist's assignment named by the path with its patient.
func (s *Server) assignment(w http.ResponseWriter, r *http.Request, t store.Therapist) (store.Patient, store.Assignment, bool) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusNotFound, "assignment not found")
		return store.Patient{}, store.Assignment{}, false
	}
	a, err := s.Store.Assignment(r.Context(), t.ID, id)
	if err != nil {
		s.fail(w, r, err, "assignment")
		return store.Patient{}, a, false
	}
	p, err := s.Store.Patient(r.Context(), t.ID, a.PatientID)
	if err != nil {
		s.fail(w, r, err, "assignment")
		return p, a, false
	}
	return p, a, true
}

// getPlan answers the assignment's plan as its last re-plan stored it, with
// each reason worded in ?lang= (en or de; default: the patient's language).
func (s *Server) getPlan(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	plan, err := s.Clinic.Plan(r.Context(), p, a)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusServiceUnavailable, "this plan is being recomputed after an upgrade; try again in a minute")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	cat, err := s.catalog(r, p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planjson.New(plan, a.Program, cat))
}

// catalog is the catalogue of ?lang= if given, else the patient's language.
func (s *Server) catalog(r *http.Request, p store.Patient) (*i18n.Catalog, error) {
	if l, ok := i18n.Lookup(r.URL.Query().Get("lang")); ok {
		return i18n.For(l), nil
	}
	set, err := s.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	return i18n.For(i18n.Parse(set.Language)), nil
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	s.override(w, r, t, programs.PauseOverride)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	s.override(w, r, t, programs.ResumeOverride)
}

// override records a pause or resume from today in the patient's zone.
func (s *Server) override(w http.ResponseWriter, r *http.Request, t store.Therapist, kind programs.OverrideKind) {
	p, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	if r.ContentLength > 0 {
		var empty struct{}
		if !decodeJSON(w, r, maxJSONBody, &empty) {
			return
		}
	}
	s.applyOverrides(w, r, t, p, a, []programs.Overriding{{Kind: kind}})
}

func (s *Server) patchAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	var in struct {
		From      string                            `json:"from"`
		Dose      map[string]int                    `json:"dose"`
		Threshold map[string]int                    `json:"threshold"`
		Goal      map[string]int                    `json:"goal"`
		Schedule  map[string]store.ScheduleOverride `json:"schedule"`
	}
	if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	var from programs.Date
	if in.From != "" {
		var err error
		if from, err = parseDate(in.From); err != nil {
			writeError(w, http.StatusBadRequest, "from: "+err.Error())
			return
		}
	}
	var ovs []programs.Overriding
	for _, set := range []struct {
		kind programs.OverrideKind
		m    map[string]int
	}{{programs.DoseOverride, in.Dose}, {programs.ThresholdOverride, in.Threshold}, {programs.GoalOverride, in.Goal}} {
		for _, id := range sortedKeys(set.m) {
			ovs = append(ovs, programs.Overriding{Date: from, Kind: set.kind, Activity: id, Value: set.m[id]})
		}
	}
	if len(ovs) == 0 && len(in.Schedule) == 0 {
		writeError(w, http.StatusBadRequest, `nothing to change: send "dose", "threshold", "goal" or "schedule", e.g. {"dose":{"walk":12}}`)
		return
	}
	if len(in.Schedule) > 0 {
		if err := s.Clinic.EditSchedule(r.Context(), t.ID, a.ID, in.Schedule); err != nil {
			s.fail(w, r, err, "assignment")
			return
		}
	}
	s.applyOverrides(w, r, t, p, a, ovs)
}

// applyOverrides records the overrides (every one checked before any is
// stored) and answers the assignment's plan.
func (s *Server) applyOverrides(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, a store.Assignment, ovs []programs.Overriding) {
	var (
		plan *programs.Plan
		err  error
	)
	if len(ovs) > 0 {
		plan, err = s.Clinic.Override(r.Context(), t.ID, a.ID, ovs)
	} else {
		plan, err = s.Clinic.Plan(r.Context(), p, a)
	}
	if err != nil {
		s.fail(w, r, err, "assignment")
		return
	}
	cat, err := s.catalog(r, p)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planjson.New(plan, a.Program, cat))
}

// endAssignment ends the assignment: its history stays, its coming sessions
// and their reminders go.
func (s *Server) endAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	_, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	if err := s.Clinic.EndAssignment(r.Context(), t.ID, a.ID); err != nil {
		s.fail(w, r, err, "assignment")
		return
	}
	a.Status = "ended"
	writeJSON(w, http.StatusOK, s.assignmentJSON(a))
}

func (s *Server) rotateFeedToken(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	l, err := s.Clinic.RotateFeedLink(r.Context(), t.ID, p.ID)
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		FeedURL   string `json:"feed_url"`
		WebcalURL string `json:"webcal_url"`
	}{l.FeedURL, l.WebcalURL})
}

func (s *Server) rotateCheckinToken(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	l, err := s.Clinic.RotateCheckinLink(r.Context(), t.ID, p.ID)
	if err != nil {
		s.fail(w, r, err, "patient")
		return
	}
	// The calendar link was shown on the check-in page, so it is new too.
	writeJSON(w, http.StatusOK, struct {
		CheckinURL string `json:"checkin_url"`
		FeedURL    string `json:"feed_url"`
		WebcalURL  string `json:"webcal_url"`
	}{l.CheckinURL, l.FeedURL, l.WebcalURL})
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
