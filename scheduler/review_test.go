package scheduler_test

import (
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
	"pacer/scheduler"
)

// The running server's review sweep keeps a plan current without anyone
// checking in: eight days on, the plan's horizon has moved and week 2 is no
// longer a projection.
func TestSweepKeepsPlansCurrent(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)})
		ctx := t.Context()
		l := s.Patient(`{"name":"P","timezone":"Europe/Berlin"}`)
		s.Assign(l.ID, `{"program":"walking","start":"2026-11-23"}`)
		start := programs.MakeDate(2026, 11, 23)
		last := func() (programs.Date, bool) {
			xs, err := s.Store.Sessions(ctx, l.ID, start, start.AddDays(7*30))
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
		s.Clock.Add(8 * 24 * time.Hour)
		n, err := s.Daemon.Jobs.Reviewer.Sweep(ctx, func(store.Patient, time.Time) bool { return true })
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v", n, err)
		}
		end2, projected := last()
		if end2 <= end1 || projected {
			t.Errorf("after the sweep the plan ends %s (was %s), week 2 projected %v", end2, end1, projected)
		}
	})
}

func TestStartOfLocalDay(t *testing.T) {
	at := time.Date(2026, 11, 23, 18, 45, 0, 0, time.UTC) // 00:15 in Kolkata, 19:45 in Berlin
	if !scheduler.StartOfLocalDay(store.Patient{Timezone: "Asia/Kolkata"}, at) || scheduler.StartOfLocalDay(store.Patient{Timezone: "Europe/Berlin"}, at) {
		t.Error("StartOfLocalDay must follow the patient's zone")
	}
}
