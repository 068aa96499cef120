// Command scale measures pacer on SQLite with a growing population: 10,000,
// 100,000 and 1,000,000 patients by default, each as pacer itself would hold
// them (internal/reminderload.SeedPopulation: the walking program in its
// third week, check-ins, a webhook channel, every session, plan week and
// reminder a re-plan writes), spread over the time zones of the English-
// and German-speaking countries in proportion to their populations.
//
// For each size, in a temporary directory, it reports as Markdown:
//
//   - seeding: the time, and the database's size;
//   - that re-planning a sample of the seeded patients changes nothing;
//   - `pacer serve` starting: exec → /readyz 200, and → the start-up work
//     settled (the process's CPU time still for a second), and the RSS then;
//   - feeds under load: GET of distinct patients' feeds from 16 clients for
//     -feed-seconds, p50 and p99 and requests per second;
//   - a reminder burst: -burst session reminders due in the same minute
//     (one per patient), delivered to an HTTPS webhook sink in this
//     process, while the feeds are loaded as before: the drain, the feed
//     p99 meanwhile, pacer's peak RSS;
//   - the hourly review, run in a child process on the production code
//     (daemon.New, Jobs.Reviewer.Review) at a set clock: five minutes past
//     midnight in New York, when the largest group's day begins (31% of the
//     patients), and, as the worst case, a review in which every patient's
//     day has begun (all patients in one zone, or a day of downtime): the
//     time, the patients re-planned, the child's peak RSS and CPU time;
//   - the load average beside each figure, since the machine may be shared.
//
// Usage (from the module root):
//
//	go run ./scripts/scale [-sizes 10000,100000,1000000] [-worst-upto 1000000] [-burst 100000] [-feed-seconds 15] [-keep] [-pacer BINARY] [-postgres URL]
//
// -postgres (default: none) also seeds PostgreSQL with the smallest size
// above 10,000 and times the review there. It removes what it made unless
// -keep. A million patients take about 20 GB of disk for a while.
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
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"pacer/internal/config"
	"pacer/internal/daemon"
	"pacer/internal/reminderload"
	"pacer/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type options struct {
	sizes       []int
	burst       int
	feedSeconds int
	binary      string
	keep        bool
	postgres    string
	worstUpTo   int
	spread      bool
	logf        func(format string, a ...any)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", "10000,100000,1000000", "population sizes, comma-separated")
	burst := fs.Int("burst", 100000, "session reminders due in the same minute (at most one per patient)")
	feedSeconds := fs.Int("feed-seconds", 15, "seconds of feed load, alone and during the burst")
	binary := fs.String("pacer", "", "the pacer binary (default: built from ./cmd/pacer)")
	keep := fs.Bool("keep", false, "keep the temporary directories")
	postgres := fs.String("postgres", "", "a PostgreSQL URL: also time the review there, in a schema of its own")
	spread := fs.Bool("spread", true, "measure the population spread over time zones (false: only the worst case)")
	worstUpTo := fs.Int("worst-upto", 1000000, "for sizes up to this, also seed every patient in one zone and time the review of them all (0: never)")
	child := fs.String("review-child", "", "internal: run the review on this database and print the figures as JSON")
	at := fs.String("at", "", "internal: the review child's clock (RFC 3339)")
	since := fs.String("since", "", "internal: the review child's last review (RFC 3339)")
	keyFile := fs.String("key", "", "internal: the review child's secret key file")
	cpuProfile := fs.String("cpuprofile", "", "internal: the review child's CPU profile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *child != "" {
		return reviewChild(ctx, *child, *at, *since, *keyFile, *cpuProfile, stdout)
	}
	o := options{burst: *burst, feedSeconds: *feedSeconds, binary: *binary, keep: *keep, postgres: *postgres, worstUpTo: *worstUpTo, spread: *spread,
		logf: func(format string, a ...any) {
			fmt.Fprintf(stderr, "%s scale: %s\n", time.Now().Format(time.TimeOnly), fmt.Sprintf(format, a...))
		}}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8*len(reminderload.Spread) {
			return fmt.Errorf("-sizes: %q is not a size of at least %d", s, 8*len(reminderload.Spread))
		}
		o.sizes = append(o.sizes, n)
	}
	tmp, err := os.MkdirTemp("", "pacer-scale-")
	if err != nil {
		return err
	}
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
	var results []*result
	for _, n := range o.sizes {
		dir := filepath.Join(tmp, strconv.Itoa(n))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		r, err := measure(ctx, o, n, dir, filepath.Join(dir, "pacer.db"))
		if err != nil {
			return fmt.Errorf("%d patients: %w", n, err)
		}
		results = append(results, r)
		report(stdout, o, results[len(results)-1:], false)
		if !o.keep {
			os.RemoveAll(dir)
		}
	}
	var pg *result
	if o.postgres != "" {
		n := o.sizes[0]
		for _, s := range o.sizes {
			if s > 10000 {
				n = s
				break
			}
		}
		dsn, drop, err := reminderload.PostgresSchema(ctx, o.postgres)
		if err != nil {
			return err
		}
		if !o.keep {
			defer drop()
		}
		if pg, err = measurePostgres(ctx, o, n, tmp, dsn); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	fmt.Fprintln(stdout, "\n## Growth")
	report(stdout, o, results, true)
	if pg != nil {
		// measurePostgres times the review of New York's midnight only.
		fmt.Fprintf(stdout, "\nPostgreSQL (%s), %d patients: seeded in %s; the review of New York's midnight re-planned %d patients in %s (%.0f a second; CPU %s; load %s)\n",
			pg.describe, pg.patients, sec(pg.seeded), pg.spread.Replanned, sec(pg.spread.Took), rate(pg.spread),
			sec(pg.spread.CPU), pg.spread.Load)
	}
	return nil
}

