package config

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Flags is the command-line layer: AddFlags registers --config and the named
// keys' flags on a command's FlagSet; after parsing, Load reads every source
// and applies the flags that were given on top.
type Flags struct {
	fs    *flag.FlagSet
	file  string
	vals  map[string]*string // flag name → value
	names map[string]string  // flag name → key
}

// flagName is a key's flag: base_url is --base-url.
func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// AddFlags adds --config FILE and a flag for each key (db, listen, base_url,
// …; never a secret, which would show in the process list).
func AddFlags(fs *flag.FlagSet, keys ...string) *Flags {
	f := &Flags{fs: fs, vals: map[string]*string{}, names: map[string]string{}}
	fs.StringVar(&f.file, "config", "", "TOML configuration file (default: $PACER_CONFIG, else none)")
	for _, k := range keys {
		s, ok := lookup(k)
		if !ok || s.kind == secret {
			panic("config: no flag for key " + k) // a programming error in a command table
		}
		name := flagName(k)
		f.vals[name] = fs.String(name, "", s.usage)
		f.names[name] = k
	}
	return f
}

// Load reads the file, credentials and environment (see Load) and applies the
// flags that were set, which win.
func (f *Flags) Load(getenv func(string) string) (Config, error) {
	c, err := Load(f.file, getenv)
	if err != nil {
		return c, err
	}
	var errs []error
	f.fs.Visit(func(fl *flag.Flag) {
		if key, ok := f.names[fl.Name]; ok {
			s, _ := lookup(key)
			if err := c.set(s, *f.vals[fl.Name], "--"+fl.Name); err != nil {
				errs = append(errs, err)
			}
		}
	})
	if len(errs) > 0 {
		return c, errs[0]
	}
	c.resolve()
	return c, nil
}

// Print writes the effective configuration as TOML, secrets redacted, each
// value followed by where it came from.
func (c Config) Print(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# pacer's effective configuration; secrets are redacted.\n")
	if c.File != "" {
		fmt.Fprintf(&b, "# file: %s\n", c.File)
	}
	table := ""
	for _, s := range settings() {
		if t, _, ok := strings.Cut(s.key, "."); ok && t != table {
			table = t
			fmt.Fprintf(&b, "\n[%s]\n", t)
		}
		name := s.key[strings.LastIndexByte(s.key, '.')+1:]
		var v string
		switch s.kind {
		case number:
			v = strconv.Itoa(*s.num(&c))
		case duration:
			v = strconv.Quote(s.dur(&c).String())
		case secret:
			v = strconv.Quote(s.sec(&c).String())
		default:
			v = strconv.Quote(redactURL(*s.str(&c)))
		}
		line := name + " = " + v
		fmt.Fprintf(&b, "%-48s # %s", line, c.Source(s.key))
		switch {
		case s.key == "db" && c.DB == "":
			fmt.Fprintf(&b, "; the store is %s", c.DSN())
		case s.key == "secret_key_file" && c.SecretKeyFile == "" && !c.Postgres():
			path, _ := c.KeyFile()
			fmt.Fprintf(&b, "; the key is %s (beside the database), created on first start", path)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// redactURL hides the password of a URL such as postgres://user:pw@host/db.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, has := u.User.Password(); !has {
		return v
	}
	return u.Redacted()
}
