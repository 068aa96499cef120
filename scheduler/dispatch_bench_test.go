package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"pacer/internal/clinic"
	"pacer/internal/reminderload"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/notify/webhook"
	"pacer/scheduler"
)

// benchPatients is the benchmark's size: PACER_BENCH_PATIENTS, default
// 2,000 so that `go test -bench` stays quick. scripts/reminder-load runs the
// 100,000-patient size against the pacer binary.
func benchPatients(tb testing.TB) int {
	raw := os.Getenv("PACER_BENCH_PATIENTS")
	if raw == "" {
		return 2000
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		tb.Fatalf("PACER_BENCH_PATIENTS=%q: want a positive number of patients", raw)
	}
	return n
}

// loadRig is a dispatcher, wired as `pacer serve` wires it, over a store
// (SQLite, or PostgreSQL) of n seeded patients whose webhooks go to a local
// HTTPS sink.
type loadRig struct {
	n     int
	path  string
	sink  *reminderload.Sink
	store *store.Store
	d     *scheduler.Dispatcher
	stop  func()
	peak  *memPeak
}

func newLoadRig(tb testing.TB, path string, n int) *loadRig {
	ctx := context.Background()
	sink, err := reminderload.NewSink()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sink.Close() })
	if err := reminderload.SeedAt(ctx, path, reminderload.Seed{Patients: n, Due: time.Now().Add(time.Hour),
		HookURL: sink.URL, Zone: "Europe/Berlin"}); err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	tr, err := sink.Transport()
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := clinic.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	// What serve builds: the channels from the configuration (here a client
	// that trusts the sink, with net/http's default transport settings) and
	// the check-in link derived from the patient's nonce.
	allow, err := notify.ParseAllowList("127.0.0.1") // notify.allow_private: the sink is on loopback
	if err != nil {
		tb.Fatal(err)
	}
	chs := &scheduler.Channels{Webhook: webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: allow}}
	d := &scheduler.Dispatcher{Store: st, Notifier: chs.Notifier, Now: time.Now,
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		CheckinURL: func(p store.Patient) string { return "https://pacer.example/c/" + keys.CheckinToken(p.CheckinNonce) }}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(runCtx) }()
	peak := watchMemory()
	stop := func() { cancel(); <-done; peak.stop() }
	tb.Cleanup(stop)
	return &loadRig{n: n, path: path, sink: sink, store: st, d: d, stop: stop, peak: peak}
}

// drain makes every reminder due at a moment just ahead, wakes the
// dispatcher (as a plan written with new reminders does) and waits until the
// sink has seen every patient. The time before the due moment is outside
// the benchmark timer when tb is a *testing.B.
func (r *loadRig) drain(tb testing.TB, timeout time.Duration) reminderload.Result {
	ctx := context.Background()
	due := time.Now().Add(200 * time.Millisecond)
	if err := reminderload.Rearm(ctx, r.path, due); err != nil {
		tb.Fatal(err)
	}
	r.d.Wake()
	b, _ := tb.(*testing.B)
	if b != nil {
		time.Sleep(time.Until(due))
		b.StartTimer()
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.sink.Wait(wctx, r.n)
	if b != nil {
		b.StopTimer()
	}
	res := r.sink.Result(due)
	if err != nil {
		tb.Fatalf("%v; sink saw %+v", err, res)
	}
	// The last send is recorded after its webhook answered.
	for range 100 {
		counts, err := r.store.ReminderCounts(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if counts[store.ReminderSent] == r.n {
			return res
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts, _ := r.store.ReminderCounts(ctx)
	tb.Fatalf("reminders by status %v, want %d sent", counts, r.n)
	return res
}

// memPeak samples the Go runtime's memory every 50 ms and keeps the peaks.
type memPeak struct {
	mu             sync.Mutex
	heapInuse, sys uint64
	stopOnce       sync.Once
	quit, done     chan struct{}
}

func watchMemory() *memPeak {
	p := &memPeak{quit: make(chan struct{}), done: make(chan struct{})}
	p.reset()
	go func() {
		defer close(p.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.sample()
			}
		}
	}()
	return p
}

func (p *memPeak) sample() {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	p.mu.Lock()
	p.heapInuse, p.sys = max(p.heapInuse, m.HeapInuse), max(p.sys, m.Sys)
	p.mu.Unlock()
}

// reset starts a new peak from the current memory.
func (p *memPeak) reset() {
	p.mu.Lock()
	p.heapInuse, p.sys = 0, 0
	p.mu.Unlock()
	p.sample()
}

func (p *memPeak) get() (heapInuse, sys uint64) {
	p.sample()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heapInuse, p.sys
}

func (p *memPeak) stop() { p.stopOnce.Do(func() { close(p.quit); <-p.done }) }

// vmHWM is the process's peak resident set (Linux), or 0.
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// TestDispatchDrainsManyDue is the benchmark's check at a small size: every
// patient gets exactly one well-formed webhook, every row ends sent.
func TestDispatchDrainsManyDue(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds and drains 300 patients")
	}
	forEachDSN(t, func(t *testing.T, dsn string) {
		r := newLoadRig(t, dsn, 300)
		res := r.drain(t, time.Minute)
		if res.Patients != 300 || res.Duplicates != 0 || res.Bad != 0 || res.Received != 300 {
			t.Errorf("sink saw %+v; want 300 patients once each", res)
		}
		if res.First < 0 {
			t.Errorf("a reminder arrived %v before it was due", -res.First)
		}
		t.Logf("300 reminders: first %v, p50 %v, p99 %v, last %v after due", res.First, res.P50, res.P99, res.Max)
	})
}

// BenchmarkDispatch drains PACER_BENCH_PATIENTS reminders, all due at one
// instant, through the dispatcher to a local HTTPS webhook sink, on SQLite
// and (with PACER_TEST_POSTGRES_URL) PostgreSQL. An operation is one drain,
// timed from the due instant to the last arrival; the metrics are the
// lateness percentiles (arrival minus due) and the peak Go heap in use and
// memory obtained from the OS (which include the sink's).
//
//	PACER_BENCH_PATIENTS=100000 go test -run '^$' -bench Dispatch -benchtime 1x ./scheduler
func BenchmarkDispatch(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchmarkDispatch(b, filepath.Join(b.TempDir(), "pacer.db")) })
	if base := os.Getenv("PACER_TEST_POSTGRES_URL"); base != "" {
		b.Run("postgres", func(b *testing.B) {
			dsn, drop, err := reminderload.PostgresSchema(context.Background(), base)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { drop() })
			benchmarkDispatch(b, dsn)
		})
	}
}

