package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs pacer serve with a state directory of its own and returns
// its stdout once it listens, and a stop function that returns run's error.
func startServe(t *testing.T, env map[string]string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errs, now: time.Now}
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "pacer listening on") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v\n%s", err, errs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s\n%s", out.String(), errs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(cancel)
	return out.String(), func() error { cancel(); return <-done }
}

var listening = regexp.MustCompile(`pacer listening on (http://\S+) \(store: (\S+)\)`)

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestServeWithNoConfiguration(t *testing.T) {
	state := t.TempDir()
	out, stop := startServe(t, map[string]string{"STATE_DIRECTORY": state})
	m := listening.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no listening line in %q", out)
	}
	if want := "sqlite:" + filepath.Join(state, "pacer.db"); m[2] != want {
		t.Errorf("store %s, want SQLite in the state directory (%s)", m[2], want)
	}
	if code, _, _ := get(t, m[1]+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	if err := stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
}

func TestServeDemo(t *testing.T) {
	out, stop := startServe(t, map[string]string{"STATE_DIRECTORY": t.TempDir(), "TZ": "Europe/Berlin"}, "--demo")
	defer stop()
	feed := regexp.MustCompile(`calendar feed:\s+(\S+)`).FindStringSubmatch(out)
	webcal := regexp.MustCompile(`subscribe:\s+(webcal://\S+\.ics)`).FindStringSubmatch(out)
	checkin := regexp.MustCompile(`check-in page:\s+(\S+)`).FindStringSubmatch(out)
	if feed == nil || webcal == nil || checkin == nil {
		t.Fatalf("demo output lacks links:\n%s", out)
	}
	code, body, h := get(t, feed[1])
	// Four weeks in, the walk has its own dose by now.
	if code != 200 || h.Get("Content-Type") != "text/calendar; charset=utf-8" || !regexp.MustCompile(`SUMMARY:Walk · \d+ min`).MatchString(body) {
		t.Errorf("demo feed: %d %s", code, h.Get("Content-Type"))
	}
	if code, _, _ := get(t, checkin[1]); code != 200 {
		t.Errorf("demo check-in page: %d", code)
	}
}

func TestUserTokenAndMigrate(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
	out, _, code := pacer(t, "migrate", "--db", db)
	if code != 0 || !regexp.MustCompile(`^schema at version \d+ \(sqlite\)\n$`).MatchString(out) {
		t.Errorf("migrate: %d %q", code, out)
	}
	out, errs, code := pacer(t, "user", "add", "--email", "kim@example.org", "--name", "Kim", "--db", db, "--base-url", "https://pacer.example.org")
	if code != 0 || !regexp.MustCompile(`^https://pacer\.example\.org/setup/[A-Za-z0-9_-]{43}\n$`).MatchString(out) || !strings.Contains(errs, "one-time link") {
		t.Errorf("user add: %d %q %q", code, out, errs)
	}
	if _, errs, code := pacer(t, "user", "add", "--email", "KIM@example.org", "--db", db); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate user: %d %q", code, errs)
	}
	out, _, code = pacer(t, "token", "create", "--email", "kim@example.org", "--db", db)
	if code != 0 || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("token create: %d %q", code, out)
	}
	if _, errs, code := pacer(t, "token", "create", "--email", "nobody@example.org", "--db", db); code != 1 || !strings.Contains(errs, "pacer user add --email nobody@example.org") {
		t.Errorf("token for an unknown therapist: %d %q", code, errs)
	}
	if _, errs, code := pacer(t, "serve", "--base-url", "ftp://x", "--db", db); code != 1 || !strings.Contains(errs, "must be an absolute http or https URL") {
		t.Errorf("bad base URL: %d %q", code, errs)
	}
}
