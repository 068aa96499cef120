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
	ReminderSubjects(ctx context.Context, rs []store.Reminder) (store.Subjects, error)
	AssignmentPrograms(ctx context.Context, ids []int64) (map[int64]*programs.Program, error)
	RecordOutcomes(ctx context.Context, outs []store.Outcome) (stale []int64, err error)
	ReleaseLeases(ctx context.Context, ids []int64) error
	NextDue(ctx context.Context) (time.Time, bool, error)
	DeleteChannel(ctx context.Context, id int64) error
	TakeQuotas(ctx context.Context, day programs.Date, limit int, want map[int64]int) (map[int64]int, error)
}

// Reasons a dispatcher skips a reminder for, besides the store's.
const (
	SkipQuota       = "quota"       // the patient's daily quota of messages is used up
	SkipUnconfirmed = "unconfirmed" // its channel waits for its confirmation
	SkipConfirmed   = "confirmed"   // a confirmation request for a channel confirmed since
)

// DispatchMetrics observes what the dispatcher does.
type DispatchMetrics interface {
	// Sent counts a delivery; lateness is from the reminder's due time to
	// the end of its send, whatever attempt it was.
	Sent(kind string, lateness time.Duration)
	Skipped(kind, reason string)
	Failed(kind string)
	Retried(kind string)
	// Recorded observes one commit of outcomes: how many rows, how long.
	Recorded(rows int, took time.Duration)
}

type noMetrics struct{}

func (noMetrics) Sent(string, time.Duration)  {}
func (noMetrics) Skipped(string, string)      {}
func (noMetrics) Failed(string)               {}
func (noMetrics) Retried(string)              {}
func (noMetrics) Recorded(int, time.Duration) {}

