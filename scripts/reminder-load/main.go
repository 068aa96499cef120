// Command reminder-load measures `pacer serve` delivering reminders at scale:
// 100,000 patients on SQLite, each with a webhook channel and a session
// reminder due in the same minute, delivered to a local HTTPS webhook sink.
//
// It builds pacer, seeds a fresh store in a temporary directory
// (internal/reminderload), starts the sink in this process and pacer as a
// second process (trusting the sink's certificate through SSL_CERT_FILE),
// and reports as Markdown:
//
//   - pacer's start-up on the 100,000-patient store, from exec to the
//     "pacer listening" line and to /readyz answering 200: once before the
//     reminders fall due, and again, several times, after they were sent;
//   - the time to drain every reminder (the last arrival minus the due
//     time), the p50 and p99 lateness, duplicates and errors;
//   - pacer's peak resident memory (VmHWM from /proc/PID/status);
//   - for comparison, one robfig/cron/v3 entry per patient (what pacer does
//     not do), registered in a child process: time and memory.
//
// Usage (from the module root):
//
//	go run ./scripts/reminder-load [-patients 100000] [-restarts 5] [-pacer BINARY] [-keep]
//
// It stops by itself and removes what it made, unless -keep.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"pacer/internal/reminderload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reminder-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reminder-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	patients := fs.Int("patients", 100000, "patients, each with one reminder due in the same minute")
	restarts := fs.Int("restarts", 5, "start-ups to time on the store after the drain")
	binary := fs.String("pacer", "", "the pacer binary (default: built from ./cmd/pacer)")
	keep := fs.Bool("keep", false, "keep the temporary directory (store, logs)")
	cronChild := fs.Int("cron-child", 0, "internal: register this many cron entries and print the figures as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cronChild > 0 {
		return cronEntries(*cronChild, stdout)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "reminder-load: "+format+"\n", a...) }

	tmp, err := os.MkdirTemp("", "reminder-load-")
	if err != nil {
		return err
	}
	if *keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if *binary == "" {
		logf("building pacer")
		*binary = filepath.Join(tmp, "pacer")
		build := exec.CommandContext(ctx, "go", "build", "-o", *binary, "./cmd/pacer")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build pacer: %w", err)
		}
	}

	sink, err := reminderload.NewSink()
	if err != nil {
		return err
	}
	defer sink.Close()
	certFile := filepath.Join(tmp, "sink.pem")
	if err := os.WriteFile(certFile, sink.CertPEM, 0o600); err != nil {
		return err
	}

	// Due at a whole minute (sessions are at minutes), far enough ahead for
	// seeding (about 5 s per 100,000 patients here) and a start-up.
	zone := quietZone(time.Now())
	due := time.Now().Add(20*time.Second + time.Duration(*patients)*100*time.Microsecond).Truncate(time.Minute).Add(time.Minute)
	db := filepath.Join(tmp, "pacer.db")
	logf("seeding %d patients in %s, reminders due at %s", *patients, zone, due.Format(time.TimeOnly))
	t0 := time.Now()
	if err := reminderload.SeedSQLite(ctx, db, reminderload.Seed{Patients: *patients, Due: due, HookURL: sink.URL,
		Zone: zone, JobsRanAt: time.Now()}); err != nil {
		return err
	}
	seeded := time.Since(t0)
	info, err := os.Stat(db)
	if err != nil {
		return err
	}
	logf("seeded in %v (%.0f MB)", seeded.Round(time.Millisecond), float64(info.Size())/1e6)
	if time.Until(due) < 5*time.Second {
		return fmt.Errorf("seeding ended %v before the due time; too late to start pacer first", time.Until(due))
	}

	// The seeded patients' links are made with no key in particular; pacer
	// makes none for a database that has patients, so the key comes first.
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(tmp, "secret.key"), key, 0o600); err != nil {
		return err
	}
	// The sink listens on 127.0.0.1, which pacer reaches only when told to.
	env := append(os.Environ(), "STATE_DIRECTORY="+tmp, "SSL_CERT_FILE="+certFile, "PACER_LOG_LEVEL=warn",
		"PACER_NOTIFY_ALLOW_PRIVATE=127.0.0.1")
	d, err := start(ctx, *binary, db, env, filepath.Join(tmp, "serve-0.log"))
	if err != nil {
		return err
	}
	defer d.stop()
	cold := d.startup
	logf("started in %v (listening %v); waiting %v for the due time", cold.ready.Round(time.Millisecond),
		cold.listening.Round(time.Millisecond), time.Until(due).Round(time.Second))

	wctx, cancel := context.WithDeadline(ctx, due.Add(5*time.Minute))
	defer cancel()
	go func() { // a pacer that dies ends the wait
		select {
		case <-d.exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	probes := make(chan []time.Duration, 1)
	go func() { probes <- d.probeReady(wctx, due) }()
	if err := sink.Wait(wctx, *patients); err != nil {
		return fmt.Errorf("drain: %w (pacer's log: %s)", err, d.log)
	}
	res := sink.Result(due)
	cancel()
	ready := <-probes
	time.Sleep(time.Second) // the last rows are recorded after their webhook answered
	hwm, rss := procStatus(d.cmd.Process.Pid, "VmHWM:"), procStatus(d.cmd.Process.Pid, "VmRSS:")
	sent, failed, retried := d.metric("pacer_reminders_sent_total"), d.metric("pacer_reminders_failed_total"),
		d.metric("pacer_reminders_retried_total")
	if err := d.stop(); err != nil {
		return err
	}
	counts, err := reminderload.Counts(ctx, db)
	if err != nil {
		return err
	}
	logf("drained in %v; reminders by status %v", res.Max.Round(time.Millisecond), counts)

	var warm []startup
	for i := range *restarts {
		d, err := start(ctx, *binary, db, env, filepath.Join(tmp, fmt.Sprintf("serve-%d.log", i+1)))
		if err != nil {
			return err
		}
		warm = append(warm, d.startup)
		if err := d.stop(); err != nil {
			return err
		}
	}

	logf("registering %d robfig/cron entries in a child process", *patients)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, self, "-cron-child", strconv.Itoa(*patients)).Output()
	if err != nil {
		return fmt.Errorf("cron child: %w", err)
	}
	var cr cronResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return fmt.Errorf("cron child: %w", err)
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	median := func(get func(startup) time.Duration) (string, string) {
		if len(warm) == 0 {
			return "–", "–"
		}
		ds := make([]time.Duration, len(warm))
		for i, s := range warm {
			ds[i] = get(s)
		}
		slices.Sort(ds)
		return ms(ds[len(ds)/2]), ms(ds[len(ds)-1])
	}
	fmt.Fprintf(stdout, "\npacer serve, %d patients on SQLite (%.0f MB), one webhook reminder each due at %s, %s;\n",
		*patients, float64(info.Size())/1e6, due.UTC().Format("15:04 MST"), zone)
	fmt.Fprintf(stdout, "webhook sink: HTTPS on 127.0.0.1 in this driver process, pacer in its own; %d cores (%s), %s\n\n", runtime.NumCPU(), runtime.GOARCH, runtime.Version())
	fmt.Fprintln(stdout, "| measure | result | aim |")
	fmt.Fprintln(stdout, "|---|---|---|")
	fmt.Fprintf(stdout, "| all %d delivered, due → last arrival | %s (%.0f reminders/s) | within 60 s |\n",
		*patients, sec(res.Max), float64(*patients)/res.Max.Seconds())
	fmt.Fprintf(stdout, "| lateness p50 / p99 (first arrival) | %s / %s (%s) | |\n", sec(res.P50), sec(res.P99), ms(res.First))
	fmt.Fprintf(stdout, "| duplicates / malformed / failed / retried | %d / %d / %.0f / %.0f (sent_total %.0f; rows sent %d) | 0 |\n",
		res.Duplicates, res.Bad, failed, retried, sent, counts["sent"])
	if n := len(ready); n > 0 {
		slices.Sort(ready)
		fmt.Fprintf(stdout, "| /readyz during the drain, every 250 ms: p50 / max (%d probes) | %s / %s | |\n",
			n, fmt.Sprintf("%.1f ms", float64(ready[n/2])/1e6), fmt.Sprintf("%.1f ms", float64(ready[n-1])/1e6))
	}
	fmt.Fprintf(stdout, "| pacer peak RSS (VmHWM; VmRSS after the drain) | %s (%s) | under 300 MB |\n", hwm, rss)
	fmt.Fprintf(stdout, "| start-up before the due time: exec → listening / → /readyz 200 | %s / %s | under 2 s |\n",
		ms(cold.listening), ms(cold.ready))
	ml, xl := median(func(s startup) time.Duration { return s.listening })
	mr, xr := median(func(s startup) time.Duration { return s.ready })
	fmt.Fprintf(stdout, "| start-up after the drain, median (max) of %d: listening / /readyz 200 | %s (%s) / %s (%s) | under 2 s |\n",
		len(warm), ml, xl, mr, xr)
	fmt.Fprintf(stdout, "\n| one robfig/cron/v3 entry per patient (%d) | result |\n|---|---|\n", *patients)
	fmt.Fprintf(stdout, "| register (c.AddFunc each, CRON_TZ=zone m h * * *) | %s |\n", ms(cr.Register))
	fmt.Fprintf(stdout, "| start (next run of every entry computed and sorted) | %s |\n", ms(cr.Start))
	fmt.Fprintf(stdout, "| Go heap held by the entries | %.1f MB (%.0f bytes per entry) |\n", cr.HeapMB, cr.HeapMB*(1<<20)/float64(*patients))
	fmt.Fprintf(stdout, "| process peak RSS (VmHWM) | %s |\n", cr.VmHWM)
	return nil
}

