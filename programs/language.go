package programs

import (
	"cmp"
	"slices"
	"strings"
)

// Languages are the languages a program's texts may be written in: those
// pacer speaks, with a message catalogue each (internal/i18n's tests check
// that the two lists agree).
var Languages = []string{"en", "de"}

// DefaultLanguage is a program's language when its file names none.
const DefaultLanguage = "en"

func speaks(lang string) bool { return slices.Contains(Languages, lang) }

// ProgramText is a program's name and description in one language. An empty
// field has no translation: the program's own text stands in for it.
type ProgramText struct {
	Name, Description string
}

// ActivityText is an activity's name and instructions in one language. An
// empty field has no translation: the activity's own text stands in for it.
type ActivityText struct {
	Name, Instructions string
}

// Lang is the language of the program's own texts: its name, description,
// and its activities' names and instructions.
func (p *Program) Lang() string {
	if p.Language == "" {
		return DefaultLanguage
	}
	return p.Language
}

// NameIn is the program's name in lang ("de"), or its own name when it has
// none in lang.
func (p *Program) NameIn(lang string) string {
	return cmp.Or(p.Translations[lang].Name, p.Name)
}

// DescriptionIn is the program's description in lang, or its own when it
// has none in lang.
func (p *Program) DescriptionIn(lang string) string {
	return cmp.Or(p.Translations[lang].Description, p.Description)
}

// NameIn is the activity's name in lang ("de"), or its name in the
// program's language when it has none in lang.
func (a *Activity) NameIn(lang string) string {
	return cmp.Or(a.Translations[lang].Name, a.Name)
}

// InstructionsIn are the activity's instructions in lang, or those in the
// program's language when it has none in lang.
func (a *Activity) InstructionsIn(lang string) string {
	return cmp.Or(a.Translations[lang].Instructions, a.Instructions)
}

// NameLang is the language NameIn(lang) is written in, for wording that
// depends on it (English lowers a name's first letter mid-sentence; German
// keeps a noun's).
func (p *Program) NameLang(a *Activity, lang string) string {
	if a.Translations[lang].Name != "" {
		return lang
	}
	return p.Lang()
}

// languageList is how problems name the languages, "en or de".
func languageList() string {
	if len(Languages) == 1 {
		return Languages[0]
	}
	return strings.Join(Languages[:len(Languages)-1], ", ") + " or " + Languages[len(Languages)-1]
}
