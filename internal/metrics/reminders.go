package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reminders are the outbox dispatcher's instruments. Its methods match
// scheduler.DispatchMetrics, so a *Reminders can be the dispatcher's Metrics.
type Reminders struct {
	sent     *prometheus.CounterVec   // kind
	skipped  *prometheus.CounterVec   // kind, reason
	failed   *prometheus.CounterVec   // kind
	retried  *prometheus.CounterVec   // kind
	lateness *prometheus.HistogramVec // kind
	rows     prometheus.Histogram     // results per commit
	commit   prometheus.Histogram     // seconds per commit
}

// NewReminders defines and registers the reminder metrics.
func NewReminders(r *Registry) *Reminders {
	m := &Reminders{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_reminders_sent_total",
			Help: "Reminders delivered, by kind.",
		}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_reminders_skipped_total",
			Help: "Reminders not sent, by kind and reason (stale, checked_in, cancelled, quiet_hours, channel_removed, quota, unconfirmed, confirmed).",
		}, []string{"kind", "reason"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_reminders_failed_total",
			Help: "Reminders given up on after a permanent error or the last attempt, by kind.",
		}, []string{"kind"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pacer_reminders_retried_total",
			Help: "Temporary send failures that will be retried, by kind.",
		}, []string{"kind"}),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pacer_reminder_lateness_seconds",
			Help:    "How long after its due time a reminder was delivered (the end of its send), by kind.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600},
		}, []string{"kind"}),
		rows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pacer_reminder_record_rows",
			Help:    "Reminder results recorded in one commit (group commit of the outbox).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500},
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pacer_reminder_record_seconds",
			Help:    "How long one commit of reminder results took.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
	}
	r.MustRegister(m.sent, m.skipped, m.failed, m.retried, m.lateness, m.rows, m.commit)
	return m
}

// Sent records a delivery that was lateness past its due time.
func (m *Reminders) Sent(kind string, lateness time.Duration) {
	m.sent.WithLabelValues(kind).Inc()
	m.lateness.WithLabelValues(kind).Observe(max(lateness, 0).Seconds())
}

// Skipped records a reminder not sent, and why.
func (m *Reminders) Skipped(kind, reason string) { m.skipped.WithLabelValues(kind, reason).Inc() }

// Failed records a reminder given up on.
func (m *Reminders) Failed(kind string) { m.failed.WithLabelValues(kind).Inc() }

// Retried records a temporary failure.
func (m *Reminders) Retried(kind string) { m.retried.WithLabelValues(kind).Inc() }

// Recorded observes one commit of rows results that took took.
func (m *Reminders) Recorded(rows int, took time.Duration) {
	m.rows.Observe(float64(rows))
	m.commit.Observe(took.Seconds())
}

// NewOutbox registers pacer_reminders_outbox, read from count when Prometheus
// scrapes: the outbox's rows that are pending (due or coming due), being
// sent, or failed. Sent and skipped rows are history, as many as the
// retention period keeps, and counting them at every scrape would cost a
// scan of the outbox; pacer_reminders_sent_total and …_skipped_total count
// them as they happen.
func NewOutbox(r *Registry, count func(ctx context.Context) (map[string]int, error)) {
	r.MustRegister(&countCollector{
		desc: prometheus.NewDesc("pacer_reminders_outbox",
			"Reminder rows in the outbox that are pending, sending or failed.", []string{"status"}, nil),
		count: count,
	})
}
