package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"pacer/internal/config"
	"pacer/internal/store"
	"pacer/internal/web"
	"pacer/programs"
	"pacer/scheduler"
)

// storeFlags adds --db (and --base-url where links are printed) to a command.
func storeFlags(c *cli, fs *flag.FlagSet) *config.Config {
	cfg := config.Load(c.getenv)
	fs.StringVar(&cfg.DB, "db", cfg.DB, "store: a file path or sqlite:PATH (default: the state directory), or postgres://…")
	return &cfg
}

func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := store.Open(ctx, cfg.DSN())
	if err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	}
	return st, nil
}

func (c *cli) migrate(ctx context.Context, args []string) error {
	fs := newFlags(c, "migrate", "pacer migrate [--db DSN]")
	cfg := storeFlags(c, fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("migrate takes no arguments")
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
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
	fs := newFlags(c, "user add", "pacer user add --email E [--name N] [--admin] [--db DSN] [--base-url URL]")
	cfg := storeFlags(c, fs)
	fs.StringVar(&cfg.BaseURL, "base-url", cfg.BaseURL, "public URL the setup link is built from")
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
	base, err := baseURL(cfg, cfg.Listen)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
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
	fs := newFlags(c, "token create", "pacer token create --email E [--name N] [--db DSN]")
	cfg := storeFlags(c, fs)
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
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
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

func newLogger(w interface{ Write([]byte) (int, error) }, getenv func(string) string) *slog.Logger {
	level := slog.LevelInfo
	if getenv("PACER_LOG_LEVEL") == "debug" {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := newFlags(c, "serve", "pacer serve [--db DSN] [--listen ADDR] [--base-url URL] [--demo]")
	cfg := storeFlags(c, fs)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on, host:port")
	fs.StringVar(&cfg.BaseURL, "base-url", cfg.BaseURL, "public URL that feed and check-in links are built from (default: http://<listen address>)")
	demo := fs.Bool("demo", false, "seed a demo therapist and patient and print their links")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("serve takes no arguments")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(c.stderr, c.getenv)
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
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set --listen or PACER_LISTEN to a free address)", cfg.Listen, err)
	}
	base, err := baseURL(cfg, ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	srv := web.New(st, keys, lib, base, c.now, log)
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
	log.Info("serving", "addr", ln.Addr().String(), "store", st.Dialect())
	reviewCtx, stopReview := context.WithCancel(ctx)
	reviewer := &scheduler.Reviewer{Store: st, Mat: &scheduler.Materializer{Store: st, Now: c.now}, Now: c.now, Log: log}
	reviewed := make(chan struct{})
	go func() { defer close(reviewed); reviewer.Run(reviewCtx) }()
	defer func() { stopReview(); <-reviewed }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
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
