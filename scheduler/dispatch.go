package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/programs"
)

// DispatchStore is what the dispatcher needs of the store.
type DispatchStore interface {
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Reminder, error)
	MarkSent(ctx context.Context, id int64, at time.Time) error
	MarkRetry(ctx context.Context, id int64, next time.Time, lastErr string) error
	MarkFailed(ctx context.Context, id int64, lastErr string) error
	MarkSkipped(ctx context.Context, id int64, reason string) error
	ReleaseLeases(ctx context.Context, ids []int64) error
	NextDue(ctx context.Context) (time.Time, bool, error)
	Session(ctx context.Context, id int64) (store.Session, error)
	PatientByID(ctx context.Context, id int64) (store.Patient, error)
	AssignmentByID(ctx context.Context, id int64) (store.Assignment, error)
	Channel(ctx context.Context, id int64) (store.Channel, error)
	NotifySettings(ctx context.Context, patientID int64) (store.NotifySettings, error)
	DeleteChannel(ctx context.Context, id int64) error
	TakeQuota(ctx context.Context, patientID int64, day programs.Date, limit int) (bool, error)
}

// Reasons a dispatcher skips a reminder for, besides the store's.
const (
	SkipQuota       = "quota"       // the patient's daily quota of messages is used up
	SkipUnconfirmed = "unconfirmed" // its channel waits for its confirmation
	SkipConfirmed   = "confirmed"   // a confirmation request for a channel confirmed since
)

// DispatchMetrics observes what the dispatcher does.
type DispatchMetrics interface {
	Sent(kind string, lateness time.Duration)
	Skipped(kind, reason string)
	Failed(kind string)
	Retried(kind string)
}

type noMetrics struct{}

func (noMetrics) Sent(string, time.Duration) {}
func (noMetrics) Skipped(string, string)     {}
func (noMetrics) Failed(string)              {}
func (noMetrics) Retried(string)             {}

// Dispatcher delivers the outbox: it sleeps until the next row is due (woken
// early by Wake), claims due rows in batches under a lease, sends them on a
// few workers, and records each result. A crash leaves claimed rows whose
// lease expires; any dispatcher then reclaims them, so nothing is lost, and a
// send is repeated only if the crash fell between the send and its record.
type Dispatcher struct {
	Store      DispatchStore
	Notifier   func(ctx context.Context, ch store.Channel) (notify.Notifier, error)
	CheckinURL func(p store.Patient) string
	// ConfirmURL is the link that confirms a pending channel.
	ConfirmURL func(ch store.Channel) string
	// Quota is how many messages one patient may be sent in a UTC day; the
	// excess is skipped as "quota". 0: no quota.
	Quota   int
	Now     func() time.Time
	Log     *slog.Logger
	Metrics DispatchMetrics

	Lease       time.Duration // default 2 minutes
	Batch       int           // default 200
	Workers     int           // default 16
	MaxAttempts int           // default 8
	MaxSleep    time.Duration // default 30 s: rows written by another replica are seen this late at most

	once  sync.Once
	wake  chan struct{}
	progs sync.Map // assignment id → *programs.Program (snapshots never change)
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Lease == 0 {
			d.Lease = 2 * time.Minute
		}
		if d.Batch == 0 {
			d.Batch = 200
		}
		if d.Workers == 0 {
			d.Workers = 16
		}
		if d.MaxAttempts == 0 {
			d.MaxAttempts = 8
		}
		if d.MaxSleep == 0 {
			d.MaxSleep = 30 * time.Second
		}
		if d.Metrics == nil {
			d.Metrics = noMetrics{}
		}
	})
}

