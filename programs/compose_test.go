package programs

import (
	"strings"
	"testing"
	"time"
)

func TestCompose(t *testing.T) {
	lib, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	walking, _ := lib.Get("walking")
	desk, _ := lib.Get("desk-breaks")
	newOne := Activity{Name: "Wall push-up: slow, #1", Kind: Strength, Unit: Reps, Baseline: 6, Goal: 12,
		Schedule:     Schedule{Days: []time.Weekday{time.Monday, time.Thursday}, Times: []Clock{18 * 60}},
		Instructions: "Hands on the wall at shoulder height.\nStop if it hurts your back."}
	p, err := Compose(Composition{Name: "  Ann's mix  ", Description: "Walks, breaks and a push-up.",
		Activities: []Activity{TakeActivity(walking, walking.Activities[0]), TakeActivity(desk, desk.Activities[0]),
			newOne, newOne}})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "custom-ann-s-mix" || p.Name != "Ann's mix" || p.Rules != DefaultRules() {
		t.Errorf("program %q %q rules %+v", p.ID, p.Name, p.Rules)
	}
	if got := strings.Join(p.ActivityIDs(), ","); got != "walk,stand-walk,wall-push-up-slow-1,wall-push-up-slow-1-2" {
		t.Errorf("activity ids %s", got)
	}
	// A desk break starts where it started in its template, at 100 %.
	if a := p.Activities[1]; a.StartDose(p.Rules, a.Baseline) != a.Baseline {
		t.Errorf("the desk break starts at %d, want its baseline %d", a.StartDose(p.Rules, a.Baseline), a.Baseline)
	}
	if a := p.Activities[2]; a.Granule != 1 || a.Sets != 1 || a.Name != newOne.Name || a.Instructions != newOne.Instructions {
		t.Errorf("the new activity is %+v", a)
	}
	// What it composed is a program as a file would give it.
	back, err := Parse("again", p.YAML())
	if err != nil || string(back.YAML()) != string(p.YAML()) {
		t.Errorf("the composed program does not read back the same: %v", err)
	}
	// A library activity keeps its translations.
	if walk := p.Activities[0]; walk.NameIn("de") != walking.Activities[0].NameIn("de") || walk.NameIn("de") == walk.Name {
		t.Errorf("the walk in German: %q, want the template's %q", walk.NameIn("de"), walking.Activities[0].NameIn("de"))
	}
	// Composing leaves the library alone.
	if desk.Activities[0].StartPercent != 0 {
		t.Error("TakeActivity changed the template's activity")
	}
}

func TestComposeSaysWhatToFix(t *testing.T) {
	ok := Activity{Name: "Walk", Kind: Aerobic, Unit: Minutes, Baseline: 10, Goal: 20,
		Schedule: Schedule{Days: []time.Weekday{time.Monday}, Times: []Clock{8 * 60}}, Instructions: "Walk."}
	many := make([]Activity, MaxActivities+1)
	for i := range many {
		many[i] = ok
	}
	hold := ok
	hold.Name, hold.Unit, hold.Baseline, hold.Goal = "Plank", Seconds, 12, 30
	noName := ok
	noName.Name = ""
	low := ok
	low.Goal = 4
	long := ok
	long.Instructions = strings.Repeat("x", MaxTextLength+1)
	bidi := ok
	bidi.Name = "Walk\u202e"
	for _, tc := range []struct {
		name string
		c    Composition
		want string
	}{
		{"nothing", Composition{Name: "X"}, "no activities"},
		{"too many", Composition{Name: "X", Activities: many}, "at most 12"},
		{"a hold off its granule", Composition{Name: "X", Activities: []Activity{ok, hold}},
			"activity 2 (Plank): baseline 12 is not a whole number of granules of 5; use 10 or 15"},
		{"no name", Composition{Name: "X", Activities: []Activity{noName}}, "activity 1 (without a name): name must not be empty"},
		{"goal below start", Composition{Name: "X", Activities: []Activity{low}}, "activity 1 (Walk): goal 4 is below the start dose 8"},
		{"long instructions", Composition{Name: "X", Activities: []Activity{long}}, "instructions is 2001 characters long; keep it to 2000"},
		{"a direction mark", Composition{Name: "X", Activities: []Activity{bidi}}, "bidirectional control character"},
		{"no program name", Composition{Activities: []Activity{ok}}, "the program: name must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compose(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "activity:1:") {
				t.Errorf("error %v gives a file position", err)
			}
		})
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"Walking": "walking", "  Übung 3!": "bung-3", "---": "x", "Knee-to-chest (left)": "knee-to-chest-left"} {
		if got := slug(in, "x"); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
