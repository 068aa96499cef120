// Package config owns pacer's one typed configuration. Each setting is read
// from, in rising precedence: its default, the optional TOML file (--config or
// PACER_CONFIG), systemd credentials ($CREDENTIALS_DIRECTORY, secrets only),
// the PACER_* environment, then command-line flags. Every secret may also come
// from a file (KEY_file in TOML, PACER_X_FILE in the environment). Nothing here
// is global: callers pass getenv in and get a value back. The package reads
// files; it opens no connections and imports nothing of pacer's.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config is everything pacer needs to start.
type Config struct {
	DB       string // a file path, sqlite:PATH or postgres://…; empty: SQLite in StateDir
	Listen   string // host:port
	BaseURL  string // the public URL links are built from; empty: http://<listen address>
	StateDir string
	// SecretKeyFile holds the key that capability tokens are derived from;
	// empty: secret.key beside the SQLite database, created on its first
	// start (SQLite only).
	SecretKeyFile string
	LogLevel      string // debug, info, warn or error
	// TrustedProxies are the reverse proxies (CIDRs or addresses, comma
	// separated) whose X-Forwarded-For names the client: rate limits count
	// the client, not the proxy. Empty: the connection's address counts.
	TrustedProxies string

	SMTP      SMTP
	Pushover  Pushover
	Telegram  Telegram
	Ntfy      Ntfy
	Retention Retention
	Reminders Reminders
	Notify    Notify
	CheckIns  CheckIns
	Clinic    Clinic

	// File is the TOML file that was read, if any.
	File string
	// sources says where each key's value came from, for config check.
	sources map[string]string
}

// SMTP is the mail server reminders go out through.
type SMTP struct {
	Host     string
	Port     int // 0 before Load: the port the TLS mode implies
	From     string
	Username string
	Password Secret
	TLS      string // none, starttls or tls
}

// Pushover is the application token for Pushover channels.
type Pushover struct{ Token Secret }

// Telegram is the bot token for Telegram channels.
type Telegram struct{ Token Secret }

// Ntfy is the default server of ntfy channels that name none.
type Ntfy struct{ Server string }

// Retention bounds how long old data is kept.
type Retention struct {
	// SessionDays keeps sessions of ended programs for this many days after
	// their date; 0 keeps them for ever.
	SessionDays int
}

// Reminders tunes the reminder dispatcher.
type Reminders struct {
	// Lease is how long a replica's claim on due reminders lasts: a replica
	// that crashes mid-dispatch leaves claims that another takes over once
	// they expire. Longer than the slowest send; default 2 minutes.
	Lease time.Duration
}

// Notify bounds what reminders may reach and how many.
type Notify struct {
	// AllowPrivate names the destinations on the clinic's own network
	// (CIDRs, addresses or host names, comma separated) that webhook, ntfy
	// and Web Push channels may reach, over plain http too; every other
	// private, loopback, link-local or metadata address is refused.
	AllowPrivate string
	// DailyQuota is how many messages one patient may be sent in a day;
	// the excess is skipped as "quota". Default 30; 0: no quota.
	DailyQuota int
}

// Clinic is what patients are told about the clinic that runs pacer.
type Clinic struct {
	// Contact is how patients reach the clinic, shown wherever a page tells
	// them to contact their therapist, e.g. "Physio am Park, 030 1234567,
	// praxis@example.org". One line.
	Contact string
}

// maxContact bounds clinic.contact: a phone number, an address, a name.
const maxContact = 200

// CheckIns bounds patients' check-ins.
type CheckIns struct {
	// DailyCap is how many check-ins a patient may log in 24 hours
	// (default 60); more answer 429.
	DailyCap int
}

// Secret is a value that is never printed: fmt, JSON and text encodings show
// it redacted. Value returns it.
type Secret string

const redacted = "(redacted)"

// Value is the secret itself.
func (s Secret) Value() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText keeps encodings (JSON, TOML) from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// kind is a setting's type.
type kind int

const (
	text kind = iota
	number
	secret
	duration
)

