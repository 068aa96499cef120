// Command reminder-load measures `pacer serve` delivering reminders at scale:
// 100,000 patients, each with a webhook channel and a session reminder due in
// the same minute, delivered to a local HTTPS webhook sink; on SQLite (the
// store's writer at synchronous=FULL, WAL) and, given a PostgreSQL URL, on
// PostgreSQL, one after the other.
//
// For each store it builds pacer (once), seeds a fresh store in a temporary
// directory or a schema of its own (internal/reminderload), starts the sink
// in this process and pacer as a second process (trusting the sink's
// certificate through SSL_CERT_FILE), and reports as Markdown:
//
//   - the time to drain every reminder (the last arrival minus the due
//     time), the throughput, the p50 and p99 lateness, and the time until
//     every row is recorded sent;
//   - duplicates, counted by dedupe key at the sink, and errors;
//   - the results per commit of the outbox (pacer's own metrics);
//   - pacer's peak resident memory (VmHWM from /proc/PID/status);
//   - the load average, since the machine may be shared.
//
// On SQLite also pacer's start-up on the 100,000-patient store, before the
// reminders fall due and again after, and, for comparison, one
// robfig/cron/v3 entry per patient (what pacer does not do), registered in a
// child process: time and memory.
//
// Usage (from the module root):
//
//	go run ./scripts/reminder-load [-patients 100000] [-postgres URL] [-restarts 5] [-pacer BINARY] [-keep]
//
// -postgres defaults to $PACER_TEST_POSTGRES_URL; "-postgres none" measures
// SQLite only. It stops by itself and removes what it made (the temporary
// directory, the PostgreSQL schema), unless -keep.
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

// options are the flags.
type options struct {
	patients int
	restarts int
	binary   string
	tmp      string
	keep     bool
	logf     func(format string, a ...any)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reminder-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	patients := fs.Int("patients", 100000, "patients, each with one reminder due in the same minute")
	postgres := fs.String("postgres", os.Getenv("PACER_TEST_POSTGRES_URL"),
		`a PostgreSQL URL to measure too, in a schema of its own ("none": SQLite only)`)
	restarts := fs.Int("restarts", 5, "start-ups to time on the SQLite store after the drain")
	binary := fs.String("pacer", "", "the pacer binary (default: built from ./cmd/pacer)")
	keep := fs.Bool("keep", false, "keep the temporary directory (store, logs) and the PostgreSQL schema")
	cronChild := fs.Int("cron-child", 0, "internal: register this many cron entries and print the figures as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cronChild > 0 {
		return cronEntries(*cronChild, stdout)
	}
	o := options{patients: *patients, restarts: *restarts, binary: *binary, keep: *keep,
		logf: func(format string, a ...any) { fmt.Fprintf(stderr, "reminder-load: "+format+"\n", a...) }}
	if *postgres == "none" {
		*postgres = ""
	}
	if *postgres != "" && !reminderload.IsPostgres(*postgres) {
		return fmt.Errorf("-postgres %q: give a postgres:// URL, or none", *postgres)
	}

	tmp, err := os.MkdirTemp("", "reminder-load-")
	if err != nil {
		return err
	}
	o.tmp = tmp
	if o.keep {
		o.logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if o.binary == "" {
		o.logf("building pacer")
		o.binary = filepath.Join(tmp, "pacer")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.binary, "./cmd/pacer")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build pacer: %w", err)
		}
	}

	lite, err := drain(ctx, o, filepath.Join(tmp, "pacer.db"))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var pg *drained
	if *postgres != "" {
		dsn, drop, err := reminderload.PostgresSchema(ctx, *postgres)
		if err != nil {
			return err
		}
		if o.keep {
			o.logf("keeping the PostgreSQL schema in %s", dsn)
		} else {
			defer drop()
		}
		if pg, err = drain(ctx, o, dsn); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}

	var warm []startup
	env := lite.env
	for i := range o.restarts {
		d, err := start(ctx, o.binary, "sqlite:"+lite.dsn, env, filepath.Join(tmp, fmt.Sprintf("serve-sqlite-%d.log", i+1)))
		if err != nil {
			return err
		}
		warm = append(warm, d.startup)
		if err := d.stop(); err != nil {
			return err
		}
	}

	o.logf("registering %d robfig/cron entries in a child process", o.patients)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, self, "-cron-child", strconv.Itoa(o.patients)).Output()
	if err != nil {
		return fmt.Errorf("cron child: %w", err)
	}
	var cr cronResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return fmt.Errorf("cron child: %w", err)
	}
	report(stdout, o, lite, pg, warm, cr)
	return nil
}

