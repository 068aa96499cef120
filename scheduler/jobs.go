package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/programs"
)

// JobStore is what the periodic jobs need of the store.
type JobStore interface {
	JobLastRun(ctx context.Context, name string) (time.Time, error)
	SetJobLastRun(ctx context.Context, name string, at time.Time) error
	TryLeader(ctx context.Context, name string) (*store.Leader, bool, error)
	ActivePatientsAfter(ctx context.Context, after int64, limit int) ([]store.Patient, error)
	Sessions(ctx context.Context, patientID int64, from, to programs.Date) ([]store.Session, error)
}

// Jobs runs pacer's handful of periodic jobs, in UTC, on the one replica that
// holds the leader lock (PostgreSQL) or in the one process (SQLite): the
// review sweep every hour, retention and the therapists' low-adherence digest
// every day. Each job records its last run; at start, a job whose last run is
// older than its period runs at once, so downtime skips nothing. There is one
// cron entry per job, never one per patient.
type Jobs struct {
	Store    JobStore
	Reviewer *Reviewer
	Alerts   *Alerts
	Now      func() time.Time
	Log      *slog.Logger
	// AdherenceGate is the digest's threshold, in percent (default 70).
	AdherenceGate int
}

type job struct {
	name    string
	spec    string
	period  time.Duration
	run     func(ctx context.Context) error
	catchUp func(ctx context.Context) error // what a missed run does at start; run when nil
}

func (j *Jobs) jobs() []job {
	return []job{
		// The review re-plans the patients whose day began since its last
		// run, so a missed run needs nothing more than a run.
		{"review", "@hourly", time.Hour, j.review, nil},
		{"retention", "30 3 * * *", 24 * time.Hour, func(ctx context.Context) error {
			if j.Reviewer.Retain == nil {
				return nil
			}
			return j.Reviewer.Retain(ctx, j.Now())
		}, nil},
		{"digest", "0 7 * * *", 24 * time.Hour, j.Digest, nil},
	}
}

// Run takes the leadership when it can and runs the jobs while it holds it,
// until ctx ends. A replica that is not the leader tries again each minute,
// so another takes over within a minute when the leader dies.
func (j *Jobs) Run(ctx context.Context) error {
	for {
		l, ok, err := j.Store.TryLeader(ctx, "pacer-jobs")
		if err != nil && ctx.Err() == nil {
			j.Log.Warn("leader lock", "err", err)
		}
		if ok {
			j.Log.Info("running periodic jobs on this replica")
			j.lead(ctx, l)
			l.Release()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Minute):
		}
	}
}

// lead runs the jobs until ctx ends or the leadership is lost.
func (j *Jobs) lead(ctx context.Context, l *store.Leader) {
	logger := cron.VerbosePrintfLogger(slogPrintf{j.Log})
	// SkipIfStillRunning before Recover: the other order skips a job forever
	// after one panic.
	c := cron.New(cron.WithLocation(time.UTC), cron.WithChain(cron.SkipIfStillRunning(logger), cron.Recover(logger)))
	for _, jb := range j.jobs() {
		jb := jb
		if _, err := c.AddFunc(jb.spec, func() { j.runJob(ctx, jb) }); err != nil {
			j.Log.Error("schedule job", "job", jb.name, "err", err)
		}
	}
	for _, jb := range j.jobs() { // catch up what downtime missed
		last, err := j.Store.JobLastRun(ctx, jb.name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && j.Now().Sub(last) >= jb.period) {
			if jb.catchUp != nil {
				jb.run = jb.catchUp
			}
			j.runJob(ctx, jb)
		}
	}
	c.Start()
	defer func() { <-c.Stop().Done() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if !l.Check(ctx) {
				j.Log.Warn("lost the leader lock; periodic jobs stop here")
				return
			}
		}
	}
}

// review runs the review for the days begun since its last run (all, when
// it never ran).
func (j *Jobs) review(ctx context.Context) error {
	since, err := j.Store.JobLastRun(ctx, "review")
	if errors.Is(err, store.ErrNotFound) {
		since, err = time.Time{}, nil
	}
	if err != nil {
		return err
	}
	_, err = j.Reviewer.Review(ctx, since)
	return err
}

func (j *Jobs) runJob(ctx context.Context, jb job) {
	start := j.Now()
	if err := jb.run(ctx); err != nil && ctx.Err() == nil {
		j.Log.Error("periodic job", "job", jb.name, "err", err)
		return
	}
	if err := j.Store.SetJobLastRun(ctx, jb.name, start); err != nil && ctx.Err() == nil {
		j.Log.Warn("record job run", "job", jb.name, "err", err)
	}
	j.Log.Info("periodic job", "job", jb.name, "duration_ms", j.Now().Sub(start).Milliseconds())
}

type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(format string, args ...any) { s.l.Info(fmt.Sprintf(format, args...)) }

// Digest tells each therapist, once a day, which of their patients did fewer
// than AdherenceGate percent of their sessions over the last seven days.
func (j *Jobs) Digest(ctx context.Context) error {
	if j.Alerts == nil {
		return nil
	}
	gate := j.AdherenceGate
	if gate == 0 {
		gate = 70
	}
	now := j.Now()
	en := i18n.For(i18n.English) // therapists have no language setting yet
	low := map[int64][]string{}  // therapist → lines
	named := map[int64][]int64{} // therapist → the patients the lines name
	zones := map[string]*time.Location{}
	for after := int64(0); ; { // a page of patients at a time
		ps, err := j.Store.ActivePatientsAfter(ctx, after, 500)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			break
		}
		after = ps[len(ps)-1].ID
		for _, p := range ps {
			loc, ok := zones[p.Timezone]
			if !ok {
				loc, _ = j.Reviewer.zone(p.Timezone)
				zones[p.Timezone] = loc // nil for an unknown zone: skipped
			}
			if loc == nil {
				continue
			}
			today := programs.DateOf(now.In(loc))
			xs, err := j.Store.Sessions(ctx, p.ID, today.AddDays(-7), today.AddDays(-1))
			if err != nil {
				return err
			}
			planned, done := Adherence(xs, today.AddDays(-7), today)
			if planned > 0 && done*100 < planned*gate {
				low[p.TherapistID] = append(low[p.TherapistID], en.Text("digest.line", i18n.Args{"patient": p.Name, "done": done, "planned": planned}))
				named[p.TherapistID] = append(named[p.TherapistID], p.ID)
			}
		}
	}
	ids := make([]int64, 0, len(low))
	for id := range low {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	var errs []error
	for _, id := range ids {
		args := i18n.Args{"n": len(low[id]), "gate": gate, "lines": strings.Join(low[id], "\n")}
		m := notify.Message{Title: en.Text("digest.title", args), Body: en.Text("digest.body", args), Tag: KindDigest}
		errs = append(errs, j.Alerts.Therapist(ctx, id, KindDigest, now.UTC().Format(time.DateOnly), m, now, named[id]))
	}
	return errors.Join(errs...)
}

// Adherence counts the sessions dated in [from, to) that were planned (not
// cancelled) and those of them done or partly done.
func Adherence(sessions []store.Session, from, to programs.Date) (planned, done int) {
	for _, x := range sessions {
		if x.Date < from || x.Date >= to {
			continue
		}
		switch x.Status {
		case programs.Cancelled:
		case programs.Done, programs.Partial:
			planned, done = planned+1, done+1
		default:
			planned++
		}
	}
	return planned, done
}
