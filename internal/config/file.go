package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// readFile applies a TOML file. Its keys mirror the environment: top-level
// db, listen, base_url, …, and tables [smtp], [pushover], [telegram], [ntfy],
// [retention], [reminders]. A secret may be given as KEY_file, the path of a file holding
// it. Unknown keys and values of the wrong type are errors.
func (c *Config) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the configuration file: %w", err)
	}
	var doc map[string]any
	if _, err := toml.Decode(string(b), &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	flat := map[string]any{}
	flatten("", doc, flat)
	source := "file " + path
	var errs []error
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := flat[k]
		name, isFile := strings.CutSuffix(k, "_file")
		s, ok := lookup(k)
		if !ok && isFile {
			if s, ok = lookup(name); ok && s.kind != secret {
				ok = false
			}
		} else {
			isFile = false
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown key %s; the keys are %s", path, k, strings.Join(fileKeys(), ", ")))
			continue
		}
		if isFile {
			if _, both := flat[name]; both {
				errs = append(errs, fmt.Errorf("%s: both %s and %s are set: keep one", path, name, k))
				continue
			}
			p, isString := v.(string)
			if !isString {
				errs = append(errs, fmt.Errorf("%s: %s must be a file path in quotes", path, k))
				continue
			}
			secret, err := readSecretFile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
				continue
			}
			errs = append(errs, c.set(s, secret, source))
			continue
		}
		switch x := v.(type) {
		case string:
			if s.kind == number {
				errs = append(errs, fmt.Errorf("%s: %s must be a number without quotes, not %q", path, k, x))
				continue
			}
			errs = append(errs, c.set(s, x, source))
		case int64:
			if s.kind == duration {
				errs = append(errs, fmt.Errorf("%s: %s must be a duration in quotes, e.g. \"2m\", not %d", path, k, x))
				continue
			}
			if s.kind != number {
				errs = append(errs, fmt.Errorf("%s: %s must be text in quotes, not %d", path, k, x))
				continue
			}
			errs = append(errs, c.set(s, strconv.FormatInt(x, 10), source))
		default:
			want := "text in quotes"
			switch s.kind {
			case number:
				want = "a whole number"
			case duration:
				want = `a duration in quotes, e.g. "2m"`
			}
			errs = append(errs, fmt.Errorf("%s: %s must be %s", path, k, want))
		}
	}
	return errors.Join(errs...)
}

// flatten turns nested tables into dotted keys.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			flatten(prefix+k+".", sub, out)
			continue
		}
		out[prefix+k] = v
	}
}

// fileKeys lists the keys a file may hold.
func fileKeys() []string {
	var ks []string
	for _, s := range settings() {
		ks = append(ks, s.key)
		if s.kind == secret {
			ks = append(ks, s.key+"_file")
		}
	}
	return ks
}