// Wake makes a sleeping dispatcher look for due rows now.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Sends in flight finish; claimed rows not yet
// sent are released for the next dispatcher.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	for {
		n, err := d.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.Log.Error("dispatch", "err", err)
		}
		if n > 0 {
			continue // there may be more due rows
		}
		sleep := d.MaxSleep
		if next, ok, err := d.Store.NextDue(ctx); err == nil && ok {
			sleep = min(max(next.Sub(d.Now()), 0), d.MaxSleep)
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// RunOnce claims one batch of due rows and delivers it; it returns how many
// rows it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.init()
	rs, err := d.Store.ClaimDue(ctx, d.Now(), d.Lease, d.Batch)
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	jobs := make(chan store.Reminder)
	var wg sync.WaitGroup
	for range min(d.Workers, len(rs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				// A send started is finished even during shutdown, briefly.
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				d.deliver(sctx, r)
				cancel()
			}
		}()
	}
	var unsent []int64
	for i, r := range rs {
		if ctx.Err() != nil {
			for _, x := range rs[i:] {
				unsent = append(unsent, x.ID)
			}
			break
		}
		jobs <- r
	}
	close(jobs)
	wg.Wait()
	if len(unsent) > 0 {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.Store.ReleaseLeases(rctx, unsent); err != nil {
			return len(rs), err
		}
	}
	return len(rs), nil
}

// deliver sends one claimed reminder, or skips it, and records the result.
func (d *Dispatcher) deliver(ctx context.Context, r store.Reminder) {
	now := d.Now()
	skip := func(reason string) {
		d.Metrics.Skipped(r.Kind, reason)
		if err := d.Store.MarkSkipped(ctx, r.ID, reason); err != nil {
			d.Log.Warn("mark skipped", "reminder_id", r.ID, "err", err)
		}
	}
	if now.Sub(r.DueAt) > Stale {
		skip("stale")
		return
	}
	msg, ch, reason, err := d.compose(ctx, r)
	if err != nil {
		d.fail(ctx, r, err)
		return
	}
	if reason != "" {
		skip(reason)
		return
	}
	// A patient's messages count against their daily quota once, at their
	// first attempt: a flood of check-ins or new addresses cannot flood the
	// mail server or starve other patients' reminders.
	if d.Quota > 0 && r.TherapistID == 0 && r.PatientID != 0 && r.Attempts <= 1 {
		ok, err := d.Store.TakeQuota(ctx, r.PatientID, programs.DateOf(now.UTC()), d.Quota)
		if err != nil {
			d.fail(ctx, r, err)
			return
		}
		if !ok {
			skip(SkipQuota)
			return
		}
	}
	// Delivery is at least once: a crash between a send and its record
	// sends again. The reminder's dedupe key goes with every message
	// (webhook "tag", Web Push Topic, email Message-ID) so a receiver can
	// tell a repeat from a new reminder.
	msg.Tag = r.DedupeKey
	n, err := d.Notifier(ctx, ch)
	if err != nil {
		d.fail(ctx, r, &notify.Error{Channel: ch.Type, Err: err}) // bad channel settings: permanent
		return
	}
	if err := n.Send(ctx, msg); err != nil {
		if notify.Gone(err) {
			if derr := d.Store.DeleteChannel(ctx, ch.ID); derr != nil {
				d.Log.Warn("delete gone channel", "channel_id", ch.ID, "err", derr)
			}
		}
		d.fail(ctx, r, err)
		return
	}
	if err := d.Store.MarkSent(ctx, r.ID, d.Now()); err != nil {
		d.Log.Warn("mark sent", "reminder_id", r.ID, "err", err)
	}
	d.Metrics.Sent(r.Kind, now.Sub(r.DueAt))
}

