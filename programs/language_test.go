package programs

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// translated is validWalk with a program translation and an activity one.
const translated = `id: test
name: Test
description: A test.
translations:
  de:
    name: Versuch
    description: Ein Versuch.
activities:
  - id: walk
    name: Walk
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule:
      days: [mon, wed, fri]
      times: ["07:30"]
    instructions: Walk. Stop if it hurts.
    translations:
      de:
        name: Gehen
        instructions: |
          Gehen Sie.
          Hören Sie auf, wenn es weh tut.
`

var translationCases = []struct {
	name string
	yaml string
	want func() *Program
}{
	{"program and activity translated", translated, func() *Program {
		a := walkActivity()
		a.Translations = map[string]ActivityText{"de": {Name: "Gehen", Instructions: "Gehen Sie.\nHören Sie auf, wenn es weh tut."}}
		return &Program{ID: "test", Language: "en", Name: "Test", Description: "A test.",
			Translations: map[string]ProgramText{"de": {Name: "Versuch", Description: "Ein Versuch."}},
			Rules:        DefaultRules(), Activities: []Activity{a}}
	}},
	{"a name alone, written as JSON", strings.Replace(validWalk, "    instructions: Walk. Stop if it hurts.\n",
		"    instructions: Walk. Stop if it hurts.\n    translations: {\"de\": {\"name\": \"Gehen\"}}\n", 1), func() *Program {
		a := walkActivity()
		a.Translations = map[string]ActivityText{"de": {Name: "Gehen"}}
		return &Program{ID: "test", Language: "en", Name: "Test", Rules: DefaultRules(), Activities: []Activity{a}}
	}},
	{"a German program with an English name", `id: test
language: de
name: Versuch
activities:
  - id: walk
    name: Gehen
    kind: aerobic
    unit: minutes
    baseline: 10
    goal: 30
    schedule: {days: [mon, wed, fri], times: ["07:30"]}
    instructions: Gehen Sie. Hören Sie auf, wenn es weh tut.
    translations: {en: {name: Walk}}
`, func() *Program {
		a := walkActivity()
		a.Name, a.Instructions = "Gehen", "Gehen Sie. Hören Sie auf, wenn es weh tut."
		a.Translations = map[string]ActivityText{"en": {Name: "Walk"}}
		return &Program{ID: "test", Language: "de", Name: "Versuch", Rules: DefaultRules(), Activities: []Activity{a}}
	}},
}

func TestParseTranslations(t *testing.T) {
	for _, tc := range translationCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("ok.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Parse =\n%#v\nwant\n%#v", got, want)
			}
			// The normalized YAML keeps every translation, and is a fixed point.
			y := got.YAML()
			again, err := Parse("normalized.yaml", y)
			if err != nil {
				t.Fatalf("Parse(YAML()): %v\n%s", err, y)
			}
			if !reflect.DeepEqual(again, want) {
				t.Errorf("Parse(YAML()) =\n%#v\nwant\n%#v\n%s", again, want, y)
			}
			if y2 := again.YAML(); !bytes.Equal(y, y2) {
				t.Errorf("YAML() is not stable:\n%s\nthen\n%s", y, y2)
			}
		})
	}
}

