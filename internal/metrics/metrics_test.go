package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func scrape(t *testing.T, r *Registry) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	return w.Code, w.Body.String()
}

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := NewRegistry(), NewRegistry()
	wa := NewWeb(a)
	NewWeb(b) // a second registry takes the same names: nothing is global
	wa.Feeds.WithLabelValues("304").Inc()
	_, textA := scrape(t, a)
	_, textB := scrape(t, b)
	if !strings.Contains(textA, `pacer_feed_requests_total{code="304"} 1`) || strings.Contains(textB, `pacer_feed_requests_total{code="304"}`) {
		t.Errorf("registries share state:\n%s\n---\n%s", textA, textB)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering the web metrics twice on one registry did not panic")
		}
	}()
	NewWeb(a)
}

func TestRemindersAndReview(t *testing.T) {
	r := NewRegistry()
	m := NewReminders(r)
	m.Sent("session", 90*time.Second)
	m.Sent("session", -time.Second) // early counts as on time
	m.Skipped("session", "checked_in")
	m.Failed("nudge")
	m.Retried("nudge")
	v := NewReview(r)
	v.Sweeps.Inc()
	s := NewStore(r)
	s.Observe("ping", time.Now(), false)
	s.Observe("ping", time.Now(), true)
	_, text := scrape(t, r)
	for _, want := range []string{
		`pacer_reminders_sent_total{kind="session"} 2`,
		`pacer_reminder_lateness_seconds_bucket{kind="session",le="1"} 1`,
		`pacer_reminder_lateness_seconds_bucket{kind="session",le="120"} 2`,
		`pacer_reminders_skipped_total{kind="session",reason="checked_in"} 1`,
		`pacer_reminders_failed_total{kind="nudge"} 1`,
		`pacer_reminders_retried_total{kind="nudge"} 1`,
		`pacer_review_sweeps_total 1`,
		`pacer_reviews_total{result="error"} 0`,
		`pacer_store_duration_seconds_count{op="ping"} 2`,
		`pacer_store_errors_total{op="ping"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %s", want)
		}
	}
}

func TestCurrentDecisionsAtScrape(t *testing.T) {
	r := NewRegistry()
	fail := false
	NewCurrentDecisions(r, func(ctx context.Context) (map[string]int, error) {
		if fail {
			return nil, errors.New("store down")
		}
		return map[string]int{"PROGRESS": 3, "HOLD_ADHERENCE": 1}, nil
	})
	code, text := scrape(t, r)
	if code != 200 || !strings.Contains(text, `pacer_current_decisions{code="PROGRESS"} 3`) || !strings.Contains(text, `pacer_current_decisions{code="HOLD_ADHERENCE"} 1`) {
		t.Errorf("%d\n%s", code, text)
	}
	// The count is kept (DecisionsEvery): the store is not asked again.
	fail = true
	if _, text := scrape(t, r); !strings.Contains(text, `pacer_current_decisions{code="PROGRESS"} 3`) {
		t.Errorf("the kept count is not shown:\n%s", text)
	}
	// The rest is still served when the count fails.
	r = NewRegistry()
	NewCurrentDecisions(r, func(ctx context.Context) (map[string]int, error) { return nil, errors.New("store down") })
	if code, text := scrape(t, r); code != 200 || strings.Contains(text, "pacer_current_decisions{") || !strings.Contains(text, "go_goroutines") {
		t.Errorf("a failing count: %d %s", code, text)
	}
}

// A count kept for a while is counted once however often Prometheus
// scrapes, until it is older than that; a failed count is not kept.
func TestCountKept(t *testing.T) {
	r := NewRegistry()
	calls, fail := 0, true
	c := &countCollector{desc: prometheus.NewDesc("pacer_test_count", "A test.", []string{"code"}, nil),
		count: func(ctx context.Context) (map[string]int, error) {
			calls++
			if fail {
				return nil, errors.New("store down")
			}
			return map[string]int{"A": calls}, nil
		}, every: time.Hour}
	r.MustRegister(c)
	if _, text := scrape(t, r); strings.Contains(text, "pacer_test_count{") {
		t.Errorf("a failed count is shown:\n%s", text)
	}
	fail = false
	for range 3 {
		if _, text := scrape(t, r); !strings.Contains(text, `pacer_test_count{code="A"} 2`) {
			t.Errorf("want the second count, kept:\n%s", text)
		}
	}
	c.mu.Lock()
	c.lastAt = c.lastAt.Add(-time.Hour)
	c.mu.Unlock()
	if _, text := scrape(t, r); !strings.Contains(text, `pacer_test_count{code="A"} 3`) {
		t.Errorf("an hour on, want a new count:\n%s", text)
	}
}

func TestBuildInfo(t *testing.T) {
	r := NewRegistry()
	NewBuildInfo(r, "v1.2.0", "0123abcd", "go1.26.8")
	_, text := scrape(t, r)
	if want := `pacer_build_info{commit="0123abcd",go_version="go1.26.8",version="v1.2.0"} 1`; !strings.Contains(text, want) {
		t.Errorf("lacks %s:\n%s", want, text)
	}
}
