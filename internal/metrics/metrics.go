// Package metrics owns pacer's Prometheus registry and the definitions of the
// pacer_ metrics. It never uses the client library's global registry: serve
// makes one Registry, and each area gets its instruments from a constructor
// here (NewWeb, NewStore, NewReview), so every metric is defined in one place
// and tests can read a registry of their own. An area that adds metrics (the
// reminder outbox, say) adds a constructor of its own beside these and
// registers through Registry.MustRegister.
//
// Labels are bounded sets (routes, status codes, check-in kinds, decision
// codes, store operations): never a patient, a token or anything a person
// logged.
//
// The package imports the client library and nothing of pacer's.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the set of collectors /metrics exposes.
type Registry struct {
	reg *prometheus.Registry
}

// NewRegistry returns a registry holding the Go runtime and process collectors.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// MustRegister adds collectors; a duplicate or invalid one panics, as at
// start-up only.
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }

// Gatherer is the registry as the client library reads it, e.g. for tests.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text format. A collector
// that fails (the decisions count while the store is down) is left out and
// the rest still served, so an outage does not blind the monitoring.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg, Timeout: 10 * time.Second,
		ErrorHandling: promhttp.ContinueOnError})
}

// Web are the HTTP layer's instruments.
type Web struct {
	Requests *prometheus.CounterVec   // route, code
	Duration *prometheus.HistogramVec // route
	Feeds    *prometheus.CounterVec   // code
	CheckIns *prometheus.CounterVec   // kind
}

// NewWeb defines and registers the HTTP metrics.
func NewWeb(r *Registry) *Web {
	w := &Web{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pacer_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
		Feeds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_feed_requests_total",
			Help: "Calendar feed requests by status code; 304 is a calendar app's unchanged copy.",
		}, []string{"code"}),
		CheckIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_checkins_total",
			Help: "Check-ins stored, by kind (session, daily, flare, settled, weekly, red_flag).",
		}, []string{"kind"}),
	}
	r.MustRegister(w.Requests, w.Duration, w.Feeds, w.CheckIns)
	return w
}

// Store are the store's instruments.
type Store struct {
	Duration *prometheus.HistogramVec // op
	Errors   *prometheus.CounterVec   // op
}

// NewStore defines and registers the store metrics.
func NewStore(r *Registry) *Store {
	s := &Store{
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pacer_store_duration_seconds",
			Help:    "Time a store call took, by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_store_errors_total",
			Help: "Store calls that failed, not counting not-found answers, by operation.",
		}, []string{"op"}),
	}
	r.MustRegister(s.Duration, s.Errors)
	return s
}

// Observe records one call of op that began at start.
func (s *Store) Observe(op string, start time.Time, failed bool) {
	s.Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if failed {
		s.Errors.WithLabelValues(op).Inc()
	}
}

// Review are the daily review sweep's instruments.
type Review struct {
	Sweeps      prometheus.Counter
	Reviews     *prometheus.CounterVec // result: ok, error
	LastSweep   prometheus.Gauge
	Retained    prometheus.Counter
	RetainFails prometheus.Counter
}

// NewReview defines and registers the review metrics.
func NewReview(r *Registry) *Review {
	v := &Review{
		Sweeps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pacer_review_sweeps_total",
			Help: "Review sweeps started (one at start, then one an hour).",
		}),
		Reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_reviews_total",
			Help: "Assignments the review sweep re-planned, by result (ok, error).",
		}, []string{"result"}),
		LastSweep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pacer_review_last_sweep_timestamp_seconds",
			Help: "When the last review sweep started, in Unix seconds.",
		}),
		Retained: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pacer_retention_deleted_sessions_total",
			Help: "Sessions of ended programs deleted by the retention period.",
		}),
		RetainFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pacer_retention_errors_total",
			Help: "Retention runs that failed.",
		}),
	}
	v.Reviews.WithLabelValues("ok")
	v.Reviews.WithLabelValues("error")
	r.MustRegister(v.Sweeps, v.Reviews, v.LastSweep, v.Retained, v.RetainFails)
	return v
}

// NewCurrentDecisions registers pacer_current_decisions: how many active
// assignments stand at each decision code this week (PROGRESS,
// HOLD_ADHERENCE, FLARE_STEP_BACK, PAUSED_RED_FLAG, …), read from count at a
// scrape at most every DecisionsEvery, since counting looks up every active
// assignment's current week (a third of a second of CPU at 100,000
// patients).
func NewCurrentDecisions(r *Registry, count func(ctx context.Context) (map[string]int, error)) {
	r.MustRegister(&countCollector{
		desc: prometheus.NewDesc("pacer_current_decisions", fmt.Sprintf(
			"Active assignments by the decision code of their current week, counted at most every %d minutes.",
			int(DecisionsEvery/time.Minute)), []string{"code"}, nil),
		count: count,
		every: DecisionsEvery,
	})
}

// DecisionsEvery is how long pacer_current_decisions keeps a count.
const DecisionsEvery = 5 * time.Minute

// countCollector turns a query into a labelled gauge at scrape time. With
// every set, a count is kept that long and concurrent scrapes share one
// count; a failed count is not kept.
type countCollector struct {
	desc  *prometheus.Desc
	count func(ctx context.Context) (map[string]int, error)
	every time.Duration

	mu     sync.Mutex
	last   map[string]int
	lastAt time.Time
}

func (c *countCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *countCollector) Collect(ch chan<- prometheus.Metric) {
	counts, err := c.counts()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for code, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), code)
	}
}

func (c *countCollector) counts() (map[string]int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && time.Since(c.lastAt) < c.every {
		return c.last, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		return nil, err
	}
	c.last, c.lastAt = counts, time.Now()
	return counts, nil
}
