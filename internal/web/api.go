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
	discreet := true
	if in.Discreet != nil {
		discreet = *in.Discreet
	}
	p, err := s.addPatient(r.Context(), t, in.Name, in.Email, in.Timezone, discreet)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/patients/%d", p.ID)))
	writeJSON(w, http.StatusCreated, s.Links(p))
}

// badInput is an error that is the request's fault, worded so that its
// sender can fix it: the API answers it with 400, a page shows it by the form.
type badInput struct{ msg string }

func (e *badInput) Error() string { return e.msg }

func badInputf(format string, args ...any) error { return &badInput{fmt.Sprintf(format, args...)} }

// fail answers a badInput with 400 and its message, anything else with 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bi *badInput
	if errors.As(err, &bi) {
		writeError(w, http.StatusBadRequest, bi.msg)
		return
	}
	s.internal(w, r, err)
}

// addPatient checks a new patient's details and stores the patient for the
// therapist, with the email channel when an email is given.
func (s *Server) addPatient(ctx context.Context, t store.Therapist, name, email, timezone string, discreet bool) (store.Patient, error) {
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	switch {
	case name == "":
		return store.Patient{}, badInputf("name is required (any name or initials the therapist recognizes)")
	case utf8.RuneCountInString(name) > 200:
		return store.Patient{}, badInputf("name is longer than 200 characters")
	case timezone == "":
		return store.Patient{}, badInputf("timezone is required: an IANA name such as Europe/Berlin")
	}
	if _, err := time.LoadLocation(timezone); err != nil || timezone == "Local" {
		return store.Patient{}, badInputf("timezone %q is not a known IANA time zone, e.g. Europe/Berlin", timezone)
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return store.Patient{}, badInputf("email %q is not an email address", email)
		}
	}
	p, err := s.NewPatient(ctx, store.Patient{TherapistID: t.ID, Name: name, Email: email,
		Timezone: timezone, Discreet: discreet, Alarm: true})
	if err == nil {
		err = s.defaultChannels(ctx, p)
	}
	return p, err
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
	params := store.Params{Baseline: in.Baseline, Threshold: in.Threshold, Goal: in.Goal, Schedule: in.Schedule}
	a, err := s.assignChecked(r.Context(), p, prog, in.Start, params)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", s.url(fmt.Sprintf("/api/v1/assignments/%d/plan", a.ID)))
	writeJSON(w, http.StatusCreated, s.assignmentJSON(a))
}

// assignChecked validates an assignment of prog to the patient from start
// (YYYY-MM-DD; "" is today in the patient's zone), then stores it and
// materializes its plan.
func (s *Server) assignChecked(ctx context.Context, p store.Patient, prog *programs.Program, startText string, params store.Params) (store.Assignment, error) {
	loc, err := s.zone(p.Timezone)
	if err != nil {
		return store.Assignment{}, err
	}
	start := programs.DateOf(s.Now().In(loc))
	if startText != "" {
		if start, err = programs.ParseDate(startText); err != nil {
			return store.Assignment{}, badInputf("start: %v", err)
		}
	}
	sched, err := scheduler.Schedules(params.Schedule)
	if err != nil {
		return store.Assignment{}, badInputf("%v", err)
	}
	check := programs.Assignment{Program: prog, Start: start, Location: loc, Weeks: 1,
		Baseline: params.Baseline, Threshold: params.Threshold, Goal: params.Goal, Schedule: sched}
	if err := check.Validate(); err != nil {
		return store.Assignment{}, badInputf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return s.assign(ctx, p, prog, start, params)
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
	plan, err := s.overrideAssignment(r.Context(), p, a, ovs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

// overrideAssignment checks every override against the assigned program,
// stores them all, and re-plans.
func (s *Server) overrideAssignment(ctx context.Context, p store.Patient, a store.Assignment, ovs []programs.Overriding) (*programs.Plan, error) {
	prog, err := programs.Parse("assignment", a.Program)
	if err != nil {
		return nil, err
	}
	for _, o := range ovs {
		if err := o.Validate(prog); err != nil {
			return nil, badInputf("%v", err)
		}
	}
	for _, o := range ovs {
		if _, err := s.Store.AddOverride(ctx, store.Override{AssignmentID: a.ID, Overriding: o}); err != nil {
			return nil, err
		}
	}
	return s.mat.Materialize(ctx, p, a)
}

func (s *Server) rotateFeedToken(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := s.patient(w, r, t)
	if !ok {
		return
	}
	feedURL, err := s.rotateFeed(r.Context(), t, p)
	if err != nil {
		s.notFoundOr(w, r, err, "patient")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		FeedURL   string `json:"feed_url"`
		WebcalURL string `json:"webcal_url"`
	}{feedURL, WebcalURL(feedURL)})
}

// rotateFeed gives the patient a new feed token, so that the old feed URL
// stops working, and returns the new feed URL.
func (s *Server) rotateFeed(ctx context.Context, t store.Therapist, p store.Patient) (string, error) {
	nonce, err := NewNonce()
	if err != nil {
		return "", err
	}
	tok := s.Keys.FeedToken(nonce)
	if err := s.Store.RotateFeedToken(ctx, t.ID, p.ID, nonce, store.HashToken(tok)); err != nil {
		return "", err
	}
	s.feeds.forget(p.ID)
	return s.FeedURL(tok), nil
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