var invalidTranslationCases = []parseCase{
	{name: "a language pacer does not speak", yaml: strings.Replace(translated, "      de:\n        name: Gehen", "      fr:\n        name: Marcher", 1),
		want: []string{`bad.yaml:20:7: translations: "fr" is not a language pacer speaks; use en or de`}},
	{name: "a program language pacer does not speak", yaml: "language: fr\n" + translated,
		want: []string{`bad.yaml:1:11: language "fr" is not one pacer speaks: use en or de`}},
	{name: "the program's own language as a translation", yaml: strings.Replace(translated, "translations:\n  de:", "translations:\n  en:", 1),
		want: []string{`bad.yaml:5:3: translations.en is in the program's own language (en): write it in name and description above, or set the program's language`}},
	{name: "a region tag is not a language", yaml: strings.Replace(translated, "      de:\n", "      de-DE:\n", 1),
		want: []string{`bad.yaml:20:7: translations: "de-DE" is not a language pacer speaks; use en or de`}},
	{name: "a language twice", yaml: strings.Replace(translated, "      de:\n        name: Gehen\n", "      de:\n        name: Gehen\n      de:\n        name: Laufen\n", 1),
		want: []string{`bad.yaml:22:7: translations.de appears twice`}},
	{name: "an unknown key in a translation", yaml: strings.Replace(translated, "        name: Gehen\n", "        title: Gehen\n", 1),
		want: []string{`bad.yaml:21:9: unknown key "title" in translations.de (known keys: name, instructions)`}},
	{name: "a program translation with an activity's key", yaml: strings.Replace(translated, "    description: Ein Versuch.\n", "    instructions: Ein Versuch.\n", 1),
		want: []string{`bad.yaml:7:5: unknown key "instructions" in translations.de (known keys: name, description)`}},
	{name: "an empty translation", yaml: strings.Replace(translated, "    name: Versuch\n    description: Ein Versuch.\n", "    {}\n", 1),
		want: []string{`bad.yaml:6:5: translations.de is empty: give its name or description, or remove it`}},
	{name: "translations not a mapping", yaml: strings.Replace(translated, "translations:\n  de:\n    name: Versuch\n    description: Ein Versuch.\n", "translations: [de]\n", 1),
		want: []string{`bad.yaml:4:15: translations must be a mapping of languages to texts, e.g. {de: {name: …}}`}},
	{name: "an empty translated name and instructions", yaml: strings.Replace(strings.Replace(translated, "name: Gehen", `name: " "`, 1),
		"instructions: |\n          Gehen Sie.\n          Hören Sie auf, wenn es weh tut.\n", "instructions: \"\"\n", 1),
		want: []string{
			`bad.yaml:21:15: translations.de.name must not be empty`,
			`bad.yaml:22:23: translations.de.instructions must not be empty: say how to do the activity, what it should feel like and when to stop, or leave the key out`,
		}},
	{name: "limits apply to each translation", yaml: strings.Replace(strings.Replace(translated, "name: Versuch", "name: "+strings.Repeat("V", MaxNameLength+1), 1),
		"          Gehen Sie.\n", "          "+strings.Repeat("g", MaxTextLength)+"\n", 1),
		want: []string{
			`bad.yaml:6:11: translations.de.name is 81 characters long; keep it to 80`,
			`bad.yaml:22:23: translations.de.instructions is 2032 characters long; keep it to 2000`,
		}},
	{name: "a line break in a translated name", yaml: strings.Replace(translated, "name: Gehen", `name: "Ge\nhen"`, 1),
		want: []string{`bad.yaml:21:15: translations.de.name has a control character (U+000A) at byte 2: remove it`}},
}

func TestParseInvalidTranslations(t *testing.T) {
	for _, tc := range invalidTranslationCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("bad.yaml", []byte(tc.yaml))
			var ps Problems
			var got []string
			switch {
			case err == nil:
				got = []string{"(no problems)"}
			case !errors.As(err, &ps):
				t.Fatalf("Parse error is %T, not Problems: %v", err, err)
			case p != nil:
				t.Fatalf("Parse returned a program and problems")
			default:
				got = problemLines(ps)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// A text missing in a language falls back to the program's own, field by
// field; a language with no translation at all reads the program's own.
func TestTextFallback(t *testing.T) {
	p, err := Parse("ok.yaml", []byte(strings.Replace(translated, "        instructions: |\n          Gehen Sie.\n          Hören Sie auf, wenn es weh tut.\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	a := &p.Activities[0]
	for _, c := range []struct{ what, got, want string }{
		{"program name in de", p.NameIn("de"), "Versuch"},
		{"program name in en", p.NameIn("en"), "Test"},
		{"program name in an unknown language", p.NameIn("fr"), "Test"},
		{"description in de", p.DescriptionIn("de"), "Ein Versuch."},
		{"description in en", p.DescriptionIn("en"), "A test."},
		{"activity name in de", a.NameIn("de"), "Gehen"},
		{"activity name in en", a.NameIn("en"), "Walk"},
		{"instructions in de, not translated", a.InstructionsIn("de"), "Walk. Stop if it hurts."},
		{"instructions in en", a.InstructionsIn("en"), "Walk. Stop if it hurts."},
		{"name's language in de", p.NameLang(a, "de"), "de"},
		{"name's language in en", p.NameLang(a, "en"), "en"},
		{"language of a program built in code", (&Program{}).Lang(), "en"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

// Every built-in template speaks every language pacer speaks: its name, and
// each activity's name and instructions.
func TestTemplatesTranslated(t *testing.T) {
	lib, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lib.All() {
		for _, l := range Languages {
			if l == p.Lang() {
				continue
			}
			if tr := p.Translations[l]; tr.Name == "" || tr.Description == "" {
				t.Errorf("%s: no %s name or description", p.ID, l)
			}
			for _, a := range p.Activities {
				if tr := a.Translations[l]; tr.Name == "" || tr.Instructions == "" {
					t.Errorf("%s/%s: no %s name or instructions", p.ID, a.ID, l)
				}
			}
		}
	}
}

// An empty translated description is a problem, not a translation that
// vanishes from the normalized YAML.
func TestEmptyTranslatedDescription(t *testing.T) {
	_, err := Parse("bad.yaml", []byte(strings.Replace(translated, "    description: Ein Versuch.\n", "    description: \"\"\n", 1)))
	want := `bad.yaml:7:18: translations.de.description must not be empty, or leave the key out`
	if err == nil || err.Error() != want {
		t.Errorf("Parse = %v, want %s", err, want)
	}
}
