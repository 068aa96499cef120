package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// ReviewStore is what the review sweep needs of the store.
type ReviewStore interface {
	ZonesInUse(ctx context.Context) ([]string, error)
	PatientsBehind(ctx context.Context, zone string, today programs.Date, after int64, limit int) ([]int64, error)
	ActivePatientsAfter(ctx context.Context, after int64, limit int) ([]store.Patient, error)
}

// Reviewer keeps every active plan current without anyone checking in: the
// periodic review job (Jobs) runs Review every hour for the patients whose
// local day has begun since its last run. That hour holds every week
// boundary (a week starts at local midnight) and the day on which a session
// with no check-in becomes missed and the projection moves on. A review is
// idempotent, so running it again after a restart, or on a second replica,
// repeats no effect.
type Reviewer struct {
	Store ReviewStore
	// Replan re-plans patients, each atomically, several in one write
	// transaction (clinic.Clinic.ReplanBatch): each patient's error by
	// index, or an error for the whole batch.
	Replan func(ctx context.Context, patientIDs []int64) ([]error, error)
	// Zone loads a time zone (clinic.Clinic.Zone, which keeps each one
	// loaded); nil: time.LoadLocation.
	Zone func(name string) (*time.Location, error)
	Now  func() time.Time
	Log  *slog.Logger
	// Retain, if set, applies the data retention period; the daily
	// retention job calls it.
	Retain func(ctx context.Context, now time.Time) error
}

// reviewBatch is how many patients one write transaction re-plans: enough
// that a commit's fsync is shared widely, few enough that a check-in waits
// for the writer tens of milliseconds at most.
const reviewBatch = 100

// StartOfLocalDay is true in the first hour of the patient's local day.
func StartOfLocalDay(p store.Patient, now time.Time) bool {
	loc, err := time.LoadLocation(p.Timezone)
	if err != nil {
		return true // review anyway: better a spare review than a stale plan
	}
	return now.In(loc).Hour() == 0
}

func (r *Reviewer) zone(name string) (*time.Location, error) {
	if r.Zone != nil {
		return r.Zone(name)
	}
	return time.LoadLocation(name)
}

// Review re-plans the patients whose local day has begun since the instant
// since (the zero time: ever) and whose stored plan is for an earlier day,
// and returns how many it re-planned. It selects them in SQL, zone by zone:
// for each time zone in use in which a local midnight has passed since
// since, the patients of that zone with an active plan computed before
// their today. So a patient re-planned after their midnight already (a
// check-in) is not re-planned again, a zone whose clocks skip midnight
// (a DST change at 00:00) is not missed, and after downtime exactly the
// patients whose day began meanwhile are. It holds one page of ids at a
// time. One patient's failure does not stop the others; the errors are
// joined.
func (r *Reviewer) Review(ctx context.Context, since time.Time) (int, error) {
	zones, err := r.Store.ZonesInUse(ctx)
	if err != nil {
		return 0, err
	}
	now := r.Now()
	n := 0
	var errs []error
	for _, z := range zones {
		loc, err := r.zone(z)
		if err != nil {
			errs = append(errs, fmt.Errorf("review: time zone %q: %w", z, err))
			continue
		}
		today := programs.DateOf(now.In(loc))
		if !since.IsZero() && programs.DateOf(since.In(loc)) == today {
			continue // no day began here since the last review
		}
		for after := int64(0); ; {
			ids, err := r.Store.PatientsBehind(ctx, z, today, after, reviewBatch)
			if err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			if len(ids) == 0 {
				break
			}
			after = ids[len(ids)-1]
			done, err := r.replan(ctx, ids)
			n += done
			if err != nil {
				errs = append(errs, err)
			}
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if len(ids) < reviewBatch {
				break
			}
		}
	}
	return n, errors.Join(errs...)
}

// Sweep re-plans the active patients that due selects, and returns how many
// it reviewed. It reads the patients a page at a time and re-plans them in
// batches. One patient's failure does not stop the others; the errors are
// joined.
func (r *Reviewer) Sweep(ctx context.Context, due func(store.Patient, time.Time) bool) (int, error) {
	now := r.Now()
	n := 0
	var errs []error
	for after := int64(0); ; {
		ps, err := r.Store.ActivePatientsAfter(ctx, after, reviewBatch)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		if len(ps) == 0 {
			break
		}
		after = ps[len(ps)-1].ID
		ids := make([]int64, 0, len(ps))
		for _, p := range ps {
			if due(p, now) {
				ids = append(ids, p.ID)
			}
		}
		if len(ids) > 0 {
			done, err := r.replan(ctx, ids)
			n += done
			if err != nil {
				errs = append(errs, err)
			}
		}
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if len(ps) < reviewBatch {
			break
		}
	}
	return n, errors.Join(errs...)
}

// replan re-plans one batch and returns how many it re-planned; a patient
// erased meanwhile is neither counted nor an error.
func (r *Reviewer) replan(ctx context.Context, ids []int64) (int, error) {
	perPatient, err := r.Replan(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("review: patients %d to %d: %w", ids[0], ids[len(ids)-1], err)
	}
	n := 0
	var errs []error
	for i, err := range perPatient {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, store.ErrNotFound):
			errs = append(errs, fmt.Errorf("review: patient %d: %w", ids[i], err))
		}
	}
	return n, errors.Join(errs...)
}
