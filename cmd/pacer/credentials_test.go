package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The credential lifecycle from the command line: tokens listed with their
// last use and revoked, tokens that expire, therapists disabled and enabled,
// and a new setup link for one who exists.
func TestCredentialCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
	run := func(args ...string) (string, string, int) { return pacer(t, append(args, "--db", db)...) }
	if _, _, code := run("user", "add", "--email", "kim@example.org"); code != 0 {
		t.Fatal("user add")
	}
	if _, errs, code := run("user", "add", "--email", "kim@example.org"); code != 1 ||
		!strings.Contains(errs, "pacer user reset-link --email kim@example.org") {
		t.Errorf("user add of an existing email: %d %q", code, errs)
	}
	out, errs, code := run("user", "reset-link", "--email", "kim@example.org", "--base-url", "https://pacer.example.org")
	if code != 0 || !regexp.MustCompile(`^https://pacer\.example\.org/setup/[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("reset-link: %d %q %q", code, out, errs)
	}
	tok, errs, code := run("token", "create", "--email", "kim@example.org", "--expires", "90d", "--name", "ci")
	if code != 0 || !regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`).MatchString(tok) || !strings.Contains(errs, "works until 2027-02-19") {
		t.Errorf("token create --expires 90d: %d %q %q", code, tok, errs)
	}
	run("token", "create", "--email", "kim@example.org", "--name", "laptop")
	for _, bad := range []string{"0d", "-1d", "soon", "4000d", "30s"} {
		if _, errs, code := run("token", "create", "--email", "kim@example.org", "--expires", bad); code != 2 || !strings.Contains(errs, "--expires") {
			t.Errorf("--expires %s: %d %q", bad, code, errs)
		}
	}
	out, _, _ = run("token", "list")
	if !regexp.MustCompile(`(?m)^1\s+kim@example\.org\s+ci\s+\S+ \S+\s+never\s+2027-02-19 09:00$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^2\s+kim@example\.org\s+laptop\s+.*never\s+never$`).MatchString(out) || strings.Contains(out, strings.TrimSpace(tok)) {
		t.Errorf("token list:\n%s", out)
	}
	if out, _, code := run("token", "revoke", "1"); code != 0 || !strings.Contains(out, "revoked token 1") {
		t.Errorf("revoke: %d %q", code, out)
	}
	if _, errs, code := run("token", "revoke", "1"); code != 1 || !strings.Contains(errs, "no API token has the ID 1") {
		t.Errorf("revoke twice: %d %q", code, errs)
	}
	out, _, _ = run("token", "list", "--json", "--email", "kim@example.org")
	var ks []tokenJSON
	if err := json.Unmarshal([]byte(out), &ks); err != nil || len(ks) != 1 || ks[0].Name != "laptop" {
		t.Errorf("token list --json: %v %s", err, out)
	}
	if out, _, code := run("user", "disable", "--email", "kim@example.org"); code != 0 || !strings.Contains(out, "disabled") {
		t.Errorf("disable: %d %q", code, out)
	}
	if _, errs, code := run("token", "create", "--email", "kim@example.org"); code != 1 || !strings.Contains(errs, "pacer user enable") {
		t.Errorf("a token for a disabled therapist: %d %q", code, errs)
	}
	if _, errs, code := run("user", "reset-link", "--email", "kim@example.org"); code != 1 || !strings.Contains(errs, "disabled") {
		t.Errorf("reset-link for a disabled therapist: %d %q", code, errs)
	}
	if _, _, code := run("user", "enable", "--email", "kim@example.org"); code != 0 {
		t.Error("enable")
	}
	if _, errs, code := run("user", "disable", "--email", "nobody@example.org"); code != 1 || !strings.Contains(errs, "no therapist") {
		t.Errorf("disable an unknown email: %d %q", code, errs)
	}
	if _, errs, code := run("user", "add", "--email", "x@example.org", "--name", "X\u202eY"); code != 1 || !strings.Contains(errs, "--name") {
		t.Errorf("a name with a bidi override: %d %q", code, errs)
	}
}

// serve refuses a key that is not its database's, and makes none for a
// database whose links were made with one, naming the file to use.
func TestServeRefusesAnotherKey(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	db := filepath.Join(data, "clinic.db")
	env := map[string]string{"STATE_DIRECTORY": filepath.Join(dir, "state"), "PACER_DB": db}
	_, stop := startServe(t, env)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(data, "secret.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key beside --db: %v", err)
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the database's mode: %v %v", fi.Mode(), err)
	}
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, []byte(strings.Repeat("o", 32)), 0o600)
	env["PACER_SECRET_KEY_FILE"] = other
	if _, errs, code := pacerEnv(t, env, "serve", "--listen", "127.0.0.1:0"); code != 1 ||
		!strings.Contains(errs, key) || !strings.Contains(errs, "PACER_SECRET_KEY_FILE") {
		t.Errorf("serve with another key: %d %q", code, errs)
	}
	delete(env, "PACER_SECRET_KEY_FILE")
	os.Rename(key, key+".elsewhere")
	if _, errs, code := pacerEnv(t, env, "serve", "--listen", "127.0.0.1:0"); code != 1 || !strings.Contains(errs, key) {
		t.Errorf("serve with the key gone: %d %q", code, errs)
	}
	if _, err := os.Stat(key); err == nil {
		t.Error("serve made a new key for a database that has one")
	}
}