// result is what one size measured.
type result struct {
	patients   int
	describe   string
	seeded     time.Duration
	seedLoad   string
	dbBytes    int64
	verified   int
	cold, warm startup
	idleRSS    string
	feeds      feedLoad
	burst      burstResult
	spread     reviewResult
	everyone   reviewResult
}

func measure(ctx context.Context, o options, n int, dir, path string) (*result, error) {
	r := &result{patients: n}
	sink, err := reminderload.NewSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	certFile := filepath.Join(dir, "sink.pem")
	keyFile := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(certFile, sink.CertPEM, 0o600); err != nil {
		return nil, err
	}
	key := []byte(rand.Text() + rand.Text())
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, err
	}

	at := reviewAt(time.Now())
	now := at.Add(-65 * time.Minute)
	pop := reminderload.Population{Patients: n, Zones: reminderload.Spread, Now: now, HookURL: sink.URL, Key: key,
		JobsRanAt: now, Feeds: 2000, Log: o.logf}
	if o.spread {
		o.logf("%d: seeding", n)
		t0 := time.Now()
		seeded, err := reminderload.SeedPopulation(ctx, path, pop)
		if err != nil {
			return nil, err
		}
		r.seeded, r.seedLoad = time.Since(t0), loadavg()
		r.dbBytes = fileSize(path) + fileSize(path+"-wal")
		o.logf("%d: seeded in %v, %.2f GB", n, r.seeded.Round(time.Second), float64(r.dbBytes)/1e9)

		// Re-planning a sample at the seeded instant changes nothing.
		var sample []int64
		for range 20 {
			sample = append(sample, 1+mrand.Int64N(int64(n)))
		}
		if err := reminderload.VerifyPopulation(ctx, path, pop, sample); err != nil {
			return nil, err
		}
		r.verified = len(sample)

		env := append(os.Environ(), "STATE_DIRECTORY="+dir, "SSL_CERT_FILE="+certFile, "PACER_LOG_LEVEL=warn",
			"PACER_SECRET_KEY_FILE="+keyFile, "PACER_NOTIFY_ALLOW_PRIVATE=127.0.0.1") // the sink is on loopback
		// First start: the start-up, idle memory, feeds alone.
		d, err := start(ctx, o.binary, "sqlite:"+path, env, filepath.Join(dir, "serve-1.log"))
		if err != nil {
			return nil, err
		}
		r.cold = d.startup
		r.idleRSS = procStatus(d.cmd.Process.Pid, "VmRSS:")
		o.logf("%d: ready in %v, settled in %v, RSS %s", n, r.cold.ready.Round(time.Millisecond), r.cold.settled.Round(time.Millisecond), r.idleRSS)
		r.feeds = loadFeeds(ctx, d.base, seeded.Feeds, time.Duration(o.feedSeconds)*time.Second)
		r.feeds.hwm = procStatus(d.cmd.Process.Pid, "VmHWM:")
		o.logf("%d: feeds p50 %v p99 %v, %.0f/s", n, r.feeds.p50, r.feeds.p99, r.feeds.rps)
		if err := d.stop(); err != nil {
			return nil, err
		}

		// Second start: a burst of reminders due in one minute, under the
		// same feed load (none with -burst 0).
		k := min(o.burst, n)
		if k > 0 {
			due := time.Now().Add(25 * time.Second).Truncate(time.Second)
			keys, err := rearm(ctx, path, k, due)
			if err != nil {
				return nil, err
			}
			d, err = start(ctx, o.binary, "sqlite:"+path, env, filepath.Join(dir, "serve-2.log"))
			if err != nil {
				return nil, err
			}
			r.warm = d.startup
			r.burst, err = runBurst(ctx, d, sink, keys, due, seeded.Feeds, time.Duration(o.feedSeconds)*time.Second)
			if err != nil {
				d.stop()
				return nil, err
			}
			r.burst.hwm = procStatus(d.cmd.Process.Pid, "VmHWM:")
			if err := d.stop(); err != nil {
				return nil, err
			}
			o.logf("%d: burst of %d drained in %v; feeds meanwhile p99 %v", n, len(keys), r.burst.drain.Round(time.Millisecond), r.burst.feeds.p99)
		}

		// The hourly review, at a clock of its own, in a child process.
		o.logf("%d: review at %s (New York's day begins)", n, at.Format(time.RFC3339))
		if r.spread, err = reviewChildRun(ctx, path, at, at.Add(-time.Hour), keyFile, filepath.Join(dir, "review-spread.pprof")); err != nil {
			return nil, err
		}
		o.logf("%d: re-planned %d in %v", n, r.spread.Replanned, r.spread.Took.Round(time.Millisecond))
		os.Remove(path)
		os.Remove(path + "-wal")
		os.Remove(path + "-shm")
	}

	// The worst case: every patient in one zone, so that every day begins
	// in the same hour.
	if n <= o.worstUpTo {
		pop.Zones = []reminderload.Zone{{Name: "America/New_York", Weight: 1}}
		pop.Feeds = 0
		o.logf("%d: seeding everyone in New York", n)
		if _, err := reminderload.SeedPopulation(ctx, path, pop); err != nil {
			return nil, err
		}
		if r.everyone, err = reviewChildRun(ctx, path, at, at.Add(-time.Hour), keyFile, filepath.Join(dir, "review-everyone.pprof")); err != nil {
			return nil, err
		}
		o.logf("%d: everyone: re-planned %d in %v", n, r.everyone.Replanned, r.everyone.Took.Round(time.Millisecond))
	}
	r.describe = "SQLite"
	return r, nil
}

