package scheduler_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pacer/internal/metrics"
	"pacer/internal/reminderload"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/notify"
	"pacer/notify/webhook"
	"pacer/scheduler"
)

// childEnv, when set, makes the test binary a dispatcher process (see
// dispatchChild) instead of running the tests: TestCrashBetweenSendAndRecord
// kills it with SIGKILL.
const childEnv = "PACER_TEST_DISPATCH_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		if err := dispatchChild(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "dispatch child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childConfig is what the dispatcher process is told.
type childConfig struct {
	DSN         string
	CertFile    string // the sink's certificate
	Lease       time.Duration
	Batch       int
	Workers     int
	RecordBatch int
	RecordEvery time.Duration
}

// dispatchChild runs a dispatcher on the store until it is killed (or a
// minute has passed, so that a lost child does not linger).
func dispatchChild(raw string) error {
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, c.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	pem, err := os.ReadFile(c.CertFile)
	if err != nil {
		return err
	}
	d := newDispatcher(st, pem, time.Now, nil)
	d.Lease, d.Batch, d.Workers, d.RecordBatch, d.RecordEvery = c.Lease, c.Batch, c.Workers, c.RecordBatch, c.RecordEvery
	return d.Run(ctx)
}

// newDispatcher is a dispatcher as serve wires it, whose webhooks trust the
// sink's certificate; m may be nil.
func newDispatcher(st *store.Store, certPEM []byte, now func() time.Time, m *metrics.Reminders) *scheduler.Dispatcher {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	allow, err := notify.ParseAllowList("127.0.0.1") // notify.allow_private: the sink is on loopback
	if err != nil {
		panic(err)
	}
	chs := &scheduler.Channels{Webhook: webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: allow}}
	d := &scheduler.Dispatcher{Store: st, Notifier: chs.Notifier, Now: now,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		CheckinURL: func(p store.Patient) string { return fmt.Sprintf("https://pacer.example/c/%x", p.CheckinNonce) }}
	if m != nil {
		d.Metrics = m
	}
	return d
}

// forEachDSN runs f on a fresh SQLite file (its path), and on a fresh
// PostgreSQL schema (skipped, visibly, unless PACER_TEST_POSTGRES_URL is set).
func forEachDSN(t *testing.T, f func(t *testing.T, dsn string)) {
	testkit.Stores(t, func(t *testing.T, dsn string) { f(t, strings.TrimPrefix(dsn, "sqlite:")) })
}

