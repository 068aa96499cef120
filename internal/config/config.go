// Package config owns pacer's one typed configuration: defaults, then the
// PACER_* environment, then command-line flags. It does no I/O beyond reading
// the secret key file it is pointed at; it holds no globals.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Config is everything pacer serve needs to start.
type Config struct {
	DB       string // a file path, sqlite:PATH or postgres://…
	Listen   string // host:port
	BaseURL  string // the public URL that links are built from; empty: http://<listen address>
	StateDir string
	// SecretKeyFile holds the key that capability tokens are derived from.
	SecretKeyFile string
}

// Load reads the defaults and then the environment. Flags are applied by the
// caller on top of the returned value.
func Load(getenv func(string) string) Config {
	c := Config{Listen: "127.0.0.1:8080", StateDir: StateDir(getenv)}
	if v := getenv("PACER_DB"); v != "" {
		c.DB = v
	}
	if v := getenv("PACER_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("PACER_BASE_URL"); v != "" {
		c.BaseURL = v
	}
	switch {
	case getenv("PACER_SECRET_KEY_FILE") != "":
		c.SecretKeyFile = getenv("PACER_SECRET_KEY_FILE")
	case getenv("CREDENTIALS_DIRECTORY") != "":
		if p := filepath.Join(getenv("CREDENTIALS_DIRECTORY"), "secret_key"); fileExists(p) {
			c.SecretKeyFile = p
		}
	}
	return c
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

// Validate says what to fix.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base URL %q must be an absolute http or https URL, e.g. https://pacer.example.org", c.BaseURL))
		}
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen address is empty: use host:port, e.g. 127.0.0.1:8080"))
	}
	return errors.Join(errs...)
}

// SecretKey reads the key capability tokens are derived from. With the
// embedded store and no key configured, it creates one beside the database on
// first start; PostgreSQL replicas must share one, so there it must be set.
func (c Config) SecretKey() ([]byte, error) {
	path := c.SecretKeyFile
	if path == "" {
		if c.Postgres() {
			return nil, errors.New("with PostgreSQL, set PACER_SECRET_KEY_FILE (or a systemd credential secret_key) to a file of at least 32 random bytes shared by every replica, e.g. head -c 32 /dev/urandom > /etc/pacer/secret_key")
		}
		path = filepath.Join(c.StateDir, "secret.key")
		if !fileExists(path) {
			if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
				return nil, fmt.Errorf("create state directory: %w", err)
			}
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return nil, fmt.Errorf("new secret key: %w", err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return nil, fmt.Errorf("create secret key: %w", err)
			}
			_, werr := f.Write(key)
			if err := errors.Join(werr, f.Close()); err != nil {
				return nil, fmt.Errorf("write secret key: %w", err)
			}
		}
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("secret key file %s holds %d bytes; it needs at least 32 random bytes", path, len(key))
	}
	return key, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
