package programs

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Composition is a program put together from parts rather than written as a
// file: the therapist's program builder takes activities from the library
// templates and adds new ones (a name, a unit, a dose, instructions) without
// a line of YAML.
type Composition struct {
	Name        string
	Description string
	// Activities are copies of library activities (TakeActivity) and new
	// ones. An empty ID is made from the name; a zero Granule or Sets takes
	// the unit's default and 1.
	Activities []Activity
}

// TakeActivity is a copy of a template's activity for a composition: its
// own start percentage is written out, so that it starts where it started
// in its template (a composed program runs under the default rules).
func TakeActivity(from *Program, a Activity) Activity {
	if a.StartPercent == 0 && from.Rules.StartPercent != DefaultRules().StartPercent {
		a.StartPercent = from.Rules.StartPercent
	}
	return a
}

// Compose builds and validates the program: its id is "custom-" and its
// name's letters, each activity without an id gets one from its name (made
// unique), and the result goes through the same decoder and checks as a
// program file, so that a composed program obeys every rule and limit a
// written one does. A problem names the activity it is in, by number and
// name, and says what to fix.
func Compose(c Composition) (*Program, error) {
	p := &Program{ID: "custom-" + slug(c.Name, "program"), Name: strings.TrimSpace(c.Name),
		Description: strings.TrimSpace(c.Description), Rules: DefaultRules()}
	if len(c.Activities) == 0 {
		return nil, errors.New("the program has no activities: choose some from the library or add a new one")
	}
	if len(c.Activities) > MaxActivities {
		return nil, fmt.Errorf("the program has %d activities; a program has at most %d", len(c.Activities), MaxActivities)
	}
	seen := map[string]bool{}
	var errs []error
	for i, a := range c.Activities {
		a.Name, a.Instructions = strings.TrimSpace(a.Name), strings.TrimSpace(a.Instructions)
		if a.Granule == 0 {
			a.Granule = a.Unit.DefaultGranule()
		}
		if a.Sets == 0 {
			a.Sets = 1
		}
		base := a.ID
		if base == "" {
			base = slug(a.Name, "activity")
		}
		a.ID = base
		for n := 2; seen[a.ID]; n++ {
			a.ID = fmt.Sprintf("%s-%d", base, n)
		}
		seen[a.ID] = true
		// Each activity is checked alone first, so that a problem can name it.
		one := &Program{ID: "check", Name: "check", Rules: p.Rules, Activities: []Activity{a}}
		if _, err := Parse("activity", one.YAML()); err != nil {
			name := a.Name
			if name == "" {
				name = "without a name"
			}
			errs = append(errs, fmt.Errorf("activity %d (%s): %s", i+1, name, messages(err)))
		}
		p.Activities = append(p.Activities, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out, err := Parse("program", p.YAML())
	if err != nil {
		return nil, fmt.Errorf("the program: %s", messages(err))
	}
	return out, nil
}

// messages are a decoder's problems without their file positions, which
// mean nothing to someone who filled in a form.
func messages(err error) string {
	var ps Problems
	if !errors.As(err, &ps) {
		return err.Error()
	}
	ms := make([]string, len(ps))
	for i, p := range ps {
		ms[i] = p.Message
	}
	return strings.Join(ms, "; ")
}

// slug is an id made of s's ASCII letters and digits, lowercased, words
// joined by hyphens, at most 40 characters; def when none is left.
func slug(s, def string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if gap && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			gap = false
		case unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r):
			gap = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return def
	}
	return strings.TrimSuffix(b.String(), "-")
}
