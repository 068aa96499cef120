package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"pacer/internal/config"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/scheduler"
)

// The running server's jobs, on their first leadership, catch up every job
// (none has run yet): the review re-plans every patient, and the digest
// names only the patient who did too little last week.
func TestJobsCatchUpAndDigest(t *testing.T) {
	s := testserver.New(t, testkit.SQLite(t), testserver.Options{
		Start:  time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC),
		Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" },
	})
	ctx := t.Context()
	s.Clock.Set(time.Date(2026, 11, 16, 8, 0, 0, 0, time.UTC)) // last Monday: assign, and check in as the week goes
	var active testserver.Links
	for _, name := range []string{"Active", "Idle"} {
		l := s.Patient(fmt.Sprintf(`{"name":%q,"timezone":"UTC"}`, name))
		s.Assign(l.ID, `{"program":"walking","start":"2026-11-16"}`)
		if name == "Active" {
			active = l
		}
	}
	for d := range 7 { // the active patient did every walk of last week
		date := time.Date(2026, 11, 16+d, 0, 0, 0, 0, time.UTC)
		if wd := date.Weekday(); wd == time.Thursday || wd == time.Sunday {
			continue
		}
		s.Clock.Set(date.Add(20 * time.Hour))
		s.JSON("POST", strings.TrimPrefix(active.CheckinURL, s.URL)+"/checkins", "",
			fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":%q}`, date.Format(time.DateOnly)), 201, nil)
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	s.Clock.Set(now)
	runsBefore := s.Daemon.Clinic.EngineRuns()

	j := s.Daemon.Jobs
	l, ok, err := s.Store.TryLeader(ctx, "pacer-jobs")
	if err != nil || !ok {
		t.Fatalf("leader: %v %v", ok, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { j.Lead(lctx, l); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range []string{"review", "retention", "digest"} {
		for {
			last, err := s.Store.JobLastRun(ctx, name)
			if err == nil && last.Equal(now) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s did not catch up: %v %v", name, last, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	<-done
	l.Release()
	if n := s.Daemon.Clinic.EngineRuns() - runsBefore; n != 2 {
		t.Errorf("the catch-up review ran the engine %d times, want 2 (each patient's program once)", n)
	}

	chs, err := s.Store.TherapistChannels(ctx, s.A.ID)
	if err != nil || len(chs) != 1 {
		t.Fatalf("therapist channels %v %v", chs, err)
	}
	var digest []store.Reminder
	all, err := s.Store.ClaimDue(ctx, now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Kind == scheduler.KindDigest {
			digest = append(digest, r)
		}
	}
	if len(digest) != 1 {
		t.Fatalf("%d digests, want 1", len(digest))
	}
	var m struct{ Body string }
	json.Unmarshal(digest[0].Payload, &m)
	if !strings.Contains(m.Body, "Idle: 0 of 5 sessions") || strings.Contains(m.Body, "Active") {
		t.Errorf("digest %q should name only the idle patient", m.Body)
	}
}
