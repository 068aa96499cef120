// Package daemon assembles a running pacer: the store with its metrics hook,
// the clinic (use cases and re-planning), the reminder channels, dispatcher
// and periodic jobs, and the HTTP server. `pacer serve` builds it with New,
// and so does every handler and page test, so that tests exercise what users
// run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"pacer/internal/clinic"
	"pacer/internal/config"
	"pacer/internal/metrics"
	"pacer/internal/store"
	"pacer/internal/web"
	"pacer/notify/ntfy"
	"pacer/notify/telegram"
	"pacer/programs"
	"pacer/scheduler"
)

// Options are what a running pacer is built from.
type Options struct {
	Store  *store.Store // open and migrated
	Config *config.Config
	Key    []byte // the secret key capability tokens are derived from
	// KeyFile is the file Key was read from, recorded with its fingerprint
	// in the database and named when another key is given.
	KeyFile string
	BaseURL *url.URL
	Now     func() time.Time
	Log     *slog.Logger
	// Registry collects the metrics; nil: a new one.
	Registry *metrics.Registry
}

// Daemon is a running pacer's parts.
type Daemon struct {
	Store      *store.Store
	Clinic     *clinic.Clinic
	Web        *web.Server
	Dispatcher *scheduler.Dispatcher
	Jobs       *scheduler.Jobs
	Registry   *metrics.Registry
	Log        *slog.Logger
	// Handler serves every route.
	Handler http.Handler
}

// New builds a running pacer's parts; nothing runs until Run.
func New(ctx context.Context, o Options) (*Daemon, error) {
	keys, err := clinic.NewKeyring(o.Key)
	if err != nil {
		return nil, err
	}
	if err := checkKey(ctx, o.Store, keys, o.KeyFile); err != nil {
		return nil, err
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		return nil, err
	}
	reg := o.Registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	st, cfg, now, log := o.Store, o.Config, o.Now, o.Log
	storeMetrics := metrics.NewStore(reg)
	st.SetObserver(func(op string, start time.Time, err error) {
		storeMetrics.Observe(op, start, err != nil && !errors.Is(err, store.ErrNotFound))
	})
	chs, vapidPublic, err := Channels(ctx, cfg, st, o.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &clinic.Clinic{Store: st, Keys: keys, BaseURL: o.BaseURL, Library: lib, Now: now, Log: log,
		Channels: chs, TherapistEmail: chs.Email != nil, Contact: cfg.Clinic.Contact, CheckInDailyCap: cfg.CheckIns.DailyCap}
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pacer_engine_runs_total",
		Help: "Runs of the progression engine: re-plans of stored plans. Reading a page or a feed runs none."},
		func() float64 { return float64(c.EngineRuns()) }))

	dispatcher := &scheduler.Dispatcher{Store: st, Notifier: chs.Notifier, Now: now, Log: log,
		CheckinURL: c.CheckinURL, SessionURL: c.SessionURL, ConfirmURL: c.ConfirmURL, Quota: cfg.Notify.DailyQuota,
		Metrics: metrics.NewReminders(reg), Lease: cfg.Reminders.Lease}
	metrics.NewOutbox(reg, st.OutboxCounts)
	metrics.NewCurrentDecisions(reg, func(ctx context.Context) (map[string]int, error) {
		return st.CurrentDecisions(ctx, programs.DateOf(now().UTC()))
	})

	webMetrics := metrics.NewWeb(reg)
	proxies, err := cfg.Proxies()
	if err != nil {
		return nil, err
	}
	srv := web.New(st, c, lib, now, log)
	srv.TrustedProxies = proxies
	srv.Metrics = web.NewMetrics(reg, webMetrics)
	srv.VAPIDPublic = vapidPublic
	srv.ClinicContact = cfg.Clinic.Contact
	if chs.Usable("telegram") {
		bot, err := telegram.NewBot(chs.Telegram)
		if err != nil {
			return nil, err
		}
		srv.Telegram = bot
	}
	srv.NtfyServer = chs.Ntfy.DefaultServer
	if srv.NtfyServer == "" {
		srv.NtfyServer = ntfy.PublicServer
	}
	c.Wake = dispatcher.Wake
	c.Changed = srv.Forget
	if st.Dialect() == store.Postgres {
		srv.Synced(false) // until Listen hears the other replicas' changes
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pacer_feed_cache_entries",
			Help: "Rendered feeds held in memory."},
			func() float64 { n, _, _ := srv.FeedCache(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pacer_feed_cache_bytes",
			Help: "Bytes of the rendered feeds held in memory, both encodings."},
			func() float64 { _, n, _ := srv.FeedCache(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pacer_feed_cache_synced",
			Help: "1 while the feed cache is in use: it hears every replica's changes; 0 while feeds are served uncached."},
			func() float64 {
				if _, _, ok := srv.FeedCache(); ok {
					return 1
				}
				return 0
			}))

	review := metrics.NewReview(reg)
	reviewer := &scheduler.Reviewer{Store: sweepStore{st, review, now}, Now: now, Log: log, Zone: c.Zone,
		Replan: func(ctx context.Context, ids []int64) ([]error, error) {
			errs, err := c.ReplanBatch(ctx, ids)
			if err != nil {
				review.Reviews.WithLabelValues("error").Add(float64(len(ids)))
				return nil, err
			}
			for _, err := range errs {
				result := "ok"
				if err != nil {
					result = "error"
				}
				review.Reviews.WithLabelValues(result).Inc()
			}
			return errs, nil
		},
		Retain: retention(st, cfg.Retention.SessionDays, review, log, srv.ForgetAll)}
	alerts := &scheduler.Alerts{Store: st, EmailReady: chs.Email != nil, Wake: dispatcher.Wake}
	jobs := &scheduler.Jobs{Store: st, Reviewer: reviewer, Alerts: alerts, Now: now, Log: log}

	return &Daemon{Store: st, Clinic: c, Web: srv, Dispatcher: dispatcher, Jobs: jobs, Registry: reg, Log: log,
		Handler: srv.Handler()}, nil
}

