// Package i18n owns pacer's message catalogues: every sentence a patient or a
// therapist reads, keyed by message id, in English and German. A catalogue is
// a JSON file of text/template strings embedded in the binary and parsed once;
// a template names its arguments ({{.dose}}) so that a translation may reorder
// them. It imports programs only for its units, and does no I/O of its own.
package i18n

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/template"
	"unicode"
	"unicode/utf8"

	"pacer/programs"
)

// Lang is a language pacer speaks.
type Lang string

// The languages with a catalogue. English is the default and the fallback.
const (
	English Lang = "en"
	German  Lang = "de"
)

// Langs lists the languages with a catalogue.
var Langs = []Lang{English, German}

// Parse reads a language tag ("de", "de-DE", "de_AT", "EN-gb") by its primary
// subtag; an empty or unknown tag is English.
func Parse(tag string) Lang {
	l, _ := Lookup(tag)
	return l
}

// Lookup is Parse that also says whether the tag named a language pacer has:
// false (and English) for an empty or unknown tag.
func Lookup(tag string) (Lang, bool) {
	primary, _, _ := strings.Cut(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"), "-")
	switch strings.ToLower(primary) {
	case "en":
		return English, true
	case "de":
		return German, true
	}
	return English, false
}

// Args are a message's named arguments.
type Args = map[string]any

// Catalog is one language's messages.
type Catalog struct {
	lang    Lang
	msgs    map[string]*template.Template
	raw     map[string]string
	version string
}

//go:embed catalog/*.json
var files embed.FS

var load = sync.OnceValue(func() map[Lang]*Catalog {
	out := map[Lang]*Catalog{}
	for _, l := range Langs {
		c, err := parse(l)
		if err != nil {
			panic(err) // an embedded file; TestCatalogues fails first
		}
		out[l] = c
	}
	return out
})

// parse reads a language's catalogue: catalog/<lang>.json and any
// catalog/<lang>.<part>.json (one part per area, e.g. the patient's page), whose
// keys must not repeat.
func parse(l Lang) (*Catalog, error) {
	names, err := fs.Glob(files, "catalog/"+string(l)+".*json")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("i18n: catalogue %s: no file", l)
	}
	raw := map[string]string{}
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("i18n: catalogue %s: %w", l, err)
		}
		var part map[string]string
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("i18n: %s: %w", name, err)
		}
		for k, v := range part {
			if _, dup := raw[k]; dup {
				return nil, fmt.Errorf("i18n: %s: %q is defined twice", name, k)
			}
			raw[k] = v
		}
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		h.Write([]byte(k + "\x00" + raw[k] + "\x00"))
	}
	c := &Catalog{lang: l, msgs: make(map[string]*template.Template, len(raw)), raw: raw,
		version: hex.EncodeToString(h.Sum(nil)[:8])}
	funcs := template.FuncMap{"plural": plural, "cap": capitalize}
	for id, text := range raw {
		t, err := template.New(id).Funcs(funcs).Option("missingkey=error").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("i18n: catalogue %s: %w", l, err)
		}
		c.msgs[id] = t
	}
	return c, nil
}

// For is the catalogue of l; an unknown Lang gets English.
func For(l Lang) *Catalog {
	cs := load()
	if c, ok := cs[l]; ok {
		return c
	}
	return cs[English]
}

// Version identifies the catalogue's wording: it changes with any message.
func (c *Catalog) Version() string { return c.version }

// Lang is the catalogue's language.
func (c *Catalog) Lang() Lang { return c.lang }

// Has says whether the catalogue has a message id.
func (c *Catalog) Has(id string) bool { _, ok := c.msgs[id]; return ok }

// Text renders message id with args. A missing id or argument is a bug the
// catalogue tests exist to catch; it renders as "[id]" rather than failing a
// reminder.
func (c *Catalog) Text(id string, args Args) string {
	s, err := c.render(id, args)
	if err != nil {
		return "[" + id + "]"
	}
	return s
}

func (c *Catalog) render(id string, args Args) (string, error) {
	t, ok := c.msgs[id]
	if !ok {
		return "", fmt.Errorf("i18n: %s has no message %q", c.lang, id)
	}
	var b strings.Builder
	if err := t.Execute(&b, args); err != nil {
		return "", fmt.Errorf("i18n: %s message %q: %w", c.lang, id, err)
	}
	return b.String(), nil
}

// Amount renders a dose with its unit, with the plural the number needs:
// "1 minute", "8 reps" in English, "1 Minute", "8 Wiederholungen" in German.
// English matches programs.Unit.Format.
func (c *Catalog) Amount(u programs.Unit, n int) string {
	id := "unit." + string(u) + "." + form(n)
	if !c.Has(id) {
		return u.Format(n) // a unit no catalogue knows, e.g. from a newer program file
	}
	return c.Text(id, Args{"n": n})
}

// Short renders a dose as a calendar title shows it: "14 min", "20 s"; reps
// as Amount.
func (c *Catalog) Short(u programs.Unit, n int) string {
	if u == programs.Minutes || u == programs.Seconds {
		return c.Text("short."+string(u), Args{"n": n})
	}
	return c.Amount(u, n)
}

// form is the plural form of n; English and German share the rule.
func form(n int) string {
	if n == 1 {
		return "one"
	}
	return "other"
}

// plural is the template function {{plural .n "Satz" "Sätze"}}.
func plural(n int, one, other string) string {
	if n == 1 {
		return one
	}
	return other
}

// capitalize is the template function {{cap .name}}: a name lowered to read
// mid-sentence in English, as a German noun.
func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// Messages is a catalogue's raw templates by id, for tests and tools that
// check a translation.
func Messages(l Lang) map[string]string {
	return maps.Clone(For(l).raw)
}