// drained is what one store's run measured.
type drained struct {
	dsn             string
	env             []string
	describe        string // the store and its durability settings
	due             time.Time
	zone            string
	seeded          time.Duration
	res             reminderload.Result
	recorded        time.Duration // due → every row recorded sent
	counts          map[string]int
	sent, failed    float64 // pacer's counters
	retried         float64
	commits, rows   float64 // pacer_reminder_record_rows count and sum
	ready           []time.Duration
	hwm, rss        string
	cold            startup
	loadDue, loadAt string // load average at the due time and after the drain
}

// drain seeds the store at dsn (an SQLite path or a PostgreSQL URL), starts
// pacer on it, lets every reminder fall due at once and measures the drain.
func drain(ctx context.Context, o options, dsn string) (*drained, error) {
	pg := reminderload.IsPostgres(dsn)
	name := "sqlite"
	if pg {
		name = "postgres"
	}
	sink, err := reminderload.NewSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	certFile := filepath.Join(o.tmp, name+"-sink.pem")
	if err := os.WriteFile(certFile, sink.CertPEM, 0o600); err != nil {
		return nil, err
	}

	// Due at a whole minute (sessions are at minutes), far enough ahead for
	// seeding (about 5 s per 100,000 patients here) and a start-up.
	r := &drained{dsn: dsn, zone: quietZone(time.Now())}
	r.due = time.Now().Add(20*time.Second + time.Duration(o.patients)*150*time.Microsecond).Truncate(time.Minute).Add(time.Minute)
	o.logf("%s: seeding %d patients in %s, reminders due at %s", name, o.patients, r.zone, r.due.Format(time.TimeOnly))
	t0 := time.Now()
	if err := reminderload.SeedAt(ctx, dsn, reminderload.Seed{Patients: o.patients, Due: r.due, HookURL: sink.URL,
		Zone: r.zone, JobsRanAt: time.Now()}); err != nil {
		return nil, err
	}
	r.seeded = time.Since(t0)
	if r.describe, err = describe(ctx, dsn); err != nil {
		return nil, err
	}
	o.logf("%s: seeded in %v; %s", name, r.seeded.Round(time.Millisecond), r.describe)
	if time.Until(r.due) < 5*time.Second {
		return nil, fmt.Errorf("seeding ended %v before the due time; too late to start pacer first", time.Until(r.due))
	}

	// The sink listens on 127.0.0.1, which pacer reaches only when told to.
	r.env = append(os.Environ(), "STATE_DIRECTORY="+o.tmp, "SSL_CERT_FILE="+certFile, "PACER_LOG_LEVEL=warn",
		"PACER_NOTIFY_ALLOW_PRIVATE=127.0.0.1")
	// The seeded patients' links were made with no key in particular, and
	// pacer makes none for a database that has patients (nor would replicas
	// on PostgreSQL share one): the key comes first, as an operator's would.
	keyFile := filepath.Join(o.tmp, "secret-"+name+".key")
	if err := os.WriteFile(keyFile, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		return nil, err
	}
	r.env = append(r.env, "PACER_SECRET_KEY_FILE="+keyFile)
	arg := dsn
	if !pg {
		arg = "sqlite:" + dsn
	}
	d, err := start(ctx, o.binary, arg, r.env, filepath.Join(o.tmp, "serve-"+name+".log"))
	if err != nil {
		return nil, err
	}
	defer d.stop()
	r.cold = d.startup
	o.logf("%s: started in %v (listening %v); waiting %v for the due time", name, r.cold.ready.Round(time.Millisecond),
		r.cold.listening.Round(time.Millisecond), time.Until(r.due).Round(time.Second))

	wctx, cancel := context.WithDeadline(ctx, r.due.Add(5*time.Minute))
	defer cancel()
	go func() { // a pacer that dies ends the wait
		select {
		case <-d.exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	probes := make(chan []time.Duration, 1)
	go func() { probes <- d.probeReady(wctx, r.due) }()
	go func() {
		select {
		case <-time.After(time.Until(r.due)):
			r.loadDue = loadavg()
		case <-wctx.Done():
		}
	}()
	if err := sink.Wait(wctx, o.patients); err != nil {
		return nil, fmt.Errorf("drain: %w (pacer's log: %s)", err, d.log)
	}
	r.res = sink.Result(r.due)
	// The last results are committed after their webhook answered.
	for {
		c, err := reminderload.Counts(wctx, dsn)
		if err != nil {
			return nil, err
		}
		if c["sent"] >= o.patients {
			r.recorded = time.Since(r.due)
			break
		}
		if wctx.Err() != nil {
			return nil, fmt.Errorf("drain: the outbox is %v after every reminder arrived", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	r.ready = <-probes
	r.loadAt = loadavg()
	r.hwm, r.rss = procStatus(d.cmd.Process.Pid, "VmHWM:"), procStatus(d.cmd.Process.Pid, "VmRSS:")
	r.sent, r.failed, r.retried = d.metric("pacer_reminders_sent_total"), d.metric("pacer_reminders_failed_total"),
		d.metric("pacer_reminders_retried_total")
	r.commits, r.rows = d.metric("pacer_reminder_record_rows_count"), d.metric("pacer_reminder_record_rows_sum")
	if err := d.stop(); err != nil {
		return nil, err
	}
	if r.counts, err = reminderload.Counts(ctx, dsn); err != nil {
		return nil, err
	}
	o.logf("%s: drained in %v, all recorded at %v; reminders by status %v", name, r.res.Max.Round(time.Millisecond),
		r.recorded.Round(time.Millisecond), r.counts)
	return r, nil
}

// describe names the store and the settings that make its commits durable.
func describe(ctx context.Context, dsn string) (string, error) {
	db, err := reminderload.Open(dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if reminderload.IsPostgres(dsn) {
		var version, commit, fsync, size string
		err := db.QueryRowContext(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
			current_setting('fsync'), pg_size_pretty(pg_total_relation_size('reminders') + pg_total_relation_size('patients')
				+ pg_total_relation_size('sessions') + pg_total_relation_size('assignments') + pg_total_relation_size('channels'))`).
			Scan(&version, &commit, &fsync, &size)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("PostgreSQL %s on loopback, synchronous_commit=%s, fsync=%s; the seeded tables take %s",
			version, commit, fsync, size), nil
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return "", err
	}
	info, err := os.Stat(dsn)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("SQLite (modernc.org/sqlite) journal_mode=%s, synchronous=FULL on pacer's writer; %.0f MB",
		mode, float64(info.Size())/1e6), nil
}

// report prints the figures as Markdown.
func report(w io.Writer, o options, lite, pg *drained, warm []startup, cr cronResult) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	runs := []*drained{lite}
	head := "| measure | SQLite |"
	if pg != nil {
		runs = append(runs, pg)
		head += " PostgreSQL |"
	}
	row := func(measure, aim string, cell func(r *drained) string) {
		fmt.Fprintf(w, "| %s |", measure)
		for _, r := range runs {
			fmt.Fprintf(w, " %s |", cell(r))
		}
		fmt.Fprintf(w, " %s |\n", aim)
	}
	fmt.Fprintf(w, "\npacer serve, %d patients, one webhook reminder each, all due at the same minute (%s), in %s;\n",
		o.patients, lite.due.UTC().Format("15:04 MST"), lite.zone)
	fmt.Fprintf(w, "webhook sink: HTTPS on 127.0.0.1 in this driver process, pacer in its own; %d cores (%s), %s\n",
		runtime.NumCPU(), runtime.GOARCH, runtime.Version())
	for _, r := range runs {
		fmt.Fprintf(w, "- %s\n", r.describe)
	}
	fmt.Fprintf(w, "\n%s aim |\n|---|%s---|\n", head, strings.Repeat("---|", len(runs)))
	row("seeding", "", func(r *drained) string { return sec(r.seeded) })
	row("all delivered: due time → last arrival", "≤ 20 s", func(r *drained) string { return sec(r.res.Max) })
	row("throughput", "", func(r *drained) string {
		return fmt.Sprintf("%.0f reminders/s", float64(o.patients)/r.res.Max.Seconds())
	})
	row("lateness p50 / p99 (first arrival)", "p99 ≤ 20 s", func(r *drained) string {
		return fmt.Sprintf("%s / %s (%s)", sec(r.res.P50), sec(r.res.P99), ms(r.res.First))
	})
	row("every row recorded sent: due time →", "", func(r *drained) string { return sec(r.recorded) })
	row("duplicates (by dedupe key) / malformed / failed / retried", "0", func(r *drained) string {
		return fmt.Sprintf("%d / %d / %.0f / %.0f", r.res.Duplicates, r.res.Bad, r.failed, r.retried)
	})
	row("rows sent (sent_total)", "", func(r *drained) string { return fmt.Sprintf("%d (%.0f)", r.counts["sent"], r.sent) })
	row("results per commit (commits)", "", func(r *drained) string {
		if r.commits <= 0 {
			return "–"
		}
		return fmt.Sprintf("%.0f (%.0f)", r.rows/r.commits, r.commits)
	})
	row("/readyz during the drain, every 250 ms: p50 / max", "", func(r *drained) string {
		n := len(r.ready)
		if n == 0 {
			return "–"
		}
		slices.Sort(r.ready)
		return fmt.Sprintf("%.1f ms / %.1f ms (%d)", float64(r.ready[n/2])/1e6, float64(r.ready[n-1])/1e6, n)
	})
	row("pacer peak RSS (VmHWM; VmRSS after the drain)", "< 300 MB", func(r *drained) string {
		return fmt.Sprintf("%s (%s)", r.hwm, r.rss)
	})
	row("load average (1, 5, 15 min) at the due time → after", "", func(r *drained) string {
		return r.loadDue + " → " + r.loadAt
	})

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
	fmt.Fprintf(w, "\n| SQLite start-up, %d patients | result | aim |\n|---|---|---|\n", o.patients)
	fmt.Fprintf(w, "| before the due time: exec → listening / → /readyz 200 | %s / %s | under 2 s |\n",
		ms(lite.cold.listening), ms(lite.cold.ready))
	ml, xl := median(func(s startup) time.Duration { return s.listening })
	mr, xr := median(func(s startup) time.Duration { return s.ready })
	fmt.Fprintf(w, "| after the drain, median (max) of %d: listening / /readyz 200 | %s (%s) / %s (%s) | under 2 s |\n",
		len(warm), ml, xl, mr, xr)
	fmt.Fprintf(w, "\n| one robfig/cron/v3 entry per patient (%d) | result |\n|---|---|\n", o.patients)
	fmt.Fprintf(w, "| register (c.AddFunc each, CRON_TZ=zone m h * * *) | %s |\n", ms(cr.Register))
	fmt.Fprintf(w, "| start (next run of every entry computed and sorted) | %s |\n", ms(cr.Start))
	fmt.Fprintf(w, "| Go heap held by the entries | %.1f MB (%.0f bytes per entry) |\n", cr.HeapMB, cr.HeapMB*(1<<20)/float64(o.patients))
	fmt.Fprintf(w, "| process peak RSS (VmHWM) | %s |\n", cr.VmHWM)
}

// loadavg is the machine's load average over 1, 5 and 15 minutes.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
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

// start execs `pacer serve` on the store db (sqlite:PATH or a PostgreSQL
// URL) and times its start-up: exec to the "pacer listening on" line, and to
// /readyz answering 200.
func start(ctx context.Context, binary, db string, env []string, logPath string) (*daemon, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve", "--db", db, "--listen", "127.0.0.1:0")
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
