package scheduler

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

func TestSweepKeepsPlansCurrent(t *testing.T) {
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
	p, err := st.CreatePatient(ctx, store.Patient{TherapistID: th.ID, Name: "P", Timezone: "Europe/Berlin"},
		store.HashToken("feed"), store.HashToken("checkin"))
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := programs.LoadLibrary()
	walking, _ := lib.Get("walking")
	start := programs.MakeDate(2026, 11, 23)
	a, err := st.CreateAssignment(ctx, store.Assignment{PatientID: p.ID, ProgramID: "walking", Program: walking.YAML(), Start: start})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := &Reviewer{Store: st, Mat: &Materializer{Store: st, Now: clock}, Now: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := r.Mat.Materialize(ctx, p, a); err != nil {
		t.Fatal(err)
	}
	last := func() (programs.Date, bool) {
		xs, err := st.Sessions(ctx, p.ID, start, start.AddDays(7*30))
		if err != nil {
			t.Fatal(err)
		}
		var week2Projected bool
		for _, x := range xs {
			if x.Week == 2 {
				week2Projected = x.Projected
			}
		}
		return xs[len(xs)-1].Date, week2Projected
	}
	end1, projected := last()
	if !projected {
		t.Fatal("week 2 should start projected")
	}
	// Eight days on, with no check-in: the sweep moves the horizon and
	// decides week 2 (no longer a projection).
	now = now.AddDate(0, 0, 8)
	n, err := r.Sweep(ctx, func(store.Patient, time.Time) bool { return true })
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	end2, projected := last()
	if end2 <= end1 || projected {
		t.Errorf("after the sweep the plan ends %s (was %s), week 2 projected %v", end2, end1, projected)
	}
}

func TestStartOfLocalDay(t *testing.T) {
	at := time.Date(2026, 11, 23, 18, 45, 0, 0, time.UTC) // 00:15 in Kolkata, 19:45 in Berlin
	if !StartOfLocalDay(store.Patient{Timezone: "Asia/Kolkata"}, at) || StartOfLocalDay(store.Patient{Timezone: "Europe/Berlin"}, at) {
		t.Error("StartOfLocalDay must follow the patient's zone")
	}
}
