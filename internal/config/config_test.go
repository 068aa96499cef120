package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadAndDefaults(t *testing.T) {
	c := Load(env(nil))
	if c.Listen != "127.0.0.1:8080" || c.StateDir != "pacer-data" || c.DSN() != "sqlite:pacer-data/pacer.db" || c.Postgres() {
		t.Errorf("defaults %+v", c)
	}
	c = Load(env(map[string]string{"PACER_DB": "postgres://x@h/db", "PACER_LISTEN": ":9", "PACER_BASE_URL": "https://p.example",
		"XDG_STATE_HOME": "/var/xdg"}))
	if c.DSN() != "postgres://x@h/db" || !c.Postgres() || c.Listen != ":9" || c.BaseURL != "https://p.example" || c.StateDir != "/var/xdg/pacer" {
		t.Errorf("from the environment %+v", c)
	}
	if d := StateDir(env(map[string]string{"STATE_DIRECTORY": "/var/lib/pacer:/other", "XDG_STATE_HOME": "/x"})); d != "/var/lib/pacer" {
		t.Errorf("systemd's STATE_DIRECTORY wins: %s", d)
	}
	if err := (Config{Listen: ":1", BaseURL: "ftp://x"}).Validate(); err == nil || !strings.Contains(err.Error(), "absolute http or https URL") {
		t.Errorf("bad base URL: %v", err)
	}
}

func TestSecretKey(t *testing.T) {
	dir := t.TempDir()
	c := Config{StateDir: filepath.Join(dir, "state")}
	k1, err := c.SecretKey()
	if err != nil || len(k1) != 32 {
		t.Fatalf("first start: %d bytes, %v", len(k1), err)
	}
	if fi, err := os.Stat(filepath.Join(c.StateDir, "secret.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	if k2, _ := c.SecretKey(); string(k2) != string(k1) {
		t.Error("the key changed on the second start")
	}
	pg := Config{DB: "postgres://x@h/db", StateDir: dir}
	if _, err := pg.SecretKey(); err == nil || !strings.Contains(err.Error(), "PACER_SECRET_KEY_FILE") {
		t.Errorf("PostgreSQL without a key: %v", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	if _, err := (Config{SecretKeyFile: short}).SecretKey(); err == nil || !strings.Contains(err.Error(), "at least 32 random bytes") {
		t.Errorf("short key: %v", err)
	}
	creds := t.TempDir()
	os.WriteFile(filepath.Join(creds, "secret_key"), []byte(strings.Repeat("s", 32)), 0o600)
	if c := Load(env(map[string]string{"CREDENTIALS_DIRECTORY": creds})); c.SecretKeyFile != filepath.Join(creds, "secret_key") {
		t.Errorf("systemd credential not used: %+v", c)
	}
}
