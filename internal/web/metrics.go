package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"pacer/internal/metrics"
	"pacer/internal/store"
	"pacer/programs"
)

// Metrics serves /metrics and counts requests by route. A Server without
// Metrics serves no /metrics and counts nothing.
type Metrics struct {
	handler http.Handler
	web     *metrics.Web
}

// NewMetrics serves reg and records requests into w.
func NewMetrics(reg *metrics.Registry, w *metrics.Web) *Metrics {
	return &Metrics{handler: reg.Handler(), web: w}
}

// ServeHTTP serves the registry.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// feedRoute is the calendar feed's route pattern.
const feedRoute = "GET /feed/{file}"

// observe records one answered request by its route pattern, never its path
// (paths carry capability tokens).
func (m *Metrics) observe(r *http.Request, status int, took time.Duration) {
	if m == nil {
		return
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	code := strconv.Itoa(status)
	m.web.Requests.WithLabelValues(route, code).Inc()
	m.web.Duration.WithLabelValues(route).Observe(took.Seconds())
	if route == feedRoute {
		m.web.Feeds.WithLabelValues(code).Inc()
	}
}

// InstrumentStore wraps st so that each call's duration is observed by
// operation, and each stored check-in is counted by kind. Methods added to
// Store later pass through unobserved until they are listed here.
func InstrumentStore(st Store, m *metrics.Store, w *metrics.Web) Store {
	return &instrumentedStore{Store: st, m: m, w: w}
}

type instrumentedStore struct {
	Store
	m *metrics.Store
	w *metrics.Web
}

// timed runs one store call and observes it; not-found is an answer, not a
// failure.
func timed[T any](s *instrumentedStore, op string, call func() (T, error)) (T, error) {
	start := time.Now()
	v, err := call()
	s.m.Observe(op, start, err != nil && !errors.Is(err, store.ErrNotFound))
	return v, err
}

func timedErr(s *instrumentedStore, op string, call func() error) error {
	_, err := timed(s, op, func() (struct{}, error) { return struct{}{}, call() })
	return err
}

func (s *instrumentedStore) Ping(ctx context.Context) error {
	return timedErr(s, "ping", func() error { return s.Store.Ping(ctx) })
}

func (s *instrumentedStore) TherapistByAPIToken(ctx context.Context, hash []byte) (store.Therapist, error) {
	return timed(s, "therapist_by_api_token", func() (store.Therapist, error) { return s.Store.TherapistByAPIToken(ctx, hash) })
}

func (s *instrumentedStore) CreatePatient(ctx context.Context, p store.Patient, feedHash, checkinHash []byte) (store.Patient, error) {
	return timed(s, "create_patient", func() (store.Patient, error) { return s.Store.CreatePatient(ctx, p, feedHash, checkinHash) })
}

func (s *instrumentedStore) Patient(ctx context.Context, therapistID, id int64) (store.Patient, error) {
	return timed(s, "patient", func() (store.Patient, error) { return s.Store.Patient(ctx, therapistID, id) })
}

func (s *instrumentedStore) Patients(ctx context.Context, therapistID int64) ([]store.Patient, error) {
	return timed(s, "patients", func() ([]store.Patient, error) { return s.Store.Patients(ctx, therapistID) })
}

func (s *instrumentedStore) PatientByFeedToken(ctx context.Context, hash []byte) (store.Patient, error) {
	return timed(s, "patient_by_feed_token", func() (store.Patient, error) { return s.Store.PatientByFeedToken(ctx, hash) })
}

func (s *instrumentedStore) PatientByCheckinToken(ctx context.Context, hash []byte) (store.Patient, error) {
	return timed(s, "patient_by_checkin_token", func() (store.Patient, error) { return s.Store.PatientByCheckinToken(ctx, hash) })
}

func (s *instrumentedStore) RotateFeedToken(ctx context.Context, therapistID, patientID int64, newNonce, newHash []byte) error {
	return timedErr(s, "rotate_feed_token", func() error {
		return s.Store.RotateFeedToken(ctx, therapistID, patientID, newNonce, newHash)
	})
}

func (s *instrumentedStore) CreateAssignment(ctx context.Context, a store.Assignment) (store.Assignment, error) {
	return timed(s, "create_assignment", func() (store.Assignment, error) { return s.Store.CreateAssignment(ctx, a) })
}

func (s *instrumentedStore) Assignment(ctx context.Context, therapistID, id int64) (store.Assignment, error) {
	return timed(s, "assignment", func() (store.Assignment, error) { return s.Store.Assignment(ctx, therapistID, id) })
}

func (s *instrumentedStore) Assignments(ctx context.Context, patientID int64) ([]store.Assignment, error) {
	return timed(s, "assignments", func() ([]store.Assignment, error) { return s.Store.Assignments(ctx, patientID) })
}

func (s *instrumentedStore) AddCheckIn(ctx context.Context, c store.CheckIn) (store.CheckIn, error) {
	out, err := timed(s, "add_checkin", func() (store.CheckIn, error) { return s.Store.AddCheckIn(ctx, c) })
	if err == nil {
		s.w.CheckIns.WithLabelValues(string(c.CheckIn.Kind)).Inc()
	}
	return out, err
}

func (s *instrumentedStore) AddOverride(ctx context.Context, o store.Override) (store.Override, error) {
	return timed(s, "add_override", func() (store.Override, error) { return s.Store.AddOverride(ctx, o) })
}

func (s *instrumentedStore) Sessions(ctx context.Context, patientID int64, from, to programs.Date) ([]store.Session, error) {
	return timed(s, "sessions", func() ([]store.Session, error) { return s.Store.Sessions(ctx, patientID, from, to) })
}

func (s *instrumentedStore) Decisions(ctx context.Context, assignmentID int64) ([]store.Decision, error) {
	return timed(s, "decisions", func() ([]store.Decision, error) { return s.Store.Decisions(ctx, assignmentID) })
}

func (s *instrumentedStore) CheckIns(ctx context.Context, patientID, assignmentID int64) ([]programs.CheckIn, error) {
	return timed(s, "checkins", func() ([]programs.CheckIn, error) { return s.Store.CheckIns(ctx, patientID, assignmentID) })
}

func (s *instrumentedStore) Overrides(ctx context.Context, assignmentID int64) ([]programs.Overriding, error) {
	return timed(s, "overrides", func() ([]programs.Overriding, error) { return s.Store.Overrides(ctx, assignmentID) })
}

func (s *instrumentedStore) SavePlan(ctx context.Context, assignmentID, patientID int64, want []store.Session, decisions []store.Decision,
	reminders func([]store.Session) []store.Reminder, now time.Time) (int, error) {
	return timed(s, "save_plan", func() (int, error) {
		return s.Store.SavePlan(ctx, assignmentID, patientID, want, decisions, reminders, now)
	})
}

func (s *instrumentedStore) PatientData(ctx context.Context, therapistID, patientID int64) (store.PatientData, error) {
	ds, ok := s.Store.(PatientDataStore)
	if !ok {
		return store.PatientData{}, fmt.Errorf("the store cannot export a patient")
	}
	return timed(s, "patient_data", func() (store.PatientData, error) { return ds.PatientData(ctx, therapistID, patientID) })
}

func (s *instrumentedStore) ErasePatient(ctx context.Context, therapistID, patientID int64) error {
	ds, ok := s.Store.(PatientDataStore)
	if !ok {
		return fmt.Errorf("the store cannot erase a patient")
	}
	return timedErr(s, "erase_patient", func() error { return ds.ErasePatient(ctx, therapistID, patientID) })
}
