package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pacer/internal/metrics"
	"pacer/internal/store"
	"pacer/programs"
)

// newMeteredEnv is newEnv with an instrumented store and /metrics.
func newMeteredEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := NewKeyring(bytes.Repeat([]byte("k"), 32))
	c := &clock{t: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)}
	e := &env{t: t, st: st, clock: c}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	base, _ := url.Parse(e.srv.URL)
	reg := metrics.NewRegistry()
	wm := metrics.NewWeb(reg)
	s := New(InstrumentStore(st, metrics.NewStore(reg), wm), keys, lib, base, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Metrics = NewMetrics(reg, wm)
	metrics.NewCurrentDecisions(reg, func(ctx context.Context) (map[string]int, error) {
		return st.CurrentDecisions(ctx, programs.DateOf(c.Now()))
	})
	mux.Handle("/", s.Handler())
	th, err := st.CreateTherapist(ctx, "a@example.org", "", false)
	if err != nil {
		t.Fatal(err)
	}
	e.tokenA, _ = store.NewToken()
	if err := st.CreateAPIToken(ctx, th.ID, "test", store.HashToken(e.tokenA)); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestMetricsExposition(t *testing.T) {
	e := newMeteredEnv(t)
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	e.json("POST", "/api/v1/patients/1/assignments", e.tokenA, `{"program":"walking","start":"2026-11-23","baseline":{"walk":10}}`, 201, nil)
	code, _, h := e.do("GET", links.FeedURL, "", "")
	if code != 200 {
		t.Fatalf("feed: %d", code)
	}
	if code, _, _ := e.do("GET", links.FeedURL, "", "", "If-None-Match", h.Get("ETag")); code != 304 {
		t.Fatalf("conditional feed: %d", code)
	}
	e.do("GET", strings.Replace(links.FeedURL, "/feed/", "/feed/x", 1), "", "") // an unknown feed: 404
	e.json("POST", links.CheckinURL+"/checkins", "", `{"kind":"daily","pain":2}`, 201, nil)
	e.do("GET", "/no/such/page", "", "")

	code, body, h := e.do("GET", "/metrics", "", "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", code, h.Get("Content-Type"))
	}
	text := string(body)
	for _, want := range []string{
		`pacer_feed_requests_total{code="200"} 1`,
		`pacer_feed_requests_total{code="304"} 1`,
		`pacer_feed_requests_total{code="404"} 1`,
		`pacer_checkins_total{kind="daily"} 1`,
		`pacer_http_requests_total{code="201",route="POST /api/v1/patients"} 1`,
		`pacer_http_requests_total{code="404",route="unmatched"} 1`,
		`pacer_current_decisions{code="START"} 1`,
		`pacer_store_duration_seconds_count{op="patient_by_feed_token"} 3`,
		`pacer_store_duration_seconds_bucket{op="save_plan",le="+Inf"}`,
		`pacer_http_request_duration_seconds_count{route="GET /feed/{file}"} 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The unknown feed is a not-found answer, not a store failure.
	if strings.Contains(text, "pacer_store_errors_total{") {
		t.Errorf("store errors counted:\n%s", regexp.MustCompile(`(?m)^pacer_store_errors_total.*$`).FindAllString(text, -1))
	}
	// Labels are routes, never paths: no capability token reaches /metrics.
	for _, u := range []string{links.FeedURL, links.CheckinURL} {
		tok := strings.TrimSuffix(u[strings.LastIndexByte(u, '/')+1:], ".ics")
		if strings.Contains(text, tok) {
			t.Errorf("/metrics shows the token of %s", u)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if name, _, _ := strings.Cut(line, "{"); strings.HasPrefix(line, "pacer") && !strings.HasPrefix(name, "pacer_") {
			t.Errorf("a metric without the pacer_ prefix: %s", line)
		}
	}
}

// A server without Metrics has no /metrics.
func TestNoMetricsWithoutRegistry(t *testing.T) {
	e := newEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	if code, _, _ := e.do("GET", "/metrics", "", ""); code != 404 {
		t.Errorf("/metrics without a registry: %d", code)
	}
}
