package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, file string, e map[string]string) Config {
	t.Helper()
	c, err := Load(file, env(e))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}

func TestLoadAndDefaults(t *testing.T) {
	c := load(t, "", nil)
	if c.Listen != "127.0.0.1:8080" || c.StateDir != "pacer-data" || c.DSN() != "sqlite:pacer-data/pacer.db" || c.Postgres() ||
		c.LogLevel != "info" || c.SMTP.TLS != "starttls" || c.SMTP.Port != 587 || c.Retention.SessionDays != 400 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
	c = load(t, "", map[string]string{"PACER_DB": "postgres://x@h/db", "PACER_LISTEN": ":9", "PACER_BASE_URL": "https://p.example",
		"XDG_STATE_HOME": "/var/xdg"})
	if c.DSN() != "postgres://x@h/db" || !c.Postgres() || c.Listen != ":9" || c.BaseURL != "https://p.example" || c.StateDir != "/var/xdg/pacer" {
		t.Errorf("from the environment %+v", c)
	}
	if d := StateDir(env(map[string]string{"STATE_DIRECTORY": "/var/lib/pacer:/other", "XDG_STATE_HOME": "/x"})); d != "/var/lib/pacer" {
		t.Errorf("systemd's STATE_DIRECTORY wins: %s", d)
	}
	for tls, port := range map[string]int{"tls": 465, "none": 25, "starttls": 587} {
		if c := load(t, "", map[string]string{"PACER_SMTP_TLS": tls}); c.SMTP.Port != port {
			t.Errorf("smtp.tls %s: port %d, want %d", tls, c.SMTP.Port, port)
		}
	}
}

// The layers, lowest first: defaults, file, credentials, environment, flags.
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := write(t, dir, "pacer.toml", `
db = "sqlite:/from/file.db"
listen = "127.0.0.1:1001"
base_url = "https://file.example"
log_level = "warn"

[smtp]
host = "mail.file.example"
port = 2525
from = "pacer@file.example"
username = "pacer"
password = "from-file"
tls = "tls"

[pushover]
token = "pushover-from-file"

[retention]
session_days = 90
`)
	creds := t.TempDir()
	write(t, creds, "pushover_token", "pushover-from-credential\n")
	e := map[string]string{"PACER_LISTEN": "127.0.0.1:2002", "PACER_BASE_URL": "https://env.example", "CREDENTIALS_DIRECTORY": creds}

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := AddFlags(fs, "db", "listen", "base_url")
	if err := fs.Parse([]string{"--config", file, "--base-url", "https://flag.example"}); err != nil {
		t.Fatal(err)
	}
	c, err := f.Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ key, got, want, source string }{
		{"db", c.DB, "sqlite:/from/file.db", "file " + file},
		{"listen", c.Listen, "127.0.0.1:2002", "PACER_LISTEN"},
		{"base_url", c.BaseURL, "https://flag.example", "--base-url"},
		{"log_level", c.LogLevel, "warn", "file " + file},
		{"smtp.port", fmt.Sprint(c.SMTP.Port), "2525", "file " + file},
		{"smtp.password", c.SMTP.Password.Value(), "from-file", "file " + file},
		{"pushover.token", c.Pushover.Token.Value(), "pushover-from-credential", "credential pushover_token"},
		{"retention.session_days", fmt.Sprint(c.Retention.SessionDays), "90", "file " + file},
		{"state_dir", c.StateDir, "pacer-data", "default"},
	} {
		if x.got != x.want || c.Source(x.key) != x.source {
			t.Errorf("%s = %q from %q, want %q from %q", x.key, x.got, c.Source(x.key), x.want, x.source)
		}
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}

	// The environment beats a credential; PACER_X_FILE counts as the environment.
	secretFile := write(t, dir, "pushover", "pushover-from-env-file\n")
	e["PACER_PUSHOVER_TOKEN_FILE"] = secretFile
	c = load(t, file, e)
	if c.Pushover.Token.Value() != "pushover-from-env-file" || c.Source("pushover.token") != "PACER_PUSHOVER_TOKEN_FILE" {
		t.Errorf("PACER_PUSHOVER_TOKEN_FILE: %q from %s", c.Pushover.Token.Value(), c.Source("pushover.token"))
	}
	e["PACER_PUSHOVER_TOKEN"] = "direct"
	if _, err := Load(file, env(e)); err == nil || !strings.Contains(err.Error(), "both PACER_PUSHOVER_TOKEN and PACER_PUSHOVER_TOKEN_FILE are set") {
		t.Errorf("a secret set twice in one layer: %v", err)
	}

	// PACER_CONFIG names the file when --config does not.
	if c := load(t, "", map[string]string{"PACER_CONFIG": file}); c.DB != "sqlite:/from/file.db" || c.File != file {
		t.Errorf("PACER_CONFIG: %+v", c)
	}
}