func benchmarkDispatch(b *testing.B, dsn string) {
	n := benchPatients(b)
	r := newLoadRig(b, dsn, n)
	runtime.GC()
	r.peak.reset()
	b.StopTimer()
	b.ResetTimer()
	var p50, p99, last time.Duration
	for range b.N {
		res := r.drain(b, 10*time.Minute)
		p50, p99, last = p50+res.P50, p99+res.P99, last+res.Max
	}
	heap, sys := r.peak.get()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(float64(n), "reminders/op")
	b.ReportMetric(ms(p50), "p50-late-ms")
	b.ReportMetric(ms(p99), "p99-late-ms")
	b.ReportMetric(ms(last)/1000, "drain-s")
	b.ReportMetric(float64(n)/(ms(last)/1000), "sent/s")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(sys)/(1<<20), "peak-sys-MB")
	b.ReportMetric(vmHWM(), "VmHWM-MB")
}

// BenchmarkCronPerPatient is what pacer does not do: one robfig/cron entry
// per patient, at the patient's own minute in the patient's own zone. An
// operation registers PACER_BENCH_PATIENTS entries and starts the cron (which
// computes every entry's next run); the heap they hold is reported.
func BenchmarkCronPerPatient(b *testing.B) {
	n := benchPatients(b)
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"}
	specs := make([]string, n)
	for i := range specs {
		m := (i * 7) % (24 * 60)
		specs[i] = fmt.Sprintf("CRON_TZ=%s %d %d * * *", zones[i%len(zones)], m%60, m/60)
	}
	var fired atomic.Int64 // what an entry would do: remind its patient
	remind := func(patient int64) { fired.Add(patient) }
	var register, start time.Duration
	var held uint64
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		c := cron.New()
		for i, spec := range specs {
			patient := int64(i + 1)
			if _, err := c.AddFunc(spec, func() { remind(patient) }); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		c.Start()
		if got := len(c.Entries()); got != n { // answered once the run loop has scheduled every entry
			b.Fatalf("%d entries", got)
		}
		t2 := time.Now()
		runtime.GC()
		runtime.ReadMemStats(&after)
		register, start = register+t1.Sub(t0), start+t2.Sub(t1)
		held += after.HeapInuse - min(before.HeapInuse, after.HeapInuse)
		<-c.Stop().Done()
		runtime.KeepAlive(c)
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(float64(n), "entries/op")
	b.ReportMetric(per(register), "register-ms")
	b.ReportMetric(per(start), "start-ms")
	b.ReportMetric(float64(held)/float64(b.N)/(1<<20), "heap-held-MB")
	b.ReportMetric(float64(held)/float64(b.N)/float64(n), "B/entry")
}
