package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"pacer/internal/store"
	"pacer/programs"
	"pacer/scheduler"
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

type patientLinks struct {
	ID         int64  `json:"id"`
	FeedURL    string `json:"feed_url"`
	WebcalURL  string `json:"webcal_url"`
	CheckinURL string `json:"checkin_url"`
}

// Links are a patient's capability URLs, rebuilt from the stored nonces.
func (s *Server) Links(p store.Patient) patientLinks {
	feedURL := s.FeedURL(s.Keys.FeedToken(p.FeedNonce))
	return patientLinks{p.ID, feedURL, WebcalURL(feedURL), s.CheckinURL(s.Keys.CheckinToken(p.CheckinNonce))}
}

// NewPatient stores a patient with fresh capability tokens.
func (s *Server) NewPatient(ctx context.Context, p store.Patient) (store.Patient, error) {
	var err1, err2 error
	p.FeedNonce, err1 = NewNonce()
	p.CheckinNonce, err2 = NewNonce()
	if err := errors.Join(err1, err2); err != nil {
		return p, fmt.Errorf("new patient: %w", err)
	}
	return s.Store.CreatePatient(ctx, p, store.HashToken(s.Keys.FeedToken(p.FeedNonce)),
		store.HashToken(s.Keys.CheckinToken(p.CheckinNonce)))
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
	in.Name, in.Email = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
	switch {
	case in.Name == "":
		writeError(w, http.StatusBadRequest, "name is required (any name or initials the therapist recognizes)")
		return
	case utf8.RuneCountInString(in.Name) > 200:
		writeError(w, http.StatusBadRequest, "name is longer than 200 characters")
		return
	case in.Timezone == "":
		writeError(w, http.StatusBadRequest, "timezone is required: an IANA name such as Europe/Berlin")
		return
	}
	if _, err := time.LoadLocation(in.Timezone); err != nil || in.Timezone == "Local" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("timezone %q is not a known IANA time zone, e.g. Europe/Berlin", in.Timezone))
		return
	}
	if in.Email != "" {
		if a, err := mail.ParseAddress(in.Email); err != nil || a.Address != in.Email {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("email %q is not an email address", in.Email))
			return
		}
	}
	discreet := true
	if in.Discreet != nil {
		discreet = *in.Discreet
	}
	p, err := s.NewPatient(r.Context(), store.Patient{TherapistID: t.ID, Name: in.Name, Email: in.Email,
		Timezone: in.Timezone, Discreet: discreet, Alarm: true})
	if err == nil {
		err = s.defaultChannels(r, p)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/patients/%d", p.ID)))
	writeJSON(w, http.StatusCreated, s.Links(p))
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
		s.notFoundOr(w, r, err, "patient")
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
	as, err := s.Store.Assignments(r.Context(), p.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	l := s.Links(p)
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
	prog, err := s.resolveProgram(in.Program)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	loc, err := s.zone(p.Timezone)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	start := programs.DateOf(s.Now().In(loc))
	if in.Start != "" {
		if start, err = programs.ParseDate(in.Start); err != nil {
			writeError(w, http.StatusBadRequest, "start: "+err.Error())
			return
		}
	}
	params := store.Params{Baseline: in.Baseline, Threshold: in.Threshold, Goal: in.Goal, Schedule: in.Schedule}
	sched, err := scheduler.Schedules(params.Schedule)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	check := programs.Assignment{Program: prog, Start: start, Location: loc, Weeks: 1,
		Baseline: in.Baseline, Threshold: in.Threshold, Goal: in.Goal, Schedule: sched}
	if err := check.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	a, err := s.assign(r.Context(), p, prog, start, params)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/assignments/%d/plan", a.ID)))
	writeJSON(w, http.StatusCreated, s.assignmentJSON(a))
}

// assign stores a validated assignment and materializes its plan.
func (s *Server) assign(ctx context.Context, p store.Patient, prog *programs.Program, start programs.Date, params store.Params) (store.Assignment, error) {
	paramJSON, err := json.Marshal(params)
	if err != nil {
		return store.Assignment{}, fmt.Errorf("assign: %w", err)
	}
	a, err := s.Store.CreateAssignment(ctx, store.Assignment{PatientID: p.ID, ProgramID: prog.ID,
		Program: prog.YAML(), Start: start, Params: paramJSON, Status: "active"})
	if err != nil {
		return a, err
	}
	_, err = s.mat.Materialize(ctx, p, a)
	return a, err
}

// Assign gives a patient a built-in template from today with its defaults.
func (s *Server) Assign(ctx context.Context, p store.Patient, templateID string) (store.Assignment, error) {
	prog, ok := s.Library.Get(templateID)
	if !ok {
		return store.Assignment{}, fmt.Errorf("no template %q", templateID)
	}
	return s.assign(ctx, p, prog, s.today(p), store.Params{})
}

// resolveProgram reads "program": a template id, or an inline program object.
func (s *Server) resolveProgram(raw json.RawMessage) (*programs.Program, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("program is required: a template id (%s) or an inline program", strings.Join(s.Library.IDs(), ", "))
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		if p, ok := s.Library.Get(id); ok {
			return p, nil
		}
		return nil, fmt.Errorf("program %q is not a template: use one of %s, or an inline program", id, strings.Join(s.Library.IDs(), ", "))
	}
	// JSON is YAML, so the program decoder reads an inline program as it is.
	p, err := programs.Parse("program", raw)
	if err != nil {
		return nil, fmt.Errorf("the inline program is not valid: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return p, nil
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
		s.notFoundOr(w, r, err, "assignment")
		return store.Patient{}, a, false
	}
	p, err := s.Store.Patient(r.Context(), t.ID, a.PatientID)
	if err != nil {
		s.notFoundOr(w, r, err, "assignment")
		return p, a, false
	}
	return p, a, true
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	plan, _, err := s.mat.Plan(r.Context(), p, a)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
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
	s.applyOverrides(w, r, p, a, []programs.Overriding{{Date: s.today(p), Kind: kind}})
}

func (s *Server) today(p store.Patient) programs.Date {
	loc, err := s.zone(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	return programs.DateOf(s.Now().In(loc))
}

func (s *Server) patchAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, a, ok := s.assignment(w, r, t)
	if !ok {
		return
	}
	var in struct {
		From      string         `json:"from"`
		Dose      map[string]int `json:"dose"`
		Threshold map[string]int `json:"threshold"`
		Goal      map[string]int `json:"goal"`
	}
	if !decodeJSON(w, r, maxJSONBody, &in) {
		return
	}
	from := s.today(p)
	if in.From != "" {
		var err error
		if from, err = programs.ParseDate(in.From); err != nil {
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
	if len(ovs) == 0 {
		writeError(w, http.StatusBadRequest, `nothing to change: send "dose", "threshold" or "goal", e.g. {"dose":{"walk":12}}`)
		return
	}
	s.applyOverrides(w, r, p, a, ovs)
}

// applyOverrides validates every override before storing any, then re-plans.
func (s *Server) applyOverrides(w http.ResponseWriter, r *http.Request, p store.Patient, a store.Assignment, ovs []programs.Overriding) {
	prog, err := programs.Parse("assignment", a.Program)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, o := range ovs {
		if err := o.Validate(prog); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	for _, o := range ovs {
		if _, err := s.Store.AddOverride(r.Context(), store.Override{AssignmentID: a.ID, Overriding: o}); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	plan, err := s.mat.Materialize(r.Context(), p, a)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

func (s *Server) rotateFeedToken(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	nonce, err := NewNonce()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	tok := s.Keys.FeedToken(nonce)
	if err := s.Store.RotateFeedToken(r.Context(), t.ID, p.ID, nonce, store.HashToken(tok)); err != nil {
		s.notFoundOr(w, r, err, "patient")
		return
	}
	s.feeds.forget(p.ID)
	feedURL := s.FeedURL(tok)
	writeJSON(w, http.StatusOK, struct {
		FeedURL   string `json:"feed_url"`
		WebcalURL string `json:"webcal_url"`
	}{feedURL, WebcalURL(feedURL)})
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