// setting is one configuration key. Its environment variable is PACER_ and
// the key upper-cased with dots as underscores (smtp.host: PACER_SMTP_HOST);
// a secret's systemd credential is the key with dots as underscores
// (smtp_password).
type setting struct {
	key   string
	kind  kind
	usage string
	str   func(*Config) *string
	num   func(*Config) *int
	sec   func(*Config) *Secret
	dur   func(*Config) *time.Duration
	// credFile names a systemd credential whose path (not content) becomes
	// the value: the secret key is binary and read where it lies.
	credFile string
}

func (s setting) env() string {
	return "PACER_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
}

func (s setting) credential() string { return strings.ReplaceAll(s.key, ".", "_") }

// settings is the table of every key, in the order config check prints them.
func settings() []setting {
	str := func(key, usage string, f func(*Config) *string) setting {
		return setting{key: key, kind: text, usage: usage, str: f}
	}
	return []setting{
		str("db", "store: a file path or sqlite:PATH (default: pacer.db in the state directory), or postgres://…",
			func(c *Config) *string { return &c.DB }),
		str("listen", "address to listen on, host:port", func(c *Config) *string { return &c.Listen }),
		str("base_url", "public URL that feed and check-in links are built from (default: http://<listen address>)",
			func(c *Config) *string { return &c.BaseURL }),
		str("state_dir", "directory of the SQLite database and the secret key",
			func(c *Config) *string { return &c.StateDir }),
		{key: "secret_key_file", kind: text, credFile: "secret_key",
			usage: "file of at least 32 random bytes that capability tokens are derived from",
			str:   func(c *Config) *string { return &c.SecretKeyFile }},
		str("log_level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
		str("trusted_proxies", "reverse proxies whose X-Forwarded-For names the client: CIDRs or addresses, comma separated",
			func(c *Config) *string { return &c.TrustedProxies }),
		str("smtp.host", "mail server for email reminders", func(c *Config) *string { return &c.SMTP.Host }),
		{key: "smtp.port", kind: number, usage: "mail server port (default: 587 for starttls, 465 for tls, 25 for none)",
			num: func(c *Config) *int { return &c.SMTP.Port }},
		str("smtp.from", "sender address of email reminders", func(c *Config) *string { return &c.SMTP.From }),
		str("smtp.username", "mail server login", func(c *Config) *string { return &c.SMTP.Username }),
		{key: "smtp.password", kind: secret, usage: "mail server password",
			sec: func(c *Config) *Secret { return &c.SMTP.Password }},
		str("smtp.tls", "none, starttls or tls", func(c *Config) *string { return &c.SMTP.TLS }),
		{key: "pushover.token", kind: secret, usage: "Pushover application token",
			sec: func(c *Config) *Secret { return &c.Pushover.Token }},
		{key: "telegram.token", kind: secret, usage: "Telegram bot token",
			sec: func(c *Config) *Secret { return &c.Telegram.Token }},
		str("ntfy.server", "default ntfy server, e.g. https://ntfy.sh", func(c *Config) *string { return &c.Ntfy.Server }),
		{key: "retention.session_days", kind: number, usage: "days to keep sessions of ended programs (0: for ever)",
			num: func(c *Config) *int { return &c.Retention.SessionDays }},
		{key: "reminders.lease", kind: duration,
			usage: "how long a replica's claim on due reminders lasts before another replica may send them, e.g. 2m (5s-1h)",
			dur:   func(c *Config) *time.Duration { return &c.Reminders.Lease }},
		str("notify.allow_private", "destinations on the clinic's network that webhook, ntfy and Web Push may reach "+
			"(CIDRs, addresses or host names, comma separated); http:// only to these",
			func(c *Config) *string { return &c.Notify.AllowPrivate }),
		{key: "notify.daily_quota", kind: number, usage: "messages one patient may be sent in a day; the rest are skipped (0: no quota)",
			num: func(c *Config) *int { return &c.Notify.DailyQuota }},
		str("clinic.contact", "how patients reach the clinic (one line: name, phone, email), shown where a page tells them to contact their therapist",
			func(c *Config) *string { return &c.Clinic.Contact }),
		{key: "checkins.daily_cap", kind: number, usage: "check-ins a patient may log in 24 hours",
			num: func(c *Config) *int { return &c.CheckIns.DailyCap }},
	}
}

func lookup(key string) (setting, bool) {
	for _, s := range settings() {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}

// Defaults is the configuration before any source is read.
func Defaults(getenv func(string) string) Config {
	c := Config{
		Listen:    "127.0.0.1:8080",
		StateDir:  StateDir(getenv),
		LogLevel:  "info",
		SMTP:      SMTP{TLS: "starttls"},
		Retention: Retention{SessionDays: 400},
		Reminders: Reminders{Lease: 2 * time.Minute},
		Notify:    Notify{DailyQuota: 30},
		CheckIns:  CheckIns{DailyCap: 60},
		sources:   map[string]string{},
	}
	for _, v := range []string{"STATE_DIRECTORY", "XDG_STATE_HOME"} {
		if getenv(v) != "" {
			c.sources["state_dir"] = v
			break
		}
	}
	return c
}

// Load reads the defaults, the TOML file (file, else $PACER_CONFIG; none if
// both are empty), systemd credentials and the environment. Flags are applied
// on top by Flags.Load. Load does not validate: call Validate.
func Load(file string, getenv func(string) string) (Config, error) {
	c := Defaults(getenv)
	if file == "" {
		file = getenv("PACER_CONFIG")
	}
	var errs []error
	if file != "" {
		c.File = file
		errs = append(errs, c.readFile(file))
	}
	errs = append(errs, c.readCredentials(getenv("CREDENTIALS_DIRECTORY")), c.readEnv(getenv))
	c.resolve()
	return c, errors.Join(errs...)
}

// set parses raw into the setting and records where it came from.
func (c *Config) set(s setting, raw, source string) error {
	switch s.kind {
	case number:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("%s: %s must be a whole number, not %q", source, s.key, raw)
		}
		*s.num(c) = n
	case duration:
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("%s: %s must be a duration such as 2m or 30s, not %q", source, s.key, raw)
		}
		*s.dur(c) = d
	case secret:
		*s.sec(c) = Secret(raw)
	default:
		*s.str(c) = raw
	}
	c.sources[s.key] = source
	return nil
}

