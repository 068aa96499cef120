package programs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func loadLibrary(t *testing.T) *Library {
	t.Helper()
	lib, err := LoadLibrary()
	if err != nil {
		t.Fatalf("LoadLibrary: %v", err)
	}
	return lib
}

func TestLibraryIDs(t *testing.T) {
	lib := loadLibrary(t)
	want := []string{"core", "desk-breaks", "low-energy-day", "mobility-morning", "sciatica-gentle", "stretching", "walking"}
	if got := lib.IDs(); !slices.Equal(got, want) {
		t.Errorf("IDs() = %q, want %q", got, want)
	}
	for i, p := range lib.All() {
		if p.ID != want[i] {
			t.Errorf("All()[%d].ID = %q, want %q", i, p.ID, want[i])
		}
		if got, ok := lib.Get(p.ID); !ok || got != p {
			t.Errorf("Get(%q) = %v, %v; want the template from All()", p.ID, got, ok)
		}
	}
	if _, ok := lib.Get("running"); ok {
		t.Error(`Get("running") found a template that does not exist`)
	}
}

func TestWalkingTemplate(t *testing.T) {
	p, ok := loadLibrary(t).Get("walking")
	if !ok {
		t.Fatal("no walking template")
	}
	if got := p.ActivityIDs(); !slices.Equal(got, []string{"walk"}) {
		t.Fatalf("walking activities = %q, want [walk]", got)
	}
	a := p.Activities[0]
	if a.Unit != Minutes {
		t.Errorf("walk unit = %q, want minutes", a.Unit)
	}
	if a.Schedule.PerWeek != 0 || len(a.Schedule.Days) < 2 {
		t.Errorf("walk schedule = %+v, want fixed days, several of them", a.Schedule)
	}
	if len(a.Schedule.Times) == 0 {
		t.Error("walk has no time of day")
	}
}

func TestTemplateInstructionsSayWhenToStop(t *testing.T) {
	for _, p := range loadLibrary(t).All() {
		if p.Name == "" || p.Description == "" {
			t.Errorf("%s: name %q, description %q: both must be set", p.ID, p.Name, p.Description)
		}
		for _, a := range p.Activities {
			if !strings.Contains(strings.ToLower(a.Instructions), "stop") {
				t.Errorf("%s/%s: instructions do not say when to stop:\n%s", p.ID, a.ID, a.Instructions)
			}
		}
	}
}

// TestTemplatesPlan plans every template for 12 weeks in Berlin, across the
// spring DST change, with no check-ins: every week must schedule every
// activity in full.
func TestTemplatesPlan(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := MakeDate(2026, time.March, 2) // a Monday; DST starts on 29 March
	const weeks = 12
	for _, p := range loadLibrary(t).All() {
		t.Run(p.ID, func(t *testing.T) {
			as := Assignment{Program: p, Start: start, Location: berlin, Weeks: weeks}
			plan, err := Compute(as, nil, nil, start.In(berlin, 0))
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if len(plan.Weeks) != weeks {
				t.Fatalf("%d weeks, want %d", len(plan.Weeks), weeks)
			}
			if plan.Paused || plan.InFlare {
				t.Errorf("plan paused %v, in flare %v with no check-ins", plan.Paused, plan.InFlare)
			}
			for _, wk := range plan.Weeks {
				if len(wk.Activities) != len(p.Activities) {
					t.Fatalf("week %d has %d activities, want %d", wk.Week, len(wk.Activities), len(p.Activities))
				}
				for i, aw := range wk.Activities {
					a := p.Activities[i]
					if aw.Decision.Code == PausedRedFlag || aw.Decision.Facts.Change == PauseOverride {
						t.Errorf("week %d %s: paused (%+v) with no check-ins", wk.Week, a.ID, aw.Decision)
						continue
					}
					if len(aw.Sessions) == 0 {
						t.Errorf("week %d %s: no sessions (%+v)", wk.Week, a.ID, aw.Decision)
						continue
					}
					perWeek := a.Schedule.PerWeek
					if perWeek == 0 {
						perWeek = len(a.Schedule.Days)
					}
					if want := perWeek * len(a.Schedule.Times); p.Calibration == nil && len(aw.Sessions) != want {
						t.Errorf("week %d %s: %d sessions, want %d", wk.Week, a.ID, len(aw.Sessions), want)
					}
					for _, s := range aw.Sessions {
						if !slices.Contains(a.Schedule.Times, s.Time) {
							t.Errorf("week %d %s: session at %s, not at one of the times %v", wk.Week, a.ID, s.Time, a.Schedule.Times)
						}
						if s.Date < wk.Start || s.Date >= wk.Start.AddDays(7) {
							t.Errorf("week %d %s: session on %s is outside the week from %s", wk.Week, a.ID, s.Date, wk.Start)
						}
						if s.Dose < a.Granule || s.Dose > a.Goal || s.Status != Planned {
							t.Errorf("week %d %s: session %+v: want a planned dose between %d and the goal %d",
								wk.Week, a.ID, s, a.Granule, a.Goal)
						}
					}
				}
			}
		})
	}
}
