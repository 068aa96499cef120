package clinic

import (
	"strings"
	"testing"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// A session's Shown digest covers the name and instructions its reader sees,
// in the reader's language: a changed translation raises the calendar's
// SEQUENCE for the readers of that language, and only for them.
func TestShownDigestsTheReadersLanguage(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	walking, _ := lib.Get("walking")
	edited := func(edit func(p *programs.Program)) *programs.Program {
		p, err := programs.Parse("walking.yaml", walking.YAML())
		if err != nil {
			t.Fatal(err)
		}
		edit(p)
		return p
	}
	newGerman := edited(func(p *programs.Program) {
		a := &p.Activities[0]
		a.Translations["de"] = programs.ActivityText{Name: a.Translations["de"].Name, Instructions: "Gehen Sie. Hören Sie auf, wenn es weh tut."}
	})
	newEnglish := edited(func(p *programs.Program) { p.Activities[0].Instructions = "Walk. Stop if it hurts." })
	newName := edited(func(p *programs.Program) { p.Translations["de"] = programs.ProgramText{Name: "Spazierengehen"} })

	now := programs.MakeDate(2026, 11, 23)
	x := store.Session{Activity: "walk", Date: now, Week: 1, Dose: 8, Sets: 1, Unit: programs.Minutes}
	p := store.Patient{Alarm: true}
	shown := func(lang i18n.Lang, prog *programs.Program) string {
		return NewReasons(i18n.For(lang), prog, store.Plan{Header: store.PlanHeader{Now: now}}).shown(p, x)
	}
	for _, c := range []struct {
		what    string
		lang    i18n.Lang
		prog    *programs.Program
		changed bool
	}{
		{"German instructions, for a German reader", i18n.German, newGerman, true},
		{"German instructions, for an English reader", i18n.English, newGerman, false},
		{"English instructions, for an English reader", i18n.English, newEnglish, true},
		{"English instructions, for a German reader", i18n.German, newEnglish, false},
		{"the German program name, for a German reader", i18n.German, newName, true},
		{"the German program name, for an English reader", i18n.English, newName, false},
	} {
		if got := shown(c.lang, c.prog) != shown(c.lang, walking); got != c.changed {
			t.Errorf("%s: digest changed %v, want %v", c.what, got, c.changed)
		}
	}
	if shown(i18n.German, walking) == shown(i18n.English, walking) {
		t.Error("one digest for a German and an English reader")
	}

	// And the words themselves: the German title, description and program.
	de := NewReasons(i18n.For(i18n.German), walking, store.Plan{Header: store.PlanHeader{Now: now}}).SessionWords(p, x)
	if !strings.HasPrefix(de.Title, "Spaziergang · 8 Min.") || !strings.Contains(de.Title, "(Gehen)") ||
		!strings.Contains(de.Description, walking.Activities[0].InstructionsIn("de")) {
		t.Errorf("German words %+v", de)
	}
	en := NewReasons(i18n.For(i18n.English), walking, store.Plan{Header: store.PlanHeader{Now: now}}).SessionWords(p, x)
	if !strings.HasPrefix(en.Title, "Walk · 8 min") || !strings.Contains(en.Title, "(Walking)") ||
		!strings.Contains(en.Description, walking.Activities[0].Instructions) {
		t.Errorf("English words %+v", en)
	}
}
