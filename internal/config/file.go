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
	var unknown []string
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
			unknown = append(unknown, k)
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
	// Every unknown key at once, each with the likely intended one, then
	// the list of keys once.
	for _, k := range unknown {
		if near := nearestKey(k); near != "" {
			errs = append(errs, fmt.Errorf("%s: unknown key %s (did you mean %s?)", path, k, near))
		} else {
			errs = append(errs, fmt.Errorf("%s: unknown key %s", path, k))
		}
	}
	if len(unknown) > 0 {
		errs = append(errs, fmt.Errorf("%s: the keys are %s", path, strings.Join(fileKeys(), ", ")))
	}
	return errors.Join(errs...)
}

// nearestKey is the file key a mistyped or misplaced key most likely meant:
// one at most two edits away (lisen, smtp.hots), or the same name in another
// table (host at the top instead of in [smtp]); "" if none is close, or if
// two are equally close (token could be pushover's or telegram's).
func nearestKey(k string) string {
	name := k[strings.LastIndexByte(k, '.')+1:]
	best, bestDist, ties := "", 3, 0
	for _, known := range fileKeys() {
		d := editDistance(k, known)
		if known[strings.LastIndexByte(known, '.')+1:] == name {
			d = min(d, 1)
		}
		switch {
		case d < bestDist:
			best, bestDist, ties = known, d, 1
		case d == bestDist:
			ties++
		}
	}
	if ties > 1 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