// readSecretFile reads a secret from a file, without the trailing newline
// editors and echo add.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readEnv applies PACER_* variables, and PACER_X_FILE for secrets.
func (c *Config) readEnv(getenv func(string) string) error {
	var errs []error
	for _, s := range settings() {
		v, fromFile := getenv(s.env()), ""
		if s.kind == secret {
			fromFile = getenv(s.env() + "_FILE")
		}
		switch {
		case v != "" && fromFile != "":
			errs = append(errs, fmt.Errorf("both %s and %s_FILE are set: keep one", s.env(), s.env()))
		case fromFile != "":
			secret, err := readSecretFile(fromFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", s.env(), err))
				continue
			}
			errs = append(errs, c.set(s, secret, s.env()+"_FILE"))
		case v != "":
			errs = append(errs, c.set(s, v, s.env()))
		}
	}
	return errors.Join(errs...)
}

// readCredentials applies systemd credentials: a secret's content, or the
// path of the secret key. An empty credential counts as absent, so a unit may
// declare a fallback with SetCredential=.
func (c *Config) readCredentials(dir string) error {
	if dir == "" {
		return nil
	}
	var errs []error
	for _, s := range settings() {
		name := s.credFile
		if s.kind == secret {
			name = s.credential()
		}
		if name == "" {
			continue
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil || fi.Size() == 0 {
			continue
		}
		source := "credential " + name
		if s.credFile != "" {
			errs = append(errs, c.set(s, path, source))
			continue
		}
		v, err := readSecretFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		errs = append(errs, c.set(s, v, source))
	}
	return errors.Join(errs...)
}

// resolve fills values that follow from others.
func (c *Config) resolve() {
	if c.SMTP.Port == 0 {
		switch c.SMTP.TLS {
		case "tls":
			c.SMTP.Port = 465
		case "none":
			c.SMTP.Port = 25
		default:
			c.SMTP.Port = 587
		}
	}
}

// Source says where a key's value came from: "default", "file PATH",
// "credential NAME", an environment variable or a flag.
func (c Config) Source(key string) string {
	if s, ok := c.sources[key]; ok {
		return s
	}
	return "default"
}

// StateDir is $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/pacer, else ./pacer-data.
func StateDir(getenv func(string) string) string {
	if v := getenv("STATE_DIRECTORY"); v != "" {
		return strings.Split(v, ":")[0]
	}
	if v := getenv("XDG_STATE_HOME"); v != "" {
		return filepath.Join(v, "pacer")
	}
	return "pacer-data"
}

// DSN is the store to open: the configured one, or SQLite in the state directory.
func (c Config) DSN() string {
	if c.DB != "" {
		return c.DB
	}
	return "sqlite:" + filepath.Join(c.StateDir, "pacer.db")
}

// Postgres reports whether the store is PostgreSQL.
func (c Config) Postgres() bool {
	d := c.DSN()
	return strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://")
}

// Validate reports every problem, one per line, each saying what to fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Listen == "" {
		bad("listen is empty: use host:port, e.g. 127.0.0.1:8080")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q is not host:port, e.g. 127.0.0.1:8080", c.Listen)
	}
	if c.BaseURL != "" && !httpURL(c.BaseURL) {
		bad("base URL %q must be an absolute http or https URL, e.g. https://pacer.example.org", c.BaseURL)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	s := c.SMTP
	if s.Host != "" {
		if s.From == "" {
			bad("smtp.host is set, so smtp.from must be set too (PACER_SMTP_FROM or from in [smtp]), e.g. pacer@example.org")
		}
	} else {
		for _, f := range []struct{ key, v string }{{"smtp.from", s.From}, {"smtp.username", s.Username}, {"smtp.password", s.Password.Value()}} {
			if f.v != "" {
				bad("%s is set but smtp.host is not: set smtp.host (PACER_SMTP_HOST) to the mail server, or remove %s", f.key, f.key)
			}
		}
	}
	if s.From != "" {
		if a, err := mail.ParseAddress(s.From); err != nil || a.Address == "" {
			bad("smtp.from %q is not an email address, e.g. pacer@example.org or \"Pacer <pacer@example.org>\"", s.From)
		}
	}
	if (s.Username == "") != (s.Password == "") && s.Host != "" {
		if s.Username == "" {
			bad("smtp.password is set, so smtp.username must be set too")
		} else {
			bad("smtp.username is set, so smtp.password must be set too (PACER_SMTP_PASSWORD, PACER_SMTP_PASSWORD_FILE or the credential smtp_password)")
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("smtp.port %d is not a port: use 1-65535, e.g. 587", s.Port)
	}
	switch s.TLS {
	case "none", "starttls", "tls":
	default:
		bad("smtp.tls %q is not one of none, starttls, tls", s.TLS)
	}
	if c.Ntfy.Server != "" && !httpURL(c.Ntfy.Server) {
		bad("ntfy.server %q must be an absolute http or https URL, e.g. https://ntfy.sh", c.Ntfy.Server)
	}
	allowed, err := c.AllowPrivate()
	if err != nil {
		bad("%v", err)
	}
	if u, err := url.Parse(c.Ntfy.Server); err == nil && u.Scheme == "http" && !allowed[strings.ToLower(u.Hostname())] {
		bad("ntfy.server %s uses http://: use https://, or name %s in notify.allow_private (PACER_NOTIFY_ALLOW_PRIVATE) if it is on the clinic's own network",
			c.Ntfy.Server, u.Hostname())
	}
	if c.Notify.DailyQuota < 0 {
		bad("notify.daily_quota is %d: use a number of messages a day, e.g. 30, or 0 for no quota", c.Notify.DailyQuota)
	}
	if c.CheckIns.DailyCap < 1 {
		bad("checkins.daily_cap is %d: use a number of check-ins a day of at least 1, e.g. 60", c.CheckIns.DailyCap)
	}
	if _, err := c.Proxies(); err != nil {
		bad("%v", err)
	}
	switch contact := c.Clinic.Contact; {
	case strings.ContainsFunc(contact, unicode.IsControl):
		bad("clinic.contact has a line break or another control character: give one line, e.g. \"Physio am Park, 030 1234567\"")
	case utf8.RuneCountInString(contact) > maxContact:
		bad("clinic.contact is %d characters long: keep it to %d (a name, a phone number, an address)",
			utf8.RuneCountInString(contact), maxContact)
	case contact != "" && strings.TrimSpace(contact) == "":
		bad("clinic.contact is only spaces: give the clinic's name and phone number, or leave it out")
	}
	if c.Retention.SessionDays < 0 {
		bad("retention.session_days is %d: use a number of days, or 0 to keep sessions for ever", c.Retention.SessionDays)
	}
	if l := c.Reminders.Lease; l < 5*time.Second || l > time.Hour {
		bad("reminders.lease is %s: use a duration from 5s to 1h, e.g. 2m", l)
	}
	return errors.Join(errs...)
}

// AllowPrivate checks notify.allow_private and returns its host names and
// addresses as written (lower case); CIDRs are checked, not returned.
func (c Config) AllowPrivate() (map[string]bool, error) {
	out := map[string]bool{}
	for _, e := range list(c.Notify.AllowPrivate) {
		if _, err := netip.ParsePrefix(e); err == nil {
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil {
			out[ip.String()] = true
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(e, "."))
		last := h[strings.LastIndexByte(h, '.')+1:]
		if !hostPattern.MatchString(h) || strings.HasPrefix(last, "0x") || strings.Trim(last, "0123456789") == "" {
			return nil, fmt.Errorf("notify.allow_private entry %q is not a CIDR (10.1.0.0/16), an IP address or a host name: "+
				"fix PACER_NOTIFY_ALLOW_PRIVATE or allow_private in [notify]", e)
		}
		out[h] = true
	}
	return out, nil
}

var hostPattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Proxies parses trusted_proxies: CIDRs or addresses.
func (c Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range list(c.TrustedProxies) {
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies entry %q is not a CIDR or an IP address, e.g. 127.0.0.1 or 10.0.0.0/8: "+
				"fix PACER_TRUSTED_PROXIES or trusted_proxies", e)
		}
		ip = ip.Unmap()
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
	}
	return out, nil
}

