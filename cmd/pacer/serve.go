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
	sd "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/term"

	"pacer/internal/config"
	"pacer/internal/daemon"
	"pacer/internal/metrics"
	"pacer/internal/store"
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

// baseURL is the configured public URL, or http://<listen address>.
func baseURL(cfg *config.Config, listen string) (*url.URL, error) { return daemon.BaseURL(cfg, listen) }

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
	st, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	key, keyFile, err := daemon.SecretKey(ctx, cfg, st)
	if err != nil {
		return err
	}
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	ln, err := c.listen(cfg, log)
	if err != nil {
		return err
	}
	base, err := daemon.BaseURL(cfg, ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	reg := metrics.NewRegistry()
	bi := buildInfo()
	metrics.NewBuildInfo(reg, bi.Version, bi.Commit, bi.GoVersion)
	d, err := daemon.New(ctx, daemon.Options{Store: st, Config: cfg, Key: key, KeyFile: keyFile, BaseURL: base, Now: c.now, Log: log, Registry: reg})
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
	if *demo {
		if err := c.seedDemo(ctx, d); err != nil {
			ln.Close()
			return fmt.Errorf("demo: %w", err)
		}
	}
	hs := &http.Server{
		Handler:           d.Handler,
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
	bgCtx, stopBackground := context.WithCancel(ctx)
	var background sync.WaitGroup
	background.Add(1)
	go func() { defer background.Done(); d.Run(bgCtx) }()
	defer func() { stopBackground(); background.Wait() }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	// systemd: ready once migrated, the store answers and the socket is
	// bound; then the watchdog, fed only while the store answers. Both are
	// no-ops outside systemd (no NOTIFY_SOCKET).
	if _, err := sd.SdNotify(false, sd.SdNotifyReady); err != nil {
		log.Warn("notify systemd", "err", err)
	}
	if every, err := sd.SdWatchdogEnabled(false); err == nil && every > 0 {
		wctx, stopWatchdog := context.WithCancel(ctx)
		defer stopWatchdog()
		go watchdog(wctx, every/2, st.Ping, sdNotify, log)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sdNotify(sd.SdNotifyStopping)
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
	_, err := sd.SdNotify(false, state)
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
		if err := notify(sd.SdNotifyWatchdog); err != nil {
			log.Warn("notify systemd", "err", err)
		}
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

// seedDemo seeds the demo therapist and patient (once; a restart reuses the
// patient) and prints how to sign in and the patient's links.
func (c *cli) seedDemo(ctx context.Context, d *daemon.Daemon) error {
	zone := c.getenv("TZ")
	if _, err := time.LoadLocation(zone); zone == "" || zone == "Local" || err != nil {
		zone = localZone()
	}
	demo, err := d.SeedDemo(ctx, zone)
	if err != nil {
		return err
	}
	what := "reused from an earlier start"
	if demo.Seeded {
		what = "seeded with four weeks of history"
	}
	fmt.Fprintf(c.stdout, "demo therapist %s: sign in through this one-time link (valid 72 hours):\n  %s\n", demo.Email, demo.SetupURL)
	fmt.Fprintf(c.stdout, "demo patient %d (time zone %s, %s) with the walking and stretching programs:\n", demo.Patient.ID, demo.Zone, what)
	fmt.Fprintf(c.stdout, "  calendar feed:  %s\n  subscribe:      %s\n  check-in page:  %s\n",
		demo.Patient.FeedURL, demo.Patient.WebcalURL, demo.Patient.CheckinURL)
	fmt.Fprintf(c.stdout, "  API token for %s: %s\n", demo.Email, demo.APIToken)
	return nil
}

// localZone is the machine's IANA zone, from /etc/localtime's link, or UTC.
func localZone() string {
	if target, err := os.Readlink("/etc/localtime"); err == nil {
		if i := strings.Index(target, "zoneinfo/"); i >= 0 {
			if name := target[i+len("zoneinfo/"):]; name != "" {
				if _, err := time.LoadLocation(name); err == nil {
					return name
				}
			}
		}
	}
	return "UTC"
}
