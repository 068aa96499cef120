package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/term"

	"pacer/internal/config"
	"pacer/internal/metrics"
	"pacer/internal/store"
	"pacer/internal/web"
	"pacer/programs"
	"pacer/scheduler"
)

// storeFlags adds --config, --db and the given keys' flags (listen,
// base_url) to a command; call load after parsing.
func storeFlags(fs *flag.FlagSet, keys ...string) *config.Flags {
	return config.AddFlags(fs, append([]string{"db"}, keys...)...)
}

// load reads the configuration a command's flags name, and validates it.
func (c *cli) load(f *config.Flags) (*config.Config, error) {
	cfg, err := f.Load(c.getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return &cfg, nil
}

// openMigrated opens the store and brings its schema up to date.
func openMigrated(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DSN())
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	return st, nil
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs := newFlags(c, "migrate", "pacer migrate [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("migrate takes no arguments")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "schema at version %d (%s)\n", v, st.Dialect())
	return nil
}

func (c *cli) user(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usagef("user needs a subcommand: add")
	}
	fs := newFlags(c, "user add", "pacer user add --email E [--name N] [--admin] [--config FILE] [--db DSN] [--base-url URL]")
	flags := storeFlags(fs, "base_url")
	email := fs.String("email", "", "the therapist's email (required)")
	name := fs.String("name", "", "the therapist's name")
	admin := fs.Bool("admin", false, "may add therapists")
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("user add takes no arguments")
	}
	if *email == "" {
		return usagef("user add needs --email")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	base, err := baseURL(cfg, cfg.Listen)
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.CreateTherapist(ctx, *email, *name, *admin)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("a therapist with the email %s already exists", *email)
	}
	if err != nil {
		return err
	}
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	if err := st.CreateSetupToken(ctx, t.ID, store.HashToken(tok), c.now().Add(72*time.Hour)); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "Added %s. Send them this one-time link to choose a password (valid for 72 hours):\n", t.Email)
	fmt.Fprintln(c.stdout, strings.TrimSuffix(base.String(), "/")+"/setup/"+tok)
	return nil
}

func (c *cli) token(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usagef("token needs a subcommand: create")
	}
	fs := newFlags(c, "token create", "pacer token create --email E [--name N] [--config FILE] [--db DSN]")
	flags := storeFlags(fs)
	email := fs.String("email", "", "the therapist the token acts for (required)")
	name := fs.String("name", "cli", "a label for the token")
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("token create takes no arguments")
	}
	if *email == "" {
		return usagef("token create needs --email")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := st.TherapistByEmail(ctx, *email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no therapist has the email %s; add one with pacer user add --email %s", *email, *email)
	}
	if err != nil {
		return err
	}
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	if err := st.CreateAPIToken(ctx, t.ID, *name, store.HashToken(tok)); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, tok) // alone on stdout, shown once
	return nil
}

// baseURL is the configured public URL, or http://<listen address>.
func baseURL(cfg *config.Config, listen string) (*url.URL, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = "http://" + listen
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q must be an absolute http or https URL, e.g. https://pacer.example.org", raw)
	}
	return u, nil
}