// list splits a comma (or space) separated setting.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// KeyFile is the file of the key capability tokens are derived from:
// secret_key_file, else secret.key beside the SQLite database (in the state
// directory for the default database), so that a database and its key
// travel together. PostgreSQL replicas share one key, so there it must be
// set.
func (c Config) KeyFile() (string, error) {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile, nil
	}
	if c.Postgres() {
		return "", errors.New("with PostgreSQL, set PACER_SECRET_KEY_FILE (or a systemd credential secret_key) to a file of at least 32 random bytes shared by every replica, e.g. head -c 32 /dev/urandom > /etc/pacer/secret_key")
	}
	return filepath.Join(filepath.Dir(strings.TrimPrefix(c.DSN(), "sqlite:")), "secret.key"), nil
}

// SecretKey reads the key at KeyFile. With create, a missing default key
// file (not a configured one) is created: 32 random bytes, mode 0600. The
// caller decides whether a new key is right for its database (see
// daemon.SecretKey): a new key makes every existing link stop working.
func (c Config) SecretKey(create bool) (key []byte, path string, err error) {
	path, err = c.KeyFile()
	if err != nil {
		return nil, "", err
	}
	if create && c.SecretKeyFile == "" && !fileExists(path) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, path, fmt.Errorf("create the secret key's directory: %w", err)
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, path, fmt.Errorf("new secret key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, path, fmt.Errorf("create secret key: %w", err)
		}
		_, werr := f.Write(key)
		if err := errors.Join(werr, f.Close()); err != nil {
			return nil, path, fmt.Errorf("write secret key: %w", err)
		}
	}
	key, err = os.ReadFile(path)
	if err != nil {
		return nil, path, fmt.Errorf("read secret key: %w", err)
	}
	if len(key) < 32 {
		return nil, path, fmt.Errorf("secret key file %s holds %d bytes; it needs at least 32 random bytes", path, len(key))
	}
	return key, path, nil
}

// KeyExists reports whether the key file exists.
func (c Config) KeyExists() bool {
	path, err := c.KeyFile()
	return err == nil && fileExists(path)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