// reviewAt is the instant the review is measured at: 00:05 in New York,
// the next after now, when the day of the largest group (US and Canadian
// eastern time, 31% of the spread) has just begun. The population is seeded
// as of 65 minutes before, its patients having checked in their sessions of
// the day in the evening.
func reviewAt(now time.Time) time.Time {
	ny, _ := time.LoadLocation("America/New_York")
	l := now.In(ny)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 5, 0, 0, ny)
}

func measurePostgres(ctx context.Context, o options, n int, tmp, dsn string) (*result, error) {
	sink, err := reminderload.NewSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	keyFile := filepath.Join(tmp, "pg-secret.key")
	key := []byte(rand.Text() + rand.Text())
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return nil, err
	}
	at := reviewAt(time.Now())
	now := at.Add(-65 * time.Minute)
	pop := reminderload.Population{Patients: n, Zones: reminderload.Spread, Now: now, HookURL: sink.URL, Key: key,
		JobsRanAt: now, Log: o.logf}
	o.logf("postgres %d: seeding", n)
	t0 := time.Now()
	if _, err := reminderload.SeedPopulation(ctx, dsn, pop); err != nil {
		return nil, err
	}
	r := &result{patients: n, seeded: time.Since(t0)}
	db, err := reminderload.Open(dsn)
	if err != nil {
		return nil, err
	}
	var version string
	db.QueryRowContext(ctx, `SELECT current_setting('server_version')`).Scan(&version)
	db.Close()
	r.describe = "PostgreSQL " + version
	r.spread, err = reviewChildRun(ctx, dsn, at, at.Add(-time.Hour), keyFile, filepath.Join(tmp, "pg-review.pprof"))
	return r, err
}