// newLogger logs text to a terminal and JSON otherwise.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := newFlags(c, "serve", "pacer serve [--config FILE] [--db DSN] [--listen ADDR] [--base-url URL] [--demo]")
	flags := storeFlags(fs, "listen", "base_url")
	demo := fs.Bool("demo", false, "seed a demo therapist and patient and print their links")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("serve takes no arguments")
	}
	cfg, err := c.load(flags)
	if err != nil {
		return err
	}
	log := newLogger(c.stderr, cfg.LogLevel)
	key, err := cfg.SecretKey()
	if err != nil {
		return err
	}
	keys, err := web.NewKeyring(key)
	if err != nil {
		return err
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	ln, err := c.listen(cfg, log)
	if err != nil {
		return err
	}
	base, err := baseURL(cfg, ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	// The warnings config check prints, judged on the address served.
	served := *cfg
	served.Listen = ln.Addr().String()
	for _, w := range served.Warnings() {
		log.Warn("configuration warning", "key", w.Key, "warning", w.Message)
	}

	reg := metrics.NewRegistry()
	bi := buildInfo()
	metrics.NewBuildInfo(reg, bi.Version, bi.Commit, bi.GoVersion)
	webMetrics := metrics.NewWeb(reg)
	ist := web.InstrumentStore(st, metrics.NewStore(reg), webMetrics)
	metrics.NewCurrentDecisions(reg, func(ctx context.Context) (map[string]int, error) {
		return st.CurrentDecisions(ctx, programs.DateOf(c.now().UTC()))
	})
	srv := web.New(ist, keys, lib, base, c.now, log)
	srv.Metrics = web.NewMetrics(reg, webMetrics)
	if *demo {
		if err := c.seedDemo(ctx, st, srv, lib); err != nil {
			ln.Close()
			return fmt.Errorf("demo: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(c.stdout, "pacer listening on %s (store: %s)\n", base, describeDSN(cfg.DSN()))
	log.Info("serving", "addr", ln.Addr().String(), "store", st.Dialect(), "version", bi.Version, "commit", bi.Commit)

	// Reminders: the dispatcher delivers the outbox; the periodic jobs
	// (review, retention, digest) run on the leader.
	chs, vapidPublic, err := channels(ctx, cfg, st, base)
	if err != nil {
		return err
	}
	dispatcher := &scheduler.Dispatcher{Store: st, Notifier: chs.Notifier, Now: c.now, Log: log,
		CheckinURL: func(p store.Patient) string { return srv.Links(p).CheckinURL },
		Metrics:    metrics.NewReminders(reg), Lease: cfg.Reminders.Lease}
	metrics.NewOutbox(reg, st.ReminderCounts)
	alerts := &scheduler.Alerts{Store: st, EmailReady: chs.Email != nil, CheckinURL: dispatcher.CheckinURL,
		PatientURL: func(p store.Patient) string {
			return strings.TrimSuffix(base.String(), "/") + fmt.Sprintf("/patients/%d", p.ID)
		},
		Wake: dispatcher.Wake}
	srv.Reminders(chs, alerts, vapidPublic, dispatcher.Wake)

	reviewMetrics := metrics.NewReview(reg)
	rs := reviewStore{Store: ist, active: st.ActivePatients, m: reviewMetrics, now: c.now}
	reviewer := &scheduler.Reviewer{Store: rs, Mat: &scheduler.Materializer{Store: rs, Now: c.now, Wake: dispatcher.Wake, Alerts: alerts},
		Now: c.now, Log: log, Retain: retention(st, cfg.Retention.SessionDays, reviewMetrics, log)}
	jobs := &scheduler.Jobs{Store: st, Reviewer: reviewer, Alerts: alerts, Now: c.now, Log: log}
	bgCtx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	background.Add(2)
	go func() { defer background.Done(); jobs.Run(bgCtx) }()
	go func() { defer background.Done(); dispatcher.Run(bgCtx) }()
	defer func() { stopBackground(); background.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	// systemd: ready once migrated, the store answers and the socket is
	// bound; then the watchdog, fed only while the store answers. Both are
	// no-ops outside systemd (no NOTIFY_SOCKET).
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("notify systemd", "err", err)
	}
	if every, err := daemon.SdWatchdogEnabled(false); err == nil && every > 0 {
		wctx, stopWatchdog := context.WithCancel(ctx)
		defer stopWatchdog()
		go watchdog(wctx, every/2, ist.Ping, sdNotify, log)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sdNotify(daemon.SdNotifyStopping)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// listen takes the socket systemd passed (socket activation, pacer.socket),
// else listens on the configured address.
func (c *cli) listen(cfg *config.Config, log *slog.Logger) (net.Listener, error) {
	if c.getenv("LISTEN_FDS") != "" {
		lns, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("socket activation: %w", err)
		}
		var ln net.Listener
		for _, l := range lns {
			switch {
			case l == nil:
			case ln == nil:
				ln = l
			default:
				l.Close() // pacer serves one socket
			}
		}
		if ln == nil {
			return nil, errors.New("LISTEN_FDS is set but systemd passed no listening socket: check pacer.socket's ListenStream=")
		}
		log.Info("socket activation", "addr", ln.Addr().String())
		return ln, nil
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (set --listen or PACER_LISTEN to a free address)", cfg.Listen, err)
	}
	return ln, nil
}

func sdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// watchdog sends WATCHDOG=1 every interval while the store answers. When it
// stops answering, the pings stop, and systemd restarts pacer once
// WatchdogSec has passed without one.
func watchdog(ctx context.Context, every time.Duration, ping func(context.Context) error, notify func(string) error, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	healthy := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := ping(pctx)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if healthy {
				log.Warn("the store does not answer; withholding the watchdog ping", "err", err)
			}
			healthy = false
			continue
		case !healthy:
			log.Info("the store answers again")
			healthy = true
		}
		if err := notify(daemon.SdNotifyWatchdog); err != nil {
			log.Warn("notify systemd", "err", err)
		}
	}
}

// reviewStore counts the review sweep's work for the metrics: a sweep starts
// with ActivePatients, and each assignment it re-plans ends in SaveSessions.
type reviewStore struct {
	web.Store
	active func(ctx context.Context) ([]store.Patient, error)
	m      *metrics.Review
	now    func() time.Time
}

func (r reviewStore) ActivePatients(ctx context.Context) ([]store.Patient, error) {
	r.m.Sweeps.Inc()
	r.m.LastSweep.Set(float64(r.now().Unix()))
	return r.active(ctx)
}

func (r reviewStore) SavePlan(ctx context.Context, assignmentID, patientID int64, want []store.Session, decisions []store.Decision,
	reminders func([]store.Session) []store.Reminder, now time.Time) (int, error) {
	n, err := r.Store.SavePlan(ctx, assignmentID, patientID, want, decisions, reminders, now)
	result := "ok"
	if err != nil {
		result = "error"
	}
	r.m.Reviews.WithLabelValues(result).Inc()
	return n, err
}

// retention deletes the sessions of ended programs older than days, once a
// day from the review; days 0 keeps them for ever.
func retention(st *store.Store, days int, m *metrics.Review, log *slog.Logger) func(ctx context.Context, now time.Time) error {
	if days <= 0 {
		return nil
	}
	return func(ctx context.Context, now time.Time) error {
		n, err := st.DeleteOldSessions(ctx, programs.DateOf(now.UTC()).AddDays(-days))
		if err != nil {
			m.RetainFails.Inc()
			return err
		}
		m.Retained.Add(float64(n))
		r, err := st.DeleteOldReminders(ctx, now.AddDate(0, 0, -days))
		if err != nil {
			m.RetainFails.Inc()
			return err
		}
		if n > 0 || r > 0 {
			log.Info("retention", "deleted_sessions", n, "deleted_reminders", r, "days", days)
		}
		return nil
	}
}

// describeDSN names the store without a password.
func describeDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.Redacted()
	}
	return dsn
}

// seedDemo adds a demo therapist with an API token, and a demo patient with
// the walking and stretching programs from today, and prints their links.
func (c *cli) seedDemo(ctx context.Context, st *store.Store, srv *web.Server, lib *programs.Library) error {
	const email = "demo@pacer.invalid"
	t, err := st.TherapistByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		t, err = st.CreateTherapist(ctx, email, "Demo therapist", false)
	}
	if err != nil {
		return err
	}
	tok, err := store.NewToken()
	if err != nil {
		return err
	}
	if err := st.CreateAPIToken(ctx, t.ID, "demo", store.HashToken(tok)); err != nil {
		return err
	}
	zone := c.getenv("TZ")
	if _, err := time.LoadLocation(zone); zone == "" || zone == "Local" || err != nil {
		zone = "UTC"
	}
	p, err := srv.NewPatient(ctx, store.Patient{TherapistID: t.ID, Name: "Demo patient", Timezone: zone, Discreet: true, Alarm: true})
	if err != nil {
		return err
	}
	for _, id := range []string{"walking", "stretching"} {
		if _, err := srv.Assign(ctx, p, id); err != nil {
			return err
		}
	}
	links := srv.Links(p)
	fmt.Fprintf(c.stdout, "demo patient %d (time zone %s) with the walking and stretching programs:\n", p.ID, zone)
	fmt.Fprintf(c.stdout, "  calendar feed:  %s\n  subscribe:      %s\n  check-in page:  %s\n", links.FeedURL, links.WebcalURL, links.CheckinURL)
	fmt.Fprintf(c.stdout, "  API token for %s: %s\n", email, tok)
	return nil
}
