package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// config check prints the warnings, and serve logs the same ones, in the
// same words, at start.
func TestConfigWarningsInCheckAndServe(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pacer.toml")
	os.WriteFile(file, []byte("base_url = \"http://pacer.example.org\"\ncolour = \"blue\"\nlisen = \"x\"\n"), 0o600)
	env := map[string]string{"STATE_DIRECTORY": dir}

	// A bad file: every unknown key at once.
	_, errs, code := pacerEnv(t, env, "config", "check", "--config", file)
	if code != 1 || !strings.Contains(errs, "unknown key colour") || !strings.Contains(errs, "unknown key lisen (did you mean listen?)") {
		t.Fatalf("unknown keys: %d %q", code, errs)
	}

	// The clinic's contact is set: without it and a mail server, a third
	// warning says patients are asked to contact the clinic with no way to.
	os.WriteFile(file, []byte("base_url = \"http://pacer.example.org\"\n[clinic]\ncontact = \"Physio am Park, 030 1234567\"\n"), 0o600)
	_, errs, code = pacerEnv(t, env, "config", "check", "--config", file, "--listen", "127.0.0.1:0")
	if code != 0 || !strings.HasSuffix(errs, "configuration OK, with the 2 warnings above\n") {
		t.Fatalf("config check with warnings: %d %q", code, errs)
	}
	printed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if rest, ok := strings.CutPrefix(line, "warning: "); ok {
			key, msg, _ := strings.Cut(rest, ": ")
			printed[key] = msg
		}
	}
	if len(printed) != 2 || printed["base_url"] == "" || printed["smtp.host"] == "" {
		t.Fatalf("config check printed the warnings %v", printed)
	}

	var out, logs syncBuffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &logs, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, []string{"serve", "--config", file, "--listen", "127.0.0.1:0"}) }()
	// Up once /readyz answers: stopping it earlier would cut its start short.
	// The listening line names the base URL, so the address comes from the log.
	serving := regexp.MustCompile(`"msg":"serving","addr":"([^"]+)"`)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := serving.FindStringSubmatch(logs.String()); m != nil {
			if resp, err := http.Get("http://" + m[1] + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logged := map[string]string{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct{ Level, Msg, Key, Warning string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "configuration warning" {
			if rec.Level != "WARN" {
				t.Errorf("logged at %s: %s", rec.Level, line)
			}
			logged[rec.Key] = rec.Warning
		}
	}
	for key, msg := range printed {
		if logged[key] != msg {
			t.Errorf("serve logged %s: %q; config check printed %q", key, logged[key], msg)
		}
	}
	if len(logged) != len(printed) {
		t.Errorf("serve logged %v, config check printed %v", logged, printed)
	}
}
