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
	ActivePatients(ctx context.Context) ([]store.Patient, error)
}

// Reviewer keeps every active plan current without anyone checking in: the
// periodic review job (Jobs) runs Sweep every hour for the patients whose local
// day has just begun. That hour holds every week boundary (a week starts at
// local midnight) and the day on which a session with no check-in becomes
// missed and the projection moves on. A sweep is idempotent, so running it
// again after a restart, or on a second replica, repeats no effect.
type Reviewer struct {
	Store ReviewStore
	// Replan re-plans one patient atomically (clinic.Clinic.Replan).
	Replan func(ctx context.Context, patientID int64) error
	Now    func() time.Time
	Log    *slog.Logger
	// Retain, if set, applies the data retention period; the daily
	// retention job calls it.
	Retain func(ctx context.Context, now time.Time) error
}

// StartOfLocalDay is true in the first hour of the patient's local day.
func StartOfLocalDay(p store.Patient, now time.Time) bool {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return true // review anyway: better a spare review than a stale plan
	}
	return now.In(loc).Hour() == 0
}

// Sweep re-plans the active patients that due selects, and returns how many
// it reviewed. One patient's failure does not stop the others; the errors
// are joined.
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
		if err := r.Replan(ctx, p.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
