package programs

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed templates/*.yaml
var templateFS embed.FS

// Library is the built-in template collection, parsed once from the binary.
type Library struct {
	programs []*Program
}

// LoadLibrary parses every embedded template. A template that does not
// validate is a build defect, reported with its position.
func LoadLibrary() (*Library, error) {
	names, err := fs.Glob(templateFS, "templates/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	lib := &Library{}
	for _, n := range names {
		data, err := templateFS.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("read template: %w", err)
		}
		p, err := Parse("programs/"+n, data)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(path.Base(n), ".yaml"); p.ID != want {
			return nil, fmt.Errorf("programs/%s: id %q must match the file name %q", n, p.ID, want)
		}
		lib.programs = append(lib.programs, p)
	}
	slices.SortFunc(lib.programs, func(a, b *Program) int { return strings.Compare(a.ID, b.ID) })
	return lib, nil
}

// All returns the templates sorted by id.
func (l *Library) All() []*Program { return l.programs }

// Get returns the template with the given id.
func (l *Library) Get(id string) (*Program, bool) {
	for _, p := range l.programs {
		if p.ID == id {
			return p, true
		}
	}
	return nil, false
}

// IDs lists the template ids.
func (l *Library) IDs() []string {
	ids := make([]string, len(l.programs))
	for i, p := range l.programs {
		ids[i] = p.ID
	}
	return ids
}

// YAML renders the program in normalized form: every default written out, keys
// in a fixed order, so that it reads as a complete reference and parses back
// to the same program.
func (p *Program) YAML() []byte {
	root := mapping()
	addStr(root, "id", p.ID)
	addStr(root, "language", p.Lang())
	addStr(root, "name", p.Name)
	if p.Description != "" {
		addStr(root, "description", p.Description)
	}
	if tr := translations(p.Translations, func(t ProgramText, m *yaml.Node) {
		if t.Name != "" {
			addStr(m, "name", t.Name)
		}
		if t.Description != "" {
			addStr(m, "description", t.Description)
		}
	}); tr != nil {
		add(root, "translations", tr)
	}
	if p.Calibration != nil {
		c := mapping()
		addInt(c, "days", p.Calibration.Days)
		add(root, "calibration", c)
	}
	rules := mapping()
	r := p.Rules
	for _, f := range r.fields() {
		addInt(rules, f.key, *f.v)
	}
	add(root, "rules", rules)
	acts := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range p.Activities {
		m := mapping()
		addStr(m, "id", a.ID)
		addStr(m, "name", a.Name)
		addStr(m, "kind", string(a.Kind))
		addStr(m, "unit", string(a.Unit))
		addInt(m, "sets", a.Sets)
		addInt(m, "granule", a.Granule)
		addInt(m, "baseline", a.Baseline)
		addInt(m, "goal", a.Goal)
		if a.Threshold > 0 {
			addInt(m, "threshold", a.Threshold)
		}
		if a.Step > 0 {
			addInt(m, "step", a.Step)
		}
		if a.StartPercent > 0 {
			addInt(m, "start_percent", a.StartPercent)
		}
		sched := mapping()
		if a.Schedule.PerWeek > 0 {
			addInt(sched, "per_week", a.Schedule.PerWeek)
		} else {
			days := flow()
			for _, d := range orderedDays(a.Schedule.Days) {
				days.Content = append(days.Content, scalar(DayName(d)))
			}
			add(sched, "days", days)
		}
		times := flow()
		for _, t := range a.Schedule.Times {
			n := scalar(t.String())
			n.Style = yaml.DoubleQuotedStyle
			times.Content = append(times.Content, n)
		}
		add(sched, "times", times)
		add(m, "schedule", sched)
		add(m, "instructions", literal(a.Instructions))
		if tr := translations(a.Translations, func(t ActivityText, m *yaml.Node) {
			if t.Name != "" {
				addStr(m, "name", t.Name)
			}
			if t.Instructions != "" {
				add(m, "instructions", literal(t.Instructions))
			}
		}); tr != nil {
			add(m, "translations", tr)
		}
		acts.Content = append(acts.Content, m)
	}
	add(root, "activities", acts)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		panic(fmt.Sprintf("encode program %s: %v", p.ID, err)) // a node tree built here always encodes
	}
	return []byte(b.String())
}

// translations renders texts by language in the order of Languages, or is
// nil when there are none.
func translations[T any](ts map[string]T, fields func(T, *yaml.Node)) *yaml.Node {
	if len(ts) == 0 {
		return nil
	}
	out := mapping()
	for _, l := range Languages {
		if t, ok := ts[l]; ok {
			m := mapping()
			if fields(t, m); len(m.Content) > 0 {
				add(out, l, m)
			}
		}
	}
	if len(out.Content) == 0 {
		return nil
	}
	return out
}

// literal is multi-line text as a literal block, which keeps its lines as
// they are written.
func literal(s string) *yaml.Node {
	n := scalar(s + "\n")
	n.Style = yaml.LiteralStyle
	return n
}

// orderedDays lists days Monday first, as people write them.
func orderedDays(ds []time.Weekday) []time.Weekday {
	out := slices.Clone(ds)
	slices.SortFunc(out, func(a, b time.Weekday) int { return (int(a)+6)%7 - (int(b)+6)%7 })
	return out
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }
func flow() *yaml.Node    { return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle} }
func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}
func add(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, scalar(k), v) }
func addStr(m *yaml.Node, k, v string)         { add(m, k, scalar(v)) }
func addInt(m *yaml.Node, k string, v int) {
	add(m, k, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)})
}
