package web

import (
	"testing"

	"pacer/internal/store"
	"pacer/programs"
)

// The home page's status of a patient, from what the store sums up of their
// stored plans (store.PatientStatuses), most urgent first.
func TestPatientStatus(t *testing.T) {
	today := programs.MakeDate(2026, 12, 10)
	old := today.AddDays(-20)
	// status is a patient with one program started three weeks ago, who
	// checked in yesterday and did done of planned sessions.
	status := func(done, planned int) store.PatientStatus {
		return store.PatientStatus{Programs: []string{"Walking"}, FirstStart: old, LastCheckIn: today.AddDays(-1),
			Planned: planned, Done: done}
	}
	with := func(st store.PatientStatus, f func(*store.PatientStatus)) store.PatientStatus { f(&st); return st }
	for _, c := range []struct {
		name string
		st   store.PatientStatus
		want string
	}{
		{"no program", store.PatientStatus{}, statusNone},
		{"red flag", with(status(0, 5), func(s *store.PatientStatus) { s.RedFlag, s.Paused, s.InFlare = true, true, true }), statusRedFlag},
		{"a red flag on one of two programs", with(status(5, 5), func(s *store.PatientStatus) { s.RedFlag = true }), statusRedFlag},
		{"paused by the therapist", with(status(5, 5), func(s *store.PatientStatus) { s.Paused = true }), statusPaused},
		{"flare", with(status(0, 5), func(s *store.PatientStatus) { s.InFlare = true }), statusFlare},
		{"no check-ins for 7 days", with(status(0, 5), func(s *store.PatientStatus) { s.LastCheckIn = today.AddDays(-7) }), statusQuiet},
		{"never checked in", with(status(0, 5), func(s *store.PatientStatus) { s.LastCheckIn = 0 }), statusQuiet},
		{"a check-in 6 days ago is recent enough", with(status(5, 5), func(s *store.PatientStatus) { s.LastCheckIn = today.AddDays(-6) }), statusOnTrack},
		{"a new program without check-ins yet", with(status(0, 0), func(s *store.PatientStatus) { s.FirstStart, s.LastCheckIn = today.AddDays(-3), 0 }), statusOnTrack},
		{"2 of 3 done is under 70%", status(2, 3), statusLow},
		{"7 of 10 done is on track", status(7, 10), statusOnTrack},
		{"nothing planned is on track", status(0, 0), statusOnTrack},
	} {
		if got := patientStatus(c.st, today); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
