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

// The hourly review re-plans the patients whose local day began since its
// last run, and only those whose plan is of an earlier day: in Kolkata at
// its midnight, not Berlin; not again an hour later; in Santiago on the day
// its clocks skip midnight (00:00 becomes 01:00), which no run sees in the
// first hour of; and after a day of downtime, everyone.
func TestReviewFollowsEachZonesMidnight(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		start := time.Date(2026, 9, 3, 12, 0, 0, 0, time.UTC)
		s := testserver.New(t, dsn, testserver.Options{Start: start})
		ctx := t.Context()
		ids := map[string]int64{}
		for _, zone := range []string{"Asia/Kolkata", "Europe/Berlin", "America/Santiago"} {
			l := s.Patient(`{"name":"P","timezone":"` + zone + `"}`)
			s.Assign(l.ID, `{"program":"walking","start":"2026-08-31"}`)
			ids[zone] = l.ID
		}
		r := s.Daemon.Jobs.Reviewer
		planDay := func(zone string) programs.Date {
			as := s.Assignments(ids[zone])
			p, err := s.Store.Plan(ctx, as[0])
			if err != nil {
				t.Fatal(err)
			}
			return p.Header.Now
		}
		reviewSince := func(at, since time.Time, want int) {
			t.Helper()
			s.Clock.Set(at)
			n, err := r.Review(ctx, since)
			if err != nil || n != want {
				t.Fatalf("review at %s: %d re-planned, %v; want %d", at, n, err, want)
			}
		}
		review := func(at time.Time, want int) {
			t.Helper()
			reviewSince(at, at.Add(-time.Hour), want)
		}
		review(time.Date(2026, 9, 3, 19, 0, 0, 0, time.UTC), 1) // 00:30 in Kolkata
		if planDay("Asia/Kolkata") != programs.MakeDate(2026, 9, 4) || planDay("Europe/Berlin") != programs.MakeDate(2026, 9, 3) {
			t.Errorf("Kolkata's plan is of %s, Berlin's of %s", planDay("Asia/Kolkata"), planDay("Europe/Berlin"))
		}
		review(time.Date(2026, 9, 3, 20, 0, 0, 0, time.UTC), 0) // an hour on: nobody's day began
		review(time.Date(2026, 9, 3, 22, 0, 0, 0, time.UTC), 1) // 00:00 in Berlin

		// Santiago's clocks go from 23:59 on 5 September to 01:00 on the
		// 6th: no hourly run falls in its first hour of that day.
		dst := time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC)
		if scheduler.StartOfLocalDay(store.Patient{Timezone: "America/Santiago"}, dst) ||
			scheduler.StartOfLocalDay(store.Patient{Timezone: "America/Santiago"}, dst.Add(-time.Hour)) {
			t.Fatal("a run finds the first hour of Santiago's day: no DST change skips midnight here")
		}
		s.Clock.Set(dst)
		if _, err := r.Review(ctx, dst.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := planDay("America/Santiago"); got != programs.MakeDate(2026, 9, 6) {
			t.Errorf("Santiago's plan is of %s after the review on the day its clocks skip midnight", got)
		}

		// A day of downtime: every patient's day began meanwhile.
		later := dst.Add(30 * time.Hour)
		reviewSince(later, dst, 3)
		reviewSince(later, dst, 0) // and a second run finds them current
	})
}