func TestSecretsFromFilesAndCredentials(t *testing.T) {
	dir := t.TempDir()
	pw := write(t, dir, "smtp-password", "s3cret-pw\r\n")
	file := write(t, dir, "pacer.toml", fmt.Sprintf(`
[smtp]
host = "mail.example"
from = "Pacer <pacer@example.org>"
username = "u"
password_file = %q

[telegram]
token_file = %q
`, pw, write(t, dir, "tg", "123:telegram-token\n")))
	creds := t.TempDir()
	write(t, creds, "secret_key", strings.Repeat("k", 32))
	write(t, creds, "smtp_password", "") // empty: a SetCredential= fallback, not a value
	c := load(t, file, map[string]string{"CREDENTIALS_DIRECTORY": creds})
	if c.SMTP.Password.Value() != "s3cret-pw" || c.Telegram.Token.Value() != "123:telegram-token" {
		t.Errorf("secrets from files: %q %q", c.SMTP.Password.Value(), c.Telegram.Token.Value())
	}
	if c.SecretKeyFile != filepath.Join(creds, "secret_key") || c.Source("secret_key_file") != "credential secret_key" {
		t.Errorf("secret key credential: %q from %s", c.SecretKeyFile, c.Source("secret_key_file"))
	}
	if k, _, err := c.SecretKey(false); err != nil || len(k) != 32 {
		t.Errorf("secret key: %d bytes, %v", len(k), err)
	}
	write(t, creds, "smtp_password", "from-credential")
	if c := load(t, file, map[string]string{"CREDENTIALS_DIRECTORY": creds}); c.SMTP.Password.Value() != "from-credential" {
		t.Errorf("a credential beats the file: %q", c.SMTP.Password.Value())
	}
	if c := load(t, "", map[string]string{"CREDENTIALS_DIRECTORY": creds, "PACER_SECRET_KEY_FILE": "/etc/k"}); c.SecretKeyFile != "/etc/k" {
		t.Errorf("PACER_SECRET_KEY_FILE beats the credential: %q", c.SecretKeyFile)
	}
	if _, err := Load("", env(map[string]string{"PACER_SMTP_PASSWORD_FILE": filepath.Join(dir, "missing")})); err == nil ||
		!strings.Contains(err.Error(), "PACER_SMTP_PASSWORD_FILE") {
		t.Errorf("a missing secret file: %v", err)
	}
}

func TestNothingPrintsASecret(t *testing.T) {
	secrets := []string{"pw-AAAA", "pushover-BBBB", "telegram-CCCC", "dbpw-DDDD"}
	c := load(t, "", map[string]string{
		"PACER_DB":             "postgres://pacer:dbpw-DDDD@db.example/pacer",
		"PACER_SMTP_HOST":      "mail.example",
		"PACER_SMTP_FROM":      "pacer@example.org",
		"PACER_SMTP_USERNAME":  "pacer",
		"PACER_SMTP_PASSWORD":  "pw-AAAA",
		"PACER_PUSHOVER_TOKEN": "pushover-BBBB",
		"PACER_TELEGRAM_TOKEN": "telegram-CCCC",
	})
	var printed strings.Builder
	if err := c.Print(&printed); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(c)
	for name, out := range map[string]string{
		"Print": printed.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("password %s", c.SMTP.Password), "JSON": string(js),
	} {
		for _, s := range secrets[:3] {
			if strings.Contains(out, s) {
				t.Errorf("%s shows the secret %s:\n%s", name, s, out)
			}
		}
		if name != "Print" && !strings.Contains(out, redacted) {
			t.Errorf("%s: no %q in\n%s", name, redacted, out)
		}
	}
	out := printed.String()
	if strings.Contains(out, "dbpw-DDDD") {
		t.Errorf("Print shows the database password:\n%s", out)
	}
	for _, want := range []string{`password = "(redacted)"`, `token = "(redacted)"`, "PACER_SMTP_PASSWORD", "[smtp]", `host = "mail.example"`} {
		if !strings.Contains(out, want) {
			t.Errorf("Print lacks %q:\n%s", want, out)
		}
	}
}

