package web_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestMetricsExposition(t *testing.T) {
	e := sqliteEnv(t) // daemon.New serves /metrics, as `pacer serve` does
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23","baseline":{"walk":10}}`, 201, nil)
	code, _, h := e.Do("GET", links.FeedURL, "", "")
	if code != 200 {
		t.Fatalf("feed: %d", code)
	}
	if code, _, _ := e.Do("GET", links.FeedURL, "", "", "If-None-Match", h.Get("ETag")); code != 304 {
		t.Fatalf("conditional feed: %d", code)
	}
	e.Do("GET", strings.Replace(links.FeedURL, "/feed/", "/feed/x", 1), "", "") // an unknown feed: 404
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"daily","pain":2}`, 201, nil)
	e.Do("GET", "/no/such/page", "", "")

	code, body, h := e.Do("GET", "/metrics", "", "")
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
		`pacer_store_duration_seconds_count{op="patient_by_feed_token"} 2`, // the conditional GET is served from the cache
		`pacer_store_duration_seconds_bucket{op="patient_tx",le="+Inf"}`,
		`pacer_engine_runs_total 2`, // the assignment and the check-in re-planned; the feeds read the stored plan
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
