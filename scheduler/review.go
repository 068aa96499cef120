package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"pacer/internal/store"
)

// ReviewStore is what the review sweep needs of the store.
type ReviewStore interface {
	Store
	ActivePatients(ctx context.Context) ([]store.Patient, error)
	Assignments(ctx context.Context, patientID int64) ([]store.Assignment, error)
}

// Reviewer keeps every active plan current without anyone checking in: it
// re-materializes each patient's assignments once a day, in the first hour of
// the patient's local day. That hour holds every week boundary (a week starts
// at local midnight) and the day on which a session with no check-in becomes
// missed and the projection moves on. A sweep is idempotent, so running it
// again after a restart, or on a second replica, repeats no effect.
type Reviewer struct {
	Store ReviewStore
	Mat   *Materializer
	Now   func() time.Time
	Log   *slog.Logger
	// Retain, if set, applies the data retention period: at start, then
	// after the sweep of each hour that begins a UTC day.
	Retain func(ctx context.Context, now time.Time) error
}

// Run sweeps every patient at start, then on each hour those whose local
// time is in its first hour, until ctx ends.
func (r *Reviewer) Run(ctx context.Context) error {
	if _, err := r.Sweep(ctx, func(store.Patient, time.Time) bool { return true }); err != nil && ctx.Err() == nil {
		r.Log.Error("review sweep", "err", err)
	}
	r.retain(ctx)
	for {
		now := r.Now()
		next := now.Truncate(time.Hour).Add(time.Hour)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		n, err := r.Sweep(ctx, StartOfLocalDay)
		if err != nil && ctx.Err() == nil {
			r.Log.Error("review sweep", "err", err)
		}
		r.Log.Info("review sweep", "patients", n)
		if r.Now().UTC().Hour() == 0 {
			r.retain(ctx)
		}
	}
}

func (r *Reviewer) retain(ctx context.Context) {
	if r.Retain == nil {
		return
	}
	if err := r.Retain(ctx, r.Now()); err != nil && ctx.Err() == nil {
		r.Log.Error("retention", "err", err)
	}
}

// StartOfLocalDay is true in the first hour of the patient's local day.
func StartOfLocalDay(p store.Patient, now time.Time) bool {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return true // review anyway: better a spare review than a stale plan
	}
	return now.In(loc).Hour() == 0
}

// Sweep re-materializes the assignments of the active patients that due
// selects, and returns how many patients it reviewed. One patient's failure
// does not stop the others; the errors are joined.
func (r *Reviewer) Sweep(ctx context.Context, due func(store.Patient, time.Time) bool) (int, error) {
	ps, err := r.Store.ActivePatients(ctx)
	if err != nil {
		return 0, err
	}
	now := r.Now()
	n := 0
	var errs []error
	for _, p := range ps {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if !due(p, now) {
			continue
		}
		as, err := r.Store.Assignments(ctx, p.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range as {
			if _, err := r.Mat.Materialize(ctx, p, a); err != nil {
				errs = append(errs, err)
			}
		}
		n++
	}
	return n, errors.Join(errs...)
}