// rearm makes k pending session reminders, one per patient, due at due,
// and returns their dedupe keys.
func rearm(ctx context.Context, path string, k int, due time.Time) (map[string]bool, error) {
	db, err := reminderload.Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE burst AS SELECT MIN(id) AS id FROM reminders
		WHERE status = 'pending' AND kind = 'session' GROUP BY patient_id ORDER BY patient_id LIMIT ?`, k); err != nil {
		return nil, err
	}
	ms := due.UnixMilli()
	if _, err := tx.ExecContext(ctx, `UPDATE reminders SET due_at = ?, next_attempt_at = ? WHERE id IN (SELECT id FROM burst)`, ms, ms); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT dedupe_key FROM reminders WHERE id IN (SELECT id FROM burst)`)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return nil, err
		}
		keys[key] = true
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `DROP TABLE burst`); err != nil {
		return nil, err
	}
	return keys, tx.Commit()
}

type burstResult struct {
	reminders    int
	drain        time.Duration // due → the last of them arrived
	p50, p99     time.Duration // lateness
	duplicates   int
	feeds        feedLoad
	hwm, loadDue string
	loadAfter    string
}

// runBurst waits for the due time, loads the feeds while the reminders
// drain, and measures both.
func runBurst(ctx context.Context, d *daemon_, sink *reminderload.Sink, keys map[string]bool, due time.Time,
	feeds []string, feedFor time.Duration) (burstResult, error) {
	b := burstResult{reminders: len(keys)}
	select {
	case <-ctx.Done():
		return b, ctx.Err()
	case <-time.After(time.Until(due)):
	}
	b.loadDue = loadavg()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.feeds = loadFeeds(ctx, d.base, feeds, feedFor) }()
	deadline := due.Add(5 * time.Minute)
	for {
		got, dups := 0, 0
		seen := map[string]bool{}
		var late []time.Duration
		for _, a := range sink.Arrivals() {
			if !keys[a.Key] {
				continue
			}
			if seen[a.Key] {
				dups++
				continue
			}
			seen[a.Key] = true
			got++
			late = append(late, a.At.Sub(due))
		}
		if got == len(keys) {
			slices.Sort(late)
			b.drain, b.p50, b.p99, b.duplicates = late[len(late)-1], pct(late, 50), pct(late, 99), dups
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			wg.Wait()
			return b, fmt.Errorf("burst: %d of %d reminders arrived in 5 minutes; see %s", got, len(keys), d.log)
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.loadAfter = loadavg()
	wg.Wait()
	return b, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

type feedLoad struct {
	requests int
	errors   int
	p50, p99 time.Duration
	rps      float64
	bytes    int64
	load     string
	hwm      string
}

// loadFeeds GETs random feeds of feeds from 16 clients for d (plain, no
// conditional request: a calendar that polls a changed feed).
func loadFeeds(ctx context.Context, base string, feeds []string, d time.Duration) feedLoad {
	const clients = 16
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu    sync.Mutex
		lat   []time.Duration
		errs  int
		bytes int64
		wg    sync.WaitGroup
	)
	end := time.Now().Add(d)
	t0 := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myErrs int
			var myBytes int64
			for time.Now().Before(end) && ctx.Err() == nil {
				u := base + feeds[mrand.IntN(len(feeds))]
				s := time.Now()
				resp, err := client.Get(u)
				if err != nil {
					myErrs++
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					myErrs++
					continue
				}
				mine = append(mine, time.Since(s))
				myBytes += n
			}
			mu.Lock()
			lat, errs, bytes = append(lat, mine...), errs+myErrs, bytes+myBytes
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	slices.Sort(lat)
	f := feedLoad{requests: len(lat), errors: errs, p50: pct(lat, 50), p99: pct(lat, 99),
		rps: float64(len(lat)) / took.Seconds(), load: loadavg()}
	if len(lat) > 0 {
		f.bytes = bytes / int64(len(lat))
	}
	return f
}

// reviewResult is what the review child printed.
type reviewResult struct {
	Replanned int
	Took      time.Duration
	CPU       time.Duration
	HWM       string
	HeapMB    float64
	Load      string
	Err       string
}

func rate(r reviewResult) float64 {
	if r.Took <= 0 {
		return 0
	}
	return float64(r.Replanned) / r.Took.Seconds()
}

func reviewChildRun(ctx context.Context, dsn string, at, since time.Time, keyFile, profile string) (reviewResult, error) {
	self, err := os.Executable()
	if err != nil {
		return reviewResult{}, err
	}
	cmd := exec.CommandContext(ctx, self, "-review-child", dsn, "-at", at.Format(time.RFC3339Nano),
		"-since", since.Format(time.RFC3339Nano), "-key", keyFile, "-cpuprofile", profile)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return reviewResult{}, fmt.Errorf("review child: %w", err)
	}
	var r reviewResult
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("review child: %w", err)
	}
	if r.Err != "" {
		return r, fmt.Errorf("review child: %s", r.Err)
	}
	return r, nil
}