// Dispatcher delivers the outbox: it sleeps until the next row is due (woken
// early by Wake), claims due rows in batches under a lease, reads what the
// batch is worded from at once, sends on a few workers, and records the
// results of many sends in one transaction (group commit): when RecordBatch
// results wait, or the oldest has waited RecordEvery, and when it stops.
//
// A crash leaves claimed rows whose lease expires; any dispatcher then
// reclaims them, so nothing is lost. A send is repeated only if the crash
// fell between the send and the commit of its result — at most the results
// of the last RecordEvery, or of one RecordBatch — and every message carries
// its reminder's dedupe key, so the receiver can tell the repeat.
type Dispatcher struct {
	Store      DispatchStore
	Notifier   func(ctx context.Context, ch store.Channel) (notify.Notifier, error)
	CheckinURL func(p store.Patient) string
	// SessionURL, if set, is a session's own link (/s/{token}): a session
	// reminder's "Done" button posts to it, and a reminder that goes
	// through a third party's server (ntfy, Telegram, Pushover, email,
	// webhook) links it instead of the check-in page, whose link can do
	// far more. A Web Push message is encrypted to the patient's own
	// browser, so it opens their page.
	SessionURL func(p store.Patient, x store.Session) string
	// ConfirmURL is the link that confirms a pending channel.
	ConfirmURL func(ch store.Channel) string
	// Quota is how many messages one patient may be sent in a UTC day; the
	// excess is skipped as "quota". 0: no quota.
	Quota   int
	Now     func() time.Time
	Log     *slog.Logger
	Metrics DispatchMetrics

	Lease       time.Duration // default 2 minutes
	Batch       int           // rows claimed at once; default 200
	Workers     int           // sends at once; default 16
	MaxAttempts int           // default 8
	MaxSleep    time.Duration // default 30 s: rows written by another replica are seen this late at most
	RecordBatch int           // results committed together at most; default Batch
	RecordEvery time.Duration // how long a result waits for others to be committed with; default 25 ms

	once sync.Once
	wake chan struct{}
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
		if d.RecordBatch == 0 {
			d.RecordBatch = d.Batch
		}
		if d.RecordEvery == 0 {
			d.RecordEvery = 25 * time.Millisecond
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

// Run delivers until ctx ends. While rows are due it claims the next batch
// as soon as the workers have taken the last; when none are, it waits for
// the sends in flight and their record, and sleeps until the next due time.
// At the end, sends in flight finish and their results are recorded;
// claimed rows not yet sent are released for the next dispatcher.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	p := d.start(ctx)
	defer p.stop()
	for {
		n, err := p.claim(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.Log.Error("dispatch", "err", err)
		}
		if n > 0 {
			continue // there may be more due rows
		}
		// Retries are recorded before NextDue reads when they are due.
		p.settle()
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

// RunOnce claims one batch of due rows, delivers it and records the
// results before it returns how many rows it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.init()
	p := d.start(ctx)
	n, err := p.claim(ctx)
	p.stop()
	return n, err
}

// pipeline is one run of the dispatcher: the claimed rows queued for the
// workers, the workers, and the recorder they hand results to.
type pipeline struct {
	d        *Dispatcher
	ctx      context.Context // its end stops new sends
	jobs     chan claimed
	inflight sync.WaitGroup // jobs queued or being sent, until their result is with the recorder
	workers  sync.WaitGroup
	rec      *recorder

	mu     sync.Mutex
	unsent []int64 // claimed, not attempted: released at the end
}

// claimed is one claimed reminder and what its batch is worded from.
type claimed struct {
	r   store.Reminder
	sub *subjects
	// overQuota is set when the patient's daily quota had no room for it.
	overQuota bool
}

// subjects are a batch's store.Subjects and its sessions' programs, by
// assignment ID, or why they could not be read.
type subjects struct {
	store.Subjects
	programs map[int64]*programs.Program
	err      error
}

func (d *Dispatcher) start(ctx context.Context) *pipeline {
	p := &pipeline{d: d, ctx: ctx, jobs: make(chan claimed, d.Batch), rec: newRecorder(ctx, d)}
	for range d.Workers {
		p.workers.Go(p.work)
	}
	return p
}

// claim claims one batch, reads what it is worded from and queues it for
// the workers; it returns how many rows it claimed once the workers have
// taken all but a queue's worth, so the next claim overlaps their sends.
func (p *pipeline) claim(ctx context.Context) (int, error) {
	d := p.d
	if ctx.Err() != nil {
		return 0, nil
	}
	// A claim is not cut short by the end of the run: one that committed
	// but was not read would leave its rows to their lease's end, rather
	// than be released below.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	rs, err := d.Store.ClaimDue(cctx, d.Now(), d.Lease, d.Batch)
	cancel()
	if err != nil || len(rs) == 0 {
		return 0, err
	}
	sub := &subjects{}
	sub.Subjects, sub.err = d.Store.ReminderSubjects(ctx, rs)
	if sub.err == nil {
		sub.programs = d.loadPrograms(ctx, sub.Sessions)
	}
	over, err := d.quota(ctx, rs)
	if err != nil {
		sub.err = err // the batch fails and is retried, rather than sent past the quota
	}
	for i, r := range rs {
		p.inflight.Add(1)
		select {
		case p.jobs <- claimed{r, sub, over[r.ID]}:
		case <-ctx.Done():
			p.inflight.Done()
			for _, x := range rs[i:] {
				p.release(x.ID)
			}
			return len(rs), nil
		}
	}
	return len(rs), nil
}

// quota takes the batch's patient messages from their patients' daily
// quotas, in one write for the batch, and returns the ones it had no room
// for. A message counts once, at its first attempt; therapists' messages do
// not count. So a flood of check-ins or new addresses cannot flood the mail
// server or starve other patients' reminders.
func (d *Dispatcher) quota(ctx context.Context, rs []store.Reminder) (map[int64]bool, error) {
	if d.Quota <= 0 {
		return nil, nil
	}
	want := map[int64]int{}
	for _, r := range rs {
		if r.TherapistID == 0 && r.PatientID != 0 && r.Attempts <= 1 {
			want[r.PatientID]++
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	granted, err := d.Store.TakeQuotas(ctx, programs.DateOf(d.Now().UTC()), d.Quota, want)
	if err != nil {
		return nil, err
	}
	over := map[int64]bool{}
	for _, r := range rs {
		if r.TherapistID == 0 && r.PatientID != 0 && r.Attempts <= 1 {
			if granted[r.PatientID] > 0 {
				granted[r.PatientID]--
			} else {
				over[r.ID] = true
			}
		}
	}
	return over, nil
}

// work sends queued reminders until the queue is closed; once the run's
// context has ended, it releases them instead.
func (p *pipeline) work() {
	for j := range p.jobs {
		if p.ctx.Err() != nil {
			p.release(j.r.ID)
			p.inflight.Done()
			continue
		}
		if !p.d.Now().Before(j.r.LeaseUntil) {
			// The lease ended while the row waited behind slow sends:
			// another dispatcher may have claimed it since. It is not sent
			// here; whoever claims it next sends it.
			p.d.Log.Warn("reminder lease ended before its send", "reminder_id", j.r.ID)
			p.inflight.Done()
			continue
		}
		// A send started is finished even during shutdown, briefly.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
		o := p.d.deliver(sctx, j)
		cancel()
		p.rec.add(o)
		p.inflight.Done()
	}
}

func (p *pipeline) release(id int64) {
	p.mu.Lock()
	p.unsent = append(p.unsent, id)
	p.mu.Unlock()
}

// settle waits until every claimed row was sent and its result recorded
// (or the record failed; it is tried again later).
func (p *pipeline) settle() {
	p.inflight.Wait()
	p.rec.flushNow()
}

// stop ends the run: the queue closes, sends in flight finish, every result
// is recorded, and rows not attempted are released.
func (p *pipeline) stop() {
	close(p.jobs)
	p.workers.Wait()
	p.rec.close()
	if len(p.unsent) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
	defer cancel()
	if err := p.d.Store.ReleaseLeases(ctx, p.unsent); err != nil {
		p.d.Log.Warn("release leases", "rows", len(p.unsent), "err", err)
	}
}

// recorder commits the workers' results in batches, in one goroutine.
type recorder struct {
	d    *Dispatcher
	in   chan store.Outcome
	now  chan chan struct{} // flush what is buffered, then close the channel
	done chan struct{}
}

// newRecorder starts a recorder for a run that ends with ctx.
func newRecorder(ctx context.Context, d *Dispatcher) *recorder {
	r := &recorder{d: d, in: make(chan store.Outcome, d.RecordBatch), now: make(chan chan struct{}),
		done: make(chan struct{})}
	go r.run(ctx)
	return r
}

// add hands a result over; it waits while the recorder is a full batch
// behind (the store is slow or failing), which holds the workers back:
// nothing is sent that could not be recorded.
func (r *recorder) add(o store.Outcome) { r.in <- o }

func (r *recorder) flushNow() {
	ack := make(chan struct{})
	r.now <- ack
	<-ack
}

// close records what is left and stops the recorder.
func (r *recorder) close() {
	close(r.in)
	<-r.done
}

func (r *recorder) run(ctx context.Context) {
	defer close(r.done)
	var (
		buf      []store.Outcome
		failures int
		timer    = time.NewTimer(time.Hour)
		armed    bool
	)
	timer.Stop()
	defer timer.Stop()
	arm := func(after time.Duration) {
		if !armed {
			timer.Reset(after)
			armed = true
		}
	}
	flush := func() {
		if armed {
			timer.Stop()
			armed = false
		}
		if len(buf) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.record(ctx, buf)
		cancel()
		if err != nil {
			failures++
			backoff := min(r.d.RecordEvery<<min(failures, 10), 5*time.Second)
			r.d.Log.Warn("record reminder results", "rows", len(buf), "failures", failures, "retry_in", backoff, "err", err)
			arm(backoff)
			return
		}
		buf, failures = buf[:0], 0
	}
	ending := ctx.Done()
	for {
		// While records fail, take no more than a few batches: the workers
		// wait rather than send what cannot be recorded. Once the run
		// ends, take everything, so that the workers can stop.
		in := r.in
		if failures > 0 && len(buf) >= 4*r.d.RecordBatch && ctx.Err() == nil {
			in = nil
		}
		select {
		case <-ending:
			ending = nil // wakes the loop once, to take what waits
		case o, ok := <-in:
			if !ok {
				r.final(buf)
				return
			}
			buf = append(buf, o)
			switch {
			case failures > 0: // the retry is armed
			case len(buf) >= r.d.RecordBatch:
				flush()
			default:
				arm(r.d.RecordEvery)
			}
		case <-timer.C:
			armed = false
			flush()
		case ack := <-r.now:
			// Everything handed over before the call is recorded with it.
			for drained := false; !drained; {
				select {
				case o, ok := <-r.in:
					if !ok {
						close(ack)
						r.final(buf)
						return
					}
					buf = append(buf, o)
				default:
					drained = true
				}
			}
			flush()
			close(ack)
		}
	}
}

// final records what is left at the end, trying for a few seconds.
func (r *recorder) final(buf []store.Outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for wait := r.d.RecordEvery; len(buf) > 0; wait *= 2 {
		err := r.record(ctx, buf)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			// Their rows stay claimed until the lease ends, and are sent again then.
			r.d.Log.Error("record reminder results", "rows", len(buf), "err", err)
			return
		case <-time.After(wait):
		}
	}
}

// record commits one batch of results.
func (r *recorder) record(ctx context.Context, buf []store.Outcome) error {
	began := time.Now()
	stale, err := r.d.Store.RecordOutcomes(ctx, buf)
	if err != nil {
		return err
	}
	r.d.Metrics.Recorded(len(buf), time.Since(began))
	if len(stale) > 0 {
		// Another dispatcher recorded them first: its lease had expired.
		r.d.Log.Warn("reminder results already recorded", "rows", len(stale), "reminder_id", stale[0])
	}
	return nil
}

// deliver sends one claimed reminder, or skips it, and returns the result to
// record.
func (d *Dispatcher) deliver(ctx context.Context, j claimed) store.Outcome {
	r := j.r
	now := d.Now()
	skip := func(reason string) store.Outcome {
		d.Metrics.Skipped(r.Kind, reason)
		return store.Outcome{ID: r.ID, Status: store.ReminderSkipped, Reason: reason}
	}
	if now.Sub(r.DueAt) > Stale {
		return skip("stale")
	}
	if j.sub.err != nil {
		return d.fail(r, j.sub.err)
	}
	msg, ch, reason, err := d.compose(r, j.sub.Subjects, j.sub.programs)
	if err != nil {
		return d.fail(r, err)
	}
	if reason != "" {
		return skip(reason)
	}
	if j.overQuota {
		return skip(SkipQuota)
	}
	// Delivery is at least once: a crash between a send and the commit of
	// its result sends again. The reminder's dedupe key goes with every
	// message (webhook "tag", Web Push Topic, email Message-ID) so a
	// receiver can tell a repeat from a new reminder.
	msg.Tag = r.DedupeKey
	n, err := d.Notifier(ctx, ch)
	if err != nil {
		return d.fail(r, &notify.Error{Channel: ch.Type, Err: err}) // bad channel settings: permanent
	}
	if err := n.Send(ctx, msg); err != nil {
		if notify.Gone(err) {
			if derr := d.Store.DeleteChannel(ctx, ch.ID); derr != nil {
				d.Log.Warn("delete gone channel", "channel_id", ch.ID, "err", derr)
			}
		}
		return d.fail(r, err)
	}
	// Lateness is what the recipient sees: the send's end against the due
	// time, not against the claim or the commit of the result.
	sent := d.Now()
	d.Metrics.Sent(r.Kind, sent.Sub(r.DueAt))
	return store.Outcome{ID: r.ID, Status: store.ReminderSent, At: sent}
}

// fail retries a temporary error with capped exponential backoff and jitter,
// and gives up on a permanent one or after MaxAttempts.
func (d *Dispatcher) fail(r store.Reminder, err error) store.Outcome {
	msg := err.Error()
	if notify.Temporary(err) && r.Attempts < d.MaxAttempts {
		backoff := min(30*time.Second<<min(r.Attempts-1, 10), time.Hour)
		backoff = time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		d.Metrics.Retried(r.Kind)
		return store.Outcome{ID: r.ID, Status: store.ReminderPending, At: d.Now().Add(backoff), Error: msg}
	}
	d.Metrics.Failed(r.Kind)
	// The error's class and text, never the message or its recipient: the
	// channels' errors leave URLs (which may carry tokens) and SMTP replies'
	// texts out.
	class := "permanent"
	switch {
	case notify.Gone(err):
		class = "gone"
	case notify.Temporary(err):
		class = "temporary, attempts exhausted"
	}
	d.Log.Warn("reminder failed", "reminder_id", r.ID, "kind", r.Kind, "attempts", r.Attempts,
		"error_class", class, "error", msg)
	return store.Outcome{ID: r.ID, Status: store.ReminderFailed, Error: msg}
}

// compose words the message from the state of its subject read with its
// batch, or names why it must not go: the session was checked in or
// cancelled, the channel removed. The subjects are read after the claim,
// so a check-in is seen unless it comes while the batch waits to be sent.
func (d *Dispatcher) compose(r store.Reminder, sub store.Subjects, progs map[int64]*programs.Program) (notify.Message, store.Channel, string, error) {
	ch, ok := sub.Channels[r.ChannelID]
	if !ok {
		return notify.Message{}, ch, "channel_removed", nil
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
		set, ok := sub.Settings[ch.PatientID]
		if !ok {
			set = store.DefaultNotifySettings(ch.PatientID)
		}
		return ConfirmMessage(i18n.For(i18n.Parse(set.Language)), url), ch, "", nil
	case KindSession, KindNudge:
		s, ok := sub.Sessions[r.SessionID]
		if !ok {
			return notify.Message{}, ch, "cancelled", nil
		}
		switch s.Status {
		case programs.Cancelled:
			return notify.Message{}, ch, "cancelled", nil
		case programs.Done, programs.Partial, programs.Skipped:
			return notify.Message{}, ch, "checked_in", nil
		}
		p, ok := sub.Patients[s.PatientID]
		if !ok {
			return notify.Message{}, ch, "", errors.New("the session's patient is missing")
		}
		set, ok := sub.Settings[p.ID]
		if !ok {
			set = store.DefaultNotifySettings(p.ID)
		}
		cat := i18n.For(i18n.Parse(set.Language))
		name := cat.ActivityName(progs[s.AssignmentID], s.Activity)
		link := d.CheckinURL(p)
		var done *notify.Done
		if d.SessionURL != nil {
			own := d.SessionURL(p, s)
			done = &notify.Done{Label: cat.Text("reminder.done", nil), URL: own, Confirmed: cat.Text("reminder.done_recorded", nil)}
			if ch.Type != store.ChannelWebPush {
				link = own
			}
		}
		m := SessionMessage(cat, r.Kind, r.DedupeKey, name, s.Unit, s.Dose, s.Sets, link)
		m.Done = done
		return m, ch, "", nil
	}
	var m notify.Message
	if err := jsonUnmarshal(r.Payload, &m); err != nil || m.Title == "" {
		return m, ch, "", errors.New("reminder has no message")
	}
	return m, ch, "", nil
}

// loadPrograms reads the program snapshots of the sessions' assignments,
// one read for the batch (the store decodes each distinct snapshot once).
// They are read with each batch, not kept by assignment ID: a process
// serving a million patients would keep millions, and on SQLite a new
// assignment can take the ID of one deleted with its erased patient. A snapshot that cannot be read
// leaves the activity's id in place of its name.
func (d *Dispatcher) loadPrograms(ctx context.Context, sessions map[int64]store.Session) map[int64]*programs.Program {
	ids := make([]int64, 0, len(sessions))
	for _, s := range sessions {
		ids = append(ids, s.AssignmentID)
	}
	if len(ids) == 0 {
		return nil
	}
	progs, err := d.Store.AssignmentPrograms(ctx, ids)
	if err != nil {
		d.Log.Warn("read programs", "err", err)
		return nil
	}
	return progs
}