// quietZone is a zone in which no local day begins in the next quarter hour,
// so that pacer's hourly review sweep (run for the patients whose local day
// has just begun) does not re-plan the seeded patients mid-run.
func quietZone(now time.Time) string {
	for _, z := range []string{"UTC", "Asia/Tokyo", "America/New_York"} {
		loc, err := time.LoadLocation(z)
		if err == nil && now.In(loc).Hour() != 0 && now.Add(15*time.Minute).In(loc).Hour() != 0 {
			return z
		}
	}
	return "UTC"
}

type startup struct{ listening, ready time.Duration }

type daemon struct {
	cmd     *exec.Cmd
	base    string
	log     string
	startup startup
	exited  chan struct{} // closed when pacer has exited, with err
	err     error
}

// start execs `pacer serve` on the store and times its start-up: exec to
// the "pacer listening on" line, and to /readyz answering 200.
func start(ctx context.Context, binary, db string, env []string, logPath string) (*daemon, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve", "--db", "sqlite:"+db, "--listen", "127.0.0.1:0")
	cmd.Env, cmd.Stderr = env, logFile
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pacer: %w", err)
	}
	d := &daemon{cmd: cmd, log: logPath, exited: make(chan struct{})}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "pacer listening on "); ok {
			d.startup.listening = time.Since(t0)
			d.base = strings.TrimSuffix(strings.Fields(rest)[0], "/")
			break
		}
	}
	go func() {
		io.Copy(io.Discard, out) // until pacer exits
		d.err = cmd.Wait()
		logFile.Close()
		close(d.exited)
	}()
	if d.base == "" {
		d.stop()
		return nil, fmt.Errorf("pacer did not say where it listens; see %s", logPath)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Since(t0) < 30*time.Second && ctx.Err() == nil {
		resp, err := client.Get(d.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				d.startup.ready = time.Since(t0)
				return d, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	d.stop()
	return nil, fmt.Errorf("pacer's /readyz did not answer 200 within 30 s; see %s", logPath)
}

// probeReady times GET /readyz every 250 ms from due until ctx ends: the
// health check (and systemd's watchdog, which pings the same store) while
// the dispatcher keeps the one SQLite writer busy. A failed probe counts as
// its time-out.
func (d *daemon) probeReady(ctx context.Context, due time.Time) []time.Duration {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(time.Until(due)):
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var out []time.Duration
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		t0 := time.Now()
		resp, err := client.Get(d.base + "/readyz")
		took := time.Since(t0)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				took = client.Timeout
			}
		} else if ctx.Err() != nil {
			return out
		} else {
			took = client.Timeout
		}
		out = append(out, took)
	}
}