// seeded is n patients with one webhook reminder each, due at due, going to
// a new sink, and the store opened on them.
func seeded(t *testing.T, dsn string, n int, due time.Time) (*store.Store, *reminderload.Sink) {
	t.Helper()
	sink, err := reminderload.NewSink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	if err := reminderload.SeedAt(t.Context(), dsn, reminderload.Seed{Patients: n, Due: due, HookURL: sink.URL}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, sink
}

// outbox returns the seeded reminders by patient (whose id is also their
// session's and channel's).
func outbox(t *testing.T, st *store.Store, n int) map[int64]store.Reminder {
	t.Helper()
	out := map[int64]store.Reminder{}
	for id := range int64(n) {
		rs, err := st.Reminders(t.Context(), id+1, time.Time{})
		if err != nil || len(rs) != 1 {
			t.Fatalf("patient %d reminders: %v, %v", id+1, rs, err)
		}
		out[id+1] = rs[0]
	}
	return out
}

func counts(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	c, err := st.ReminderCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitCounts waits (at most a minute, then fails) until the outbox has want
// rows of status.
func waitCounts(t *testing.T, st *store.Store, status string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for counts(t, st)[status] != want {
		if time.Now().After(deadline) {
			t.Fatalf("outbox %v, waited for %d %s", counts(t, st), want, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The crash the outbox is designed for: a dispatcher process is killed
// (SIGKILL) after some sends were answered but before their results were
// committed. Its successor, once the leases expire, sends every reminder
// that was not recorded — the answered-but-unrecorded ones again, each with
// its dedupe key — and none that was recorded. Nothing is lost.
func TestCrashBetweenSendAndRecord(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		const (
			patients    = 60
			answered    = 23 // before the crash
			workers     = 2
			recordBatch = 5 // so 20 are recorded, the last 3 answered not
			lease       = time.Hour
		)
		st, sink := seeded(t, dsn, patients, time.Now().Add(-time.Minute))
		sink.HoldAfter(answered)
		certFile := filepath.Join(t.TempDir(), "sink.pem")
		if err := os.WriteFile(certFile, sink.CertPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		// The child records when 5 results wait, never on a timer.
		cfg, _ := json.Marshal(childConfig{DSN: dsn, CertFile: certFile, Lease: lease, Batch: 10, Workers: workers,
			RecordBatch: recordBatch, RecordEvery: time.Hour})
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), childEnv+"="+string(cfg))
		var stderr bytes.Buffer
		child.Stderr = &stderr
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		var waitErr error
		exited := make(chan struct{})
		go func() { waitErr = child.Wait(); close(exited) }()
		t.Cleanup(func() {
			child.Process.Kill()
			<-exited
		})

		// Both workers wait on a send the sink holds; 23 were answered, 20
		// recorded.
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := sink.Wait(wctx, answered); err != nil {
			t.Fatalf("%v; child: %s", err, stderr.String())
		}
		if err := sink.WaitHeld(wctx, workers); err != nil {
			t.Fatal(err)
		}
		waitCounts(t, st, store.ReminderSent, answered/recordBatch*recordBatch)
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		if waitErr == nil || !strings.Contains(waitErr.Error(), "killed") {
			t.Fatalf("the child ended with %v, not killed; stderr: %s", waitErr, stderr.String())
		}
		if err := sink.WaitAbandoned(wctx, workers); err != nil { // so that Release cannot answer them
			t.Fatal(err)
		}
		before := outbox(t, st, patients)
		recorded := map[int64]bool{}
		for id, r := range before {
			if r.Status == store.ReminderSent {
				recorded[id] = true
			}
		}
		answeredBefore := map[int64]bool{}
		for _, a := range sink.Arrivals() {
			answeredBefore[a.Patient] = true
		}
		for id := range recorded {
			if !answeredBefore[id] {
				t.Errorf("reminder of patient %d recorded sent, never answered", id)
			}
		}
		if len(recorded) != 20 || len(answeredBefore) != answered {
			t.Fatalf("at the crash: %d answered, %d recorded; want %d and 20", len(answeredBefore), len(recorded), answered)
		}

		// The successor, after the leases ended.
		sink.Release()
		later := func() time.Time { return time.Now().Add(lease + time.Minute) }
		d := newDispatcher(st, sink.CertPEM, later, nil)
		for {
			n, err := d.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if c := counts(t, st); c[store.ReminderSent] != patients {
			t.Errorf("outbox after the successor: %v, want all %d sent", c, patients)
		}
		got := map[int64]int{}
		for _, a := range sink.Arrivals() {
			got[a.Patient]++
			if want := before[a.Patient].DedupeKey; a.Key != want {
				t.Errorf("patient %d got a reminder keyed %q, want its dedupe key %q", a.Patient, a.Key, want)
			}
		}
		duplicates := 0
		for id := range int64(patients) {
			id++
			want := 1
			if answeredBefore[id] && !recorded[id] {
				want = 2 // answered, then the crash before its record
			}
			if got[id] != want {
				t.Errorf("patient %d reminded %d times, want %d (answered before the crash %v, recorded %v)",
					id, got[id], want, answeredBefore[id], recorded[id])
			}
			duplicates += got[id] - 1
		}
		t.Logf("%d reminders: %d answered before the crash, %d of them recorded; %d sends held and abandoned; %d duplicates after the restart",
			patients, answered, len(recorded), sink.Abandoned(), duplicates)
	})
}

// Results are committed in groups: 200 sends, groups of 50, four commits.
func TestDispatchRecordsInBatches(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		const n, batch = 200, 50
		st, sink := seeded(t, dsn, n, time.Now().Add(-time.Second))
		reg := metrics.NewRegistry()
		d := newDispatcher(st, sink.CertPEM, time.Now, metrics.NewReminders(reg))
		d.Batch, d.Workers, d.RecordEvery = batch, 4, time.Hour // RecordBatch follows Batch
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); d.Run(ctx) }()
		defer func() { cancel(); <-done }()
		wctx, stop := context.WithTimeout(ctx, time.Minute)
		defer stop()
		if err := sink.Wait(wctx, n); err != nil {
			t.Fatal(err)
		}
		waitCounts(t, st, store.ReminderSent, n)
		if res := sink.Result(time.Now()); res.Duplicates != 0 || res.Received != n {
			t.Errorf("sink saw %+v", res)
		}
		commits, rows := histogram(t, reg, "pacer_reminder_record_rows")
		if commits != n/batch || rows != n {
			t.Errorf("%d results in %d commits, want %d in %d", int(rows), commits, n, n/batch)
		}
		if sent, _ := histogram(t, reg, "pacer_reminder_lateness_seconds"); sent != n {
			t.Errorf("lateness observed %d times, want %d", sent, n)
		}
	})
}

