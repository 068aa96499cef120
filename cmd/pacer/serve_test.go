package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
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
	// A safeguard against a server that never starts, not a measure of
	// start-up: under the race detector on a busy machine the demo's
	// seeding alone has taken over 20 s.
	deadline := time.Now().Add(2 * time.Minute)
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

// Run outside the server's state directory, a command that changes data
// fails, names the database it looked for, and creates none; every command
// says which store it uses.
func TestCommandsSayWhichStore(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"STATE_DIRECTORY": filepath.Join(dir, "elsewhere")}
	for _, args := range [][]string{
		{"user", "add", "--email", "kim@example.org"},
		{"token", "create", "--email", "kim@example.org"},
		{"token", "list"},
		{"backup", "--to", filepath.Join(dir, "b.db")},
	} {
		_, errs, code := pacerEnv(t, env, args...)
		want := filepath.Join(dir, "elsewhere", "pacer.db")
		if code != 1 || !strings.Contains(errs, "no pacer database at "+want) || !strings.Contains(errs, "using the SQLite store "+want) {
			t.Errorf("pacer %s outside the state directory: %d %q", strings.Join(args, " "), code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "elsewhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a command created the state directory: %v", err)
	}
	// Where the server's database is, the same commands work, and say so.
	db := filepath.Join(dir, "state", "pacer.db")
	if _, _, code := pacer(t, "migrate", "--db", db); code != 0 {
		t.Fatal("migrate")
	}
	if _, errs, code := pacer(t, "user", "add", "--email", "kim@example.org", "--db", db); code != 0 ||
		!strings.Contains(errs, "using the SQLite store "+db+" (from --db)") {
		t.Errorf("user add with --db: %d %q", code, errs)
	}
}

// help and --help work for every command and subcommand, on stdout, exit 0.
func TestHelpEverywhere(t *testing.T) {
	var lines [][]string
	for _, cmd := range commands() {
		lines = append(lines, []string{cmd.name, "--help"}, []string{"help", cmd.name})
	}
	for _, sub := range []string{"program list", "program show", "program validate", "program plan", "user add",
		"user disable", "user enable", "user reset-link", "token create", "token list", "token revoke", "config check",
		"notify test"} {
		f := strings.Fields(sub)
		lines = append(lines, []string{f[0], f[1], "--help"}, []string{f[0], "help", f[1]}, []string{"help", f[0], f[1]})
	}
	for _, args := range lines {
		out, errs, code := pacer(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") || strings.Contains(out+errs, "help requested") || strings.Contains(errs, "unknown") {
			t.Errorf("pacer %s: %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
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