// stop sends SIGTERM and waits for pacer to exit (SIGKILL after 20 s).
func (d *daemon) stop() error {
	select {
	case <-d.exited:
	default:
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		timer := time.AfterFunc(20*time.Second, func() { d.cmd.Process.Kill() })
		defer timer.Stop()
		<-d.exited
	}
	if d.err != nil {
		return fmt.Errorf("pacer exited: %w; see %s", d.err, d.log)
	}
	return nil
}

// metric sums a metric's samples from pacer's /metrics; -1 if unreadable.
func (d *daemon) metric(name string) float64 {
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 2 && (f[0] == name || strings.HasPrefix(f[0], name+"{")) {
			v, _ := strconv.ParseFloat(f[1], 64)
			sum += v
		}
	}
	return sum
}

// procStatus is a line's value from /proc/PID/status ("123456 kB" as MB).
func procStatus(pid int, key string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == key {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.1f MB", kb/1024)
		}
	}
	return "?"
}

type cronResult struct {
	Register, Start time.Duration
	HeapMB          float64
	VmHWM           string
}

// cronEntries registers one cron entry per patient at the patient's own
// local minute, starts the cron (which computes every entry's next run), and
// prints the figures as JSON.
func cronEntries(n int, stdout io.Writer) error {
	zones := []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"}
	specs := make([]string, n)
	for i := range specs {
		m := (i * 7) % (24 * 60)
		specs[i] = fmt.Sprintf("CRON_TZ=%s %d %d * * *", zones[i%len(zones)], m%60, m/60)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var fired atomic.Int64
	t0 := time.Now()
	c := cron.New()
	for i, spec := range specs {
		patient := int64(i + 1)
		if _, err := c.AddFunc(spec, func() { fired.Add(patient) }); err != nil { // remind the patient
			return err
		}
	}
	t1 := time.Now()
	c.Start()
	if got := len(c.Entries()); got != n {
		return fmt.Errorf("%d cron entries, want %d", got, n)
	}
	t2 := time.Now()
	runtime.GC()
	runtime.ReadMemStats(&after)
	r := cronResult{Register: t1.Sub(t0), Start: t2.Sub(t1),
		HeapMB: float64(after.HeapInuse-min(before.HeapInuse, after.HeapInuse)) / (1 << 20),
		VmHWM:  procStatus(os.Getpid(), "VmHWM:")}
	<-c.Stop().Done()
	runtime.KeepAlive(c)
	return json.NewEncoder(stdout).Encode(r)
}