// Lateness is from the due time to the send, whatever attempt it is: a
// reminder retried after a temporary error counts from its due time, not
// from its retry.
func TestLatenessIsFromTheDueTime(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		due := time.Now().Truncate(time.Second).Add(-time.Hour)
		st, sink := seeded(t, dsn, 3, due)
		first, err := st.ClaimDue(ctx, due, time.Minute, 1)
		if err != nil || len(first) != 1 {
			t.Fatalf("claimed %v, %v", first, err)
		}
		if err := st.MarkRetry(ctx, first[0].ID, due.Add(40*time.Second), "503 from the receiver"); err != nil {
			t.Fatal(err)
		}
		now := due.Add(90 * time.Second)
		reg := metrics.NewRegistry()
		d := newDispatcher(st, sink.CertPEM, func() time.Time { return now }, metrics.NewReminders(reg))
		if n, err := d.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		count, sum := histogram(t, reg, "pacer_reminder_lateness_seconds")
		if count != 3 || sum != 3*90 {
			t.Errorf("lateness: %d observations summing to %v s, want 3 of 90 s", count, sum)
		}
		for _, r := range outbox(t, st, 3) {
			if r.Status != store.ReminderSent || !r.SentAt.Equal(now) {
				t.Errorf("reminder %d: %s at %v, want sent at %v", r.ID, r.Status, r.SentAt, now)
			}
		}
	})
}

// Stopping: the sends in flight finish and are recorded; rows claimed but
// not yet sent go back to pending with their attempt taken back.
func TestDispatchStopReleasesWhatItDidNotSend(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		const n, answered, workers = 50, 5, 2
		st, sink := seeded(t, dsn, n, time.Now().Add(-time.Second))
		sink.HoldAfter(answered)
		d := newDispatcher(st, sink.CertPEM, time.Now, nil)
		d.Batch, d.Workers = 20, workers
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		wctx, stop := context.WithTimeout(t.Context(), time.Minute)
		defer stop()
		if err := sink.WaitHeld(wctx, workers); err != nil {
			t.Fatal(err)
		}
		claimed := counts(t, st)[store.ReminderSending]
		cancel()
		sink.Release() // the two sends in flight are answered
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c := counts(t, st)
		if c[store.ReminderSent] != answered+workers || c[store.ReminderPending] != n-answered-workers || c[store.ReminderSending] != 0 {
			t.Errorf("outbox after the stop: %v; want %d sent, the rest pending", c, answered+workers)
		}
		for _, r := range outbox(t, st, n) {
			if r.Status == store.ReminderPending && r.Attempts != 0 {
				t.Errorf("released reminder %d counts %d attempts", r.ID, r.Attempts)
			}
		}
		if res := sink.Result(time.Now()); res.Received != answered+workers {
			t.Errorf("sink saw %+v", res)
		}
		t.Logf("%d claimed at the stop: %d sent, %d released", claimed, answered+workers, claimed-answered-workers)
	})
}

