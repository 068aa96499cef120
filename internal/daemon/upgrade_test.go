package daemon_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/scheduler"
)

// After an upgrade that dropped the stored sentences (schema 4), the server
// re-plans every patient at start, and sends nothing it had sent: a first
// plan announces no change.
func TestUpgradeReplansQuietly(t *testing.T) {
	dsn := testkit.SQLite(t)
	s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
	l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
	s.Clock.Set(flareDay.In(time.UTC, 12*60))
	s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
	if n := len(messages(t, s, l.ID, scheduler.KindFlare)); n != 1 {
		t.Fatalf("%d flare messages before the upgrade", n)
	}
	plan := fmt.Sprintf("/api/v1/assignments/%d/plan", s.Assignments(l.ID)[0])
	_, before, _ := s.Do("GET", plan, s.TokenA, "")

	// What migration 4 leaves of a database of the release before.
	db, err := sql.Open("sqlite", strings.TrimPrefix(dsn, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DELETE FROM plans`, `DELETE FROM plan_weeks`, `DELETE FROM plan_events`,
		`UPDATE sessions SET shown = '', cause = 0`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, _ := s.Do("GET", plan, s.TokenA, ""); code != 503 {
		t.Errorf("the plan of a patient not re-planned yet: %d, want 503 (try again)", code)
	}
	n, err := s.Daemon.Clinic.ReplanStale(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("re-planned %d, %v; want 1", n, err)
	}
	if n, _ := s.Daemon.Clinic.ReplanStale(t.Context()); n != 0 {
		t.Errorf("a second start re-planned %d patients, want none", n)
	}
	_, after, _ := s.Do("GET", plan, s.TokenA, "")
	if string(after) != string(before) {
		t.Errorf("the re-planned plan differs from the one before the upgrade:\n%s\n---\n%s", before, after)
	}
	if n := len(messages(t, s, l.ID, scheduler.KindFlare)); n != 1 {
		t.Errorf("%d flare messages after the upgrade's re-plan, want the one already sent", n)
	}
}