// reviewChild builds pacer's parts as `pacer serve` does (daemon.New) on the
// store at dsn, with the clock at at, runs the hourly review as its job does
// with the last run at since, and prints the figures as JSON.
func reviewChild(ctx context.Context, dsn, at, since, keyFile, profile string, stdout io.Writer) error {
	now, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return err
	}
	last, err := time.Parse(time.RFC3339Nano, since)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	cfg := config.Defaults(func(string) string { return "" })
	base, _ := url.Parse("https://pacer.invalid")
	d, err := daemon.New(ctx, daemon.Options{Store: st, Config: &cfg, Key: key, BaseURL: base,
		Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	n, err := d.Jobs.Reviewer.Review(ctx, last)
	took := time.Since(t0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r := reviewResult{Replanned: n, Took: took, HWM: procStatus(os.Getpid(), "VmHWM:"), Load: loadavg(),
		CPU:    time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()),
		HeapMB: float64(ms.HeapSys) / (1 << 20)}
	if err != nil {
		r.Err = err.Error()
	}
	return json.NewEncoder(stdout).Encode(r)
}

type startup struct{ listening, ready, settled time.Duration }

type daemon_ struct {
	cmd     *exec.Cmd
	base    string
	log     string
	startup startup
	exited  chan struct{}
	err     error
}

// start execs `pacer serve` on db and times its start-up: exec to the
// "pacer listening on" line, to /readyz answering 200, and to the start-up
// work settled: the process's CPU time grew by at most 20 ms in a second.
func start(ctx context.Context, binary, db string, env []string, logPath string) (*daemon_, error) {
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
	d := &daemon_{cmd: cmd, log: logPath, exited: make(chan struct{})}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "pacer listening on "); ok {
			d.startup.listening = time.Since(t0)
			d.base = strings.TrimSuffix(strings.Fields(rest)[0], "/")
			break
		}
	}
	go func() {
		io.Copy(io.Discard, out)
		d.err = cmd.Wait()
		logFile.Close()
		close(d.exited)
	}()
	if d.base == "" {
		d.stop()
		return nil, fmt.Errorf("pacer did not say where it listens; see %s", logPath)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	for time.Since(t0) < 60*time.Second && ctx.Err() == nil && d.startup.ready == 0 {
		resp, err := client.Get(d.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				d.startup.ready = time.Since(t0)
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	if d.startup.ready == 0 {
		d.stop()
		return nil, fmt.Errorf("pacer's /readyz did not answer 200 within 60 s; see %s", logPath)
	}
	last, lastAt := cpuTicks(cmd.Process.Pid), time.Now()
	for time.Since(t0) < 5*time.Minute && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if time.Since(lastAt) < time.Second {
			continue
		}
		now := cpuTicks(cmd.Process.Pid)
		if now-last <= 2 {
			d.startup.settled = lastAt.Sub(t0)
			break
		}
		last, lastAt = now, time.Now()
	}
	return d, nil
}

// cpuTicks is the process's user and system CPU time in clock ticks.
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func (d *daemon_) stop() error {
	select {
	case <-d.exited:
	default:
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		timer := time.AfterFunc(30*time.Second, func() { d.cmd.Process.Kill() })
		defer timer.Stop()
		<-d.exited
	}
	if d.err != nil {
		return fmt.Errorf("pacer exited: %w; see %s", d.err, d.log)
	}
	return nil
}

func report(w io.Writer, o options, rs []*result, growth bool) {
	if !growth {
		r := rs[0]
		fmt.Fprintf(w, "\n### %d patients (SQLite)\n\n", r.patients)
		fmt.Fprintf(w, "- seeded in %s (load %s), %s; re-planning %d sampled patients at the seeded instant changed nothing\n",
			sec(r.seeded), r.seedLoad, gb(r.dbBytes), r.verified)
		fmt.Fprintf(w, "- start-up: exec → listening %s, → /readyz 200 %s, → settled %s; RSS then %s; again before the burst: /readyz %s\n",
			ms(r.cold.listening), ms(r.cold.ready), ms(r.cold.settled), r.idleRSS, ms(r.warm.ready))
		fmt.Fprintf(w, "- feeds, 16 clients, %d distinct patients' feeds: %d requests, %.0f/s, p50 %s, p99 %s, %d errors, %d bytes each (load %s); peak RSS %s\n",
			2000, r.feeds.requests, r.feeds.rps, ms(r.feeds.p50), ms(r.feeds.p99), r.feeds.errors, r.feeds.bytes, r.feeds.load, r.feeds.hwm)
		fmt.Fprintf(w, "- burst: %d reminders due at once drained in %s (lateness p50 %s, p99 %s), %d duplicates (load %s → %s); feeds meanwhile p50 %s, p99 %s, %.0f/s; peak RSS %s\n",
			r.burst.reminders, sec(r.burst.drain), sec(r.burst.p50), sec(r.burst.p99), r.burst.duplicates, r.burst.loadDue,
			r.burst.loadAfter, ms(r.burst.feeds.p50), ms(r.burst.feeds.p99), r.burst.feeds.rps, r.burst.hwm)
		for _, x := range []struct {
			name string
			r    reviewResult
		}{{"review at 00:05 in New York", r.spread}, {"review of everyone, all in New York (the worst case)", r.everyone}} {
			fmt.Fprintf(w, "- %s: %d re-planned in %s (%.0f a second), CPU %s, peak RSS %s (load %s)\n",
				x.name, x.r.Replanned, sec(x.r.Took), rate(x.r), sec(x.r.CPU), x.r.HWM, x.r.Load)
		}
		return
	}
	fmt.Fprintln(w, "\n| patients | seeding | database | start-up: /readyz / settled | RSS idle / peak | feed p50 / p99 alone | burst: reminders, drain, feed p99 | review at New York's midnight | review of everyone |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		peak := r.burst.hwm
		fmt.Fprintf(w, "| %d | %s | %s | %s / %s | %s / %s | %s / %s | %d, %s, %s | %d in %s | %d in %s |\n",
			r.patients, sec(r.seeded), gb(r.dbBytes), ms(r.cold.ready), ms(r.cold.settled), r.idleRSS, peak,
			ms(r.feeds.p50), ms(r.feeds.p99), r.burst.reminders, sec(r.burst.drain), ms(r.burst.feeds.p99),
			r.spread.Replanned, sec(r.spread.Took), r.everyone.Replanned, sec(r.everyone.Took))
	}
}

func sec(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
func ms(d time.Duration) string  { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
func gb(n int64) string {
	if n < 1e9 {
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func procStatus(pid int, key string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == key {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.0f MB", math.Round(kb/1024))
		}
	}
	return "?"
}