// fail retries a temporary error with capped exponential backoff and jitter,
// and gives up on a permanent one or after MaxAttempts.
func (d *Dispatcher) fail(ctx context.Context, r store.Reminder, err error) {
	msg := err.Error()
	if notify.Temporary(err) && r.Attempts < d.MaxAttempts {
		backoff := min(30*time.Second<<min(r.Attempts-1, 10), time.Hour)
		backoff = time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		d.Metrics.Retried(r.Kind)
		if err := d.Store.MarkRetry(ctx, r.ID, d.Now().Add(backoff), msg); err != nil {
			d.Log.Warn("mark retry", "reminder_id", r.ID, "err", err)
		}
		return
	}
	d.Metrics.Failed(r.Kind)
	d.Log.Warn("reminder failed", "reminder_id", r.ID, "kind", r.Kind, "attempts", r.Attempts)
	if err := d.Store.MarkFailed(ctx, r.ID, msg); err != nil {
		d.Log.Warn("mark failed", "reminder_id", r.ID, "err", err)
	}
}

// compose words the message from the current state of its subject, or names
// why it must not go: the session was checked in or cancelled, the channel
// removed.
func (d *Dispatcher) compose(ctx context.Context, r store.Reminder) (notify.Message, store.Channel, string, error) {
	ch, err := d.Store.Channel(ctx, r.ChannelID)
	switch {
	case errors.Is(err, store.ErrNotFound) || r.ChannelID == 0:
		return notify.Message{}, ch, "channel_removed", nil
	case err != nil:
		return notify.Message{}, ch, "", err
	}
	switch {
	case r.Kind == KindConfirm && !ch.Pending:
		return notify.Message{}, ch, SkipConfirmed, nil
	case r.Kind != KindConfirm && ch.Pending:
		return notify.Message{}, ch, SkipUnconfirmed, nil
	}
	switch r.Kind {
	case KindConfirm:
		url := ""
		if d.ConfirmURL != nil {
			url = d.ConfirmURL(ch)
		}
		if url == "" {
			return notify.Message{}, ch, "", errors.New("no confirmation link for the channel")
		}
		set, err := d.Store.NotifySettings(ctx, ch.PatientID)
		if err != nil {
			return notify.Message{}, ch, "", err
		}
		return ConfirmMessage(i18n.For(i18n.Parse(set.Language)), url), ch, "", nil
	case KindSession, KindNudge:
		s, err := d.Store.Session(ctx, r.SessionID)
		if errors.Is(err, store.ErrNotFound) {
			return notify.Message{}, ch, "cancelled", nil
		}
		if err != nil {
			return notify.Message{}, ch, "", err
		}
		switch s.Status {
		case programs.Cancelled:
			return notify.Message{}, ch, "cancelled", nil
		case programs.Done, programs.Partial, programs.Skipped:
			return notify.Message{}, ch, "checked_in", nil
		}
		p, err := d.Store.PatientByID(ctx, s.PatientID)
		if err != nil {
			return notify.Message{}, ch, "", err
		}
		name := s.Activity
		if prog, err := d.program(ctx, s.AssignmentID); err == nil {
			if a, ok := prog.Activity(s.Activity); ok {
				name = a.Name
			}
		}
		set, err := d.Store.NotifySettings(ctx, p.ID)
		if err != nil {
			return notify.Message{}, ch, "", err
		}
		cat := i18n.For(i18n.Parse(set.Language))
		return SessionMessage(cat, r.Kind, r.DedupeKey, name, s.Unit, s.Dose, s.Sets, d.CheckinURL(p)), ch, "", nil
	}
	var m notify.Message
	if err := jsonUnmarshal(r.Payload, &m); err != nil || m.Title == "" {
		return m, ch, "", errors.New("reminder has no message")
	}
	return m, ch, "", nil
}

// program returns an assignment's program snapshot (the store decodes each
// snapshot once).
func (d *Dispatcher) program(ctx context.Context, assignmentID int64) (*programs.Program, error) {
	if p, ok := d.progs.Load(assignmentID); ok {
		return p.(*programs.Program), nil
	}
	a, err := d.Store.AssignmentByID(ctx, assignmentID)
	if err != nil {
		return nil, err
	}
	d.progs.Store(assignmentID, a.Program)
	return a.Program, nil
}
