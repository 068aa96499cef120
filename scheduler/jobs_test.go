package scheduler

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

func TestJobsCatchUpAndDigest(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	th, _ := st.CreateTherapist(ctx, "t@example.org", "", false)
	lib, _ := programs.LoadLibrary()
	walking, _ := lib.Get("walking")
	start := programs.MakeDate(2026, 11, 16)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mat := &Materializer{Store: st, Now: clock}
	patients := map[string]store.Patient{}
	for i, name := range []string{"Active", "Idle"} {
		p, err := st.CreatePatient(ctx, store.Patient{TherapistID: th.ID, Name: name, Timezone: "UTC"},
			store.HashToken(name+"f"), store.HashToken(name+"c"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := st.CreateAssignment(ctx, store.Assignment{PatientID: p.ID, ProgramID: "walking", Program: walking.YAML(), Start: start})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 { // the active patient did every walk of last week
			for d := range 7 {
				date := start.AddDays(d)
				if wd := date.Weekday(); wd == time.Thursday || wd == time.Sunday {
					continue
				}
				if _, err := st.AddCheckIn(ctx, store.CheckIn{PatientID: p.ID, AssignmentID: a.ID,
					CheckIn: programs.CheckIn{Date: date, Kind: programs.SessionCheckIn, Activity: "walk", Status: programs.Done}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := mat.Materialize(ctx, p, a); err != nil {
			t.Fatal(err)
		}
		patients[name] = p
	}
	alerts := &Alerts{Store: st, EmailReady: true, CheckinURL: func(store.Patient) string { return "c" },
		PatientURL: func(store.Patient) string { return "p" }}
	j := &Jobs{Store: st, Reviewer: &Reviewer{Store: st, Mat: mat, Now: clock, Log: log}, Alerts: alerts, Now: clock, Log: log}

	// The first leadership catches up every job, as none has run yet.
	l, ok, err := st.TryLeader(ctx, "pacer-jobs")
	if err != nil || !ok {
		t.Fatalf("leader: %v %v", ok, err)
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { j.lead(lctx, l); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range []string{"review", "retention", "digest"} {
		for {
			last, err := st.JobLastRun(ctx, name)
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

	chs, err := st.TherapistChannels(ctx, th.ID)
	if err != nil || len(chs) != 1 {
		t.Fatalf("therapist channels %v %v", chs, err)
	}
	var digest []store.Reminder
	all, err := st.ClaimDue(ctx, now, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Kind == KindDigest {
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