func TestValidateNamesTheFix(t *testing.T) {
	for _, x := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PACER_SMTP_HOST": "mail.example"}, "smtp.host is set, so smtp.from must be set too"},
		{map[string]string{"PACER_SMTP_FROM": "a@b.example"}, "smtp.from is set but smtp.host is not"},
		{map[string]string{"PACER_SMTP_HOST": "m", "PACER_SMTP_FROM": "not an address"}, `smtp.from "not an address" is not an email address`},
		{map[string]string{"PACER_SMTP_HOST": "m", "PACER_SMTP_FROM": "a@b.example", "PACER_SMTP_USERNAME": "u"}, "smtp.username is set, so smtp.password must be set too"},
		{map[string]string{"PACER_SMTP_TLS": "ssl"}, `smtp.tls "ssl" is not one of none, starttls, tls`},
		{map[string]string{"PACER_SMTP_PORT": "70000"}, "smtp.port 70000 is not a port"},
		{map[string]string{"PACER_LISTEN": "8080"}, `listen "8080" is not host:port`},
		{map[string]string{"PACER_BASE_URL": "ftp://x"}, "absolute http or https URL"},
		{map[string]string{"PACER_NTFY_SERVER": "ntfy.sh"}, `ntfy.server "ntfy.sh" must be an absolute http or https URL`},
		{map[string]string{"PACER_LOG_LEVEL": "verbose"}, `log_level "verbose" is not one of`},
		{map[string]string{"PACER_RETENTION_SESSION_DAYS": "-1"}, "retention.session_days is -1"},
		{map[string]string{"PACER_CLINIC_CONTACT": "Physio am Park\n030 1234567"}, "clinic.contact has a line break"},
		{map[string]string{"PACER_CLINIC_CONTACT": strings.Repeat("Physio ", 30)}, "clinic.contact is 210 characters long: keep it to 200"},
		{map[string]string{"PACER_CLINIC_CONTACT": "   "}, "clinic.contact is only spaces"},
	} {
		err := load(t, "", x.env).Validate()
		if err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%v: got %v, want %q", x.env, err, x.want)
		}
	}
	if _, err := Load("", env(map[string]string{"PACER_SMTP_PORT": "submission"})); err == nil ||
		!strings.Contains(err.Error(), `PACER_SMTP_PORT: smtp.port must be a whole number, not "submission"`) {
		t.Errorf("a port that is not a number: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, x := range []struct{ content, want string }{
		{"[smtp]\nhots = \"x\"\n", "unknown key smtp.hots (did you mean smtp.host?)\n" + filepath.Join(dir, "pacer.toml") + ": the keys are db, listen"},
		{"listen = 8080\n", "listen must be text in quotes, not 8080"},
		{"[smtp]\nport = \"587\"\n", `smtp.port must be a number without quotes, not "587"`},
		{"listen = [1]\n", "listen must be text in quotes"},
		{"[smtp]\npassword = \"a\"\npassword_file = \"/x\"\n", "both smtp.password and smtp.password_file are set"},
		{"[smtp]\nhost_file = \"/x\"\n", "unknown key smtp.host_file"},
		{"listen = \"a\"\nlisten = \"b\"\n", "pacer.toml: toml: line 2"},
	} {
		file := write(t, dir, "pacer.toml", x.content)
		if _, err := Load(file, env(nil)); err == nil || !strings.Contains(err.Error(), x.want) {
			t.Errorf("%q: got %v, want %q", x.content, err, x.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), env(nil)); err == nil || !strings.Contains(err.Error(), "read the configuration file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFlagsNeverTakeSecrets(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("AddFlags accepted a secret")
		}
	}()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	AddFlags(fs, "smtp.password")
}

func TestSecretKey(t *testing.T) {
	dir := t.TempDir()
	c := Config{StateDir: filepath.Join(dir, "state")}
	if _, _, err := c.SecretKey(false); err == nil {
		t.Error("a missing key was read without create")
	}
	k1, path, err := c.SecretKey(true)
	if err != nil || len(k1) != 32 || path != filepath.Join(c.StateDir, "secret.key") {
		t.Fatalf("first start: %d bytes at %s, %v", len(k1), path, err)
	}
	if fi, err := os.Stat(filepath.Join(c.StateDir, "secret.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	if k2, _, _ := c.SecretKey(true); string(k2) != string(k1) {
		t.Error("the key changed on the second start")
	}
	// With --db naming a SQLite file, the key lives beside it, wherever the
	// state directory is.
	beside := Config{StateDir: filepath.Join(dir, "elsewhere"), DB: "sqlite:" + filepath.Join(dir, "data", "clinic.db")}
	if p, err := beside.KeyFile(); err != nil || p != filepath.Join(dir, "data", "secret.key") {
		t.Errorf("key beside --db: %s %v", p, err)
	}
	if p, _ := (Config{StateDir: dir, DB: filepath.Join(dir, "x", "y.db")}).KeyFile(); p != filepath.Join(dir, "x", "secret.key") {
		t.Errorf("key beside a plain path: %s", p)
	}
	pg := Config{DB: "postgres://x@h/db", StateDir: dir}
	if _, _, err := pg.SecretKey(true); err == nil || !strings.Contains(err.Error(), "PACER_SECRET_KEY_FILE") {
		t.Errorf("PostgreSQL without a key: %v", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("too short"), 0o600)
	if _, _, err := (Config{SecretKeyFile: short}).SecretKey(true); err == nil || !strings.Contains(err.Error(), "at least 32 random bytes") {
		t.Errorf("short key: %v", err)
	}
	if _, _, err := (Config{SecretKeyFile: filepath.Join(dir, "missing")}).SecretKey(true); err == nil {
		t.Error("a configured key file that is missing was created")
	}
}