// A row whose lease ends while it waits behind slow sends is not sent by
// the dispatcher that claimed it (another may have claimed it since): it is
// sent once, by the next claim.
func TestDispatchDoesNotSendPastTheLease(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		const n = 5
		t0 := time.Now().Truncate(time.Millisecond)
		st, sink := seeded(t, dsn, n, t0.Add(-time.Second))
		sink.HoldAfter(0)
		var clock struct {
			sync.Mutex
			t time.Time
		}
		clock.t = t0
		now := func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.t }
		d := newDispatcher(st, sink.CertPEM, now, nil)
		d.Workers, d.Lease = 1, time.Minute
		done := make(chan int, 1)
		go func() { n, _ := d.RunOnce(ctx); done <- n }()
		wctx, stop := context.WithTimeout(ctx, time.Minute)
		defer stop()
		if err := sink.WaitHeld(wctx, 1); err != nil { // the first send is slow; four rows wait
			t.Fatal(err)
		}
		clock.Lock()
		clock.t = t0.Add(time.Minute)
		clock.Unlock()
		sink.Release()
		if claimed := <-done; claimed != n {
			t.Fatalf("claimed %d, want %d", claimed, n)
		}
		if c := counts(t, st); c[store.ReminderSent] != 1 || c[store.ReminderSending] != n-1 {
			t.Errorf("outbox %v, want 1 sent and %d left to their lease", c, n-1)
		}
		if got, err := d.RunOnce(ctx); err != nil || got != n-1 {
			t.Errorf("the next claim took %d, %v; want the %d expired", got, err, n-1)
		}
		if res := sink.Result(t0); res.Received != n || res.Duplicates != 0 {
			t.Errorf("sink saw %+v, want each reminder once", res)
		}
	})
}

// A commit that fails is tried again, not dropped, while the dispatcher
// waits rather than sends on.
func TestDispatchRetriesAFailedRecord(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		const n = 30
		st, sink := seeded(t, dsn, n, time.Now().Add(-time.Second))
		db, err := reminderload.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The store refuses to mark rows sent until the trigger is dropped.
		create, drop := []string{`CREATE TRIGGER refuse BEFORE UPDATE ON reminders WHEN NEW.status = 'sent'
			BEGIN SELECT RAISE(ABORT, 'refused'); END`}, `DROP TRIGGER refuse`
		if reminderload.IsPostgres(dsn) {
			create = []string{`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'refused'; END $$`,
				`CREATE TRIGGER refuse BEFORE UPDATE ON reminders FOR EACH ROW WHEN (NEW.status = 'sent')
				EXECUTE FUNCTION refuse()`}
			drop += ` ON reminders`
		}
		for _, q := range create {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		var logs syncBuffer
		d := newDispatcher(st, sink.CertPEM, time.Now, nil)
		d.Log = slog.New(slog.NewTextHandler(&logs, nil))
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); d.Run(runCtx) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(logs.String(), "refused") {
			if time.Now().After(deadline) {
				t.Fatalf("no failed record logged: %s", logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if c := counts(t, st); c[store.ReminderSent] != 0 {
			t.Fatalf("outbox %v while the store refuses", c)
		}
		if _, err := db.ExecContext(ctx, drop); err != nil {
			t.Fatal(err)
		}
		waitCounts(t, st, store.ReminderSent, n)
		if res := sink.Result(time.Now()); res.Duplicates != 0 || res.Reminders != n {
			t.Errorf("sink saw %+v", res)
		}
	})
}

// histogram returns a histogram's observations and their sum, over its
// label values.
func histogram(t *testing.T, reg *metrics.Registry, name string) (count int, sum float64) {
	t.Helper()
	families, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			count, sum = count+int(h.GetSampleCount()), sum+h.GetSampleSum()
		}
		return count, sum
	}
	return 0, 0
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