// Run runs the background work until ctx ends: the reminder dispatcher, the
// periodic jobs, the listener for other replicas' changes (Listen), and at
// start the re-plan of every patient whose stored plan is missing or older
// than the engine's rules (after an upgrade).
func (d *Daemon) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); d.Listen(ctx) }()
	go func() { defer wg.Done(); d.Jobs.Run(ctx) }()
	go func() { defer wg.Done(); d.Dispatcher.Run(ctx) }()
	go func() {
		defer wg.Done()
		start := time.Now()
		n, err := d.Clinic.ReplanStale(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			d.Log.Error("re-planning stored plans after an upgrade", "replanned", n, "err", err)
		case n > 0:
			d.Log.Info("re-planned stored plans after an upgrade", "replanned", n,
				"duration_ms", time.Since(start).Milliseconds())
		}
	}()
	wg.Wait()
}

// Listen keeps the web server's caches in step with the changes other
// replicas commit, until ctx ends: on PostgreSQL it listens for the store's
// change notices and forgets what each names. When the connection fails it
// connects again, backing off up to a minute; until it listens again feeds
// are served uncached, and once it does, everything cached before is
// dropped, as notices may have been missed. On SQLite it returns at once:
// one process serves the database and hears its own changes.
func (d *Daemon) Listen(ctx context.Context) {
	if d.Store.Dialect() != store.Postgres {
		return
	}
	const first, most = 250 * time.Millisecond, time.Minute
	wait, failed := first, false
	for {
		heard := false
		err := d.Store.ListenChanges(ctx, func() {
			heard = true
			d.Web.Synced(true)
			if failed {
				d.Log.Info("listening for other replicas' changes again; feeds are cached again")
			}
		}, func(patientID int64, all bool) {
			if all {
				d.Web.ForgetAll()
				return
			}
			d.Web.Forget(patientID)
		})
		d.Web.Synced(false)
		if ctx.Err() != nil {
			return
		}
		if heard {
			wait = first
		}
		failed = true
		d.Log.Warn("listening for other replicas' changes failed; feeds are served uncached until it is back",
			"err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// sweepStore counts the review sweeps for the metrics.
type sweepStore struct {
	st  *store.Store
	m   *metrics.Review
	now func() time.Time
}

// ZonesInUse begins a review.
func (s sweepStore) ZonesInUse(ctx context.Context) ([]string, error) {
	s.m.Sweeps.Inc()
	s.m.LastSweep.Set(float64(s.now().Unix()))
	return s.st.ZonesInUse(ctx)
}

func (s sweepStore) PatientsBehind(ctx context.Context, zone string, today programs.Date, after int64, limit int) ([]int64, error) {
	return s.st.PatientsBehind(ctx, zone, today, after, limit)
}

func (s sweepStore) ActivePatientsAfter(ctx context.Context, after int64, limit int) ([]store.Patient, error) {
	return s.st.ActivePatientsAfter(ctx, after, limit)
}

// retention deletes the sessions of ended programs older than days, once a
// day from the review; days 0 keeps them for ever.
// Feeds that showed deleted sessions are forgotten (forget).
func retention(st *store.Store, days int, m *metrics.Review, log *slog.Logger, forget func()) func(ctx context.Context, now time.Time) error {
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
		if n > 0 {
			forget()
		}
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

// BaseURL is the configured public URL, or http://<listen address>.
func BaseURL(cfg *config.Config, listen string) (*url.URL, error) {
	raw := cfg.BaseURL
	if raw == "" {
		raw = "http://" + listen
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q must be an absolute http or https URL, e.g. https://pacer.example.org", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}
