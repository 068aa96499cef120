package web

import (
	"net/http"
	"strconv"
	"time"

	"pacer/internal/metrics"
)

// Metrics serves /metrics and counts requests by route. A Server without
// Metrics serves no /metrics and counts nothing.
type Metrics struct {
	handler http.Handler
	web     *metrics.Web
}

// NewMetrics serves reg and records requests into w.
func NewMetrics(reg *metrics.Registry, w *metrics.Web) *Metrics {
	return &Metrics{handler: reg.Handler(), web: w}
}

// ServeHTTP serves the registry.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// feedRoute is the calendar feed's route pattern.
const feedRoute = "GET /feed/{file}"

// observe records one answered request by its route pattern, never its path
// (paths carry capability tokens).
func (m *Metrics) observe(r *http.Request, status int, took time.Duration) {
	if m == nil {
		return
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	code := strconv.Itoa(status)
	m.web.Requests.WithLabelValues(route, code).Inc()
	m.web.Duration.WithLabelValues(route).Observe(took.Seconds())
	if route == feedRoute {
		m.web.Feeds.WithLabelValues(code).Inc()
	}
}
