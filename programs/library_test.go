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

// The templates as reviewed for version 2 of the rules (issue 10): every
// activity tells a patient with new leg weakness or numbness, or bladder or
// bowel changes, to get urgent care (those are red flags, not a reason to
// rest); the figure-4 stretch warns about a hip replacement and knee to
// chest about pain into a leg; floor exercises offer a bed; low-energy-day
// is a fixed floor a flare does not cut; desk-breaks are fixed doses logged
// once a day.
func TestTemplatesReviewed(t *testing.T) {
	const urgent = "New leg weakness, numbness between your legs or around your bottom, or bladder or bowel changes: get urgent medical care now."
	lib := loadLibrary(t)
	for _, p := range lib.All() {
		for _, a := range p.Activities {
			if !strings.Contains(a.Instructions, urgent) {
				t.Errorf("%s/%s: no urgent-care line:\n%s", p.ID, a.ID, a.Instructions)
			}
			if strings.Contains(a.Instructions, "new numbness or weakness") {
				t.Errorf("%s/%s: tells a patient with new numbness or weakness to rest:\n%s", p.ID, a.ID, a.Instructions)
			}
			floor := strings.Contains(a.Instructions, "Lie on your") || strings.Contains(a.Instructions, "hands and knees")
			if floor && !strings.Contains(a.Instructions, "bed") {
				t.Errorf("%s/%s: a floor exercise with no bed alternative:\n%s", p.ID, a.ID, a.Instructions)
			}
		}
	}
	stretching, _ := lib.Get("stretching")
	fig4, _ := stretching.Activity("figure-four")
	k2c, _ := stretching.Activity("knee-to-chest")
	if !strings.Contains(fig4.Instructions, "hip replacement") || !strings.Contains(k2c.Instructions, "sends pain into a leg") {
		t.Errorf("caveats missing:\n%s\n%s", fig4.Instructions, k2c.Instructions)
	}
	for _, id := range []string{"low-energy-day", "desk-breaks"} {
		p, _ := lib.Get(id)
		for _, a := range p.Activities {
			if start := a.StartDose(p.Rules, a.Baseline); a.Goal != start {
				t.Errorf("%s/%s: goal %d, start %d; a fixed activity has its goal at its start", id, a.ID, a.Goal, start)
			}
			if id == "desk-breaks" && len(a.Schedule.Times) != 1 {
				t.Errorf("desk-breaks/%s: %d times a day; it is logged once a day", a.ID, len(a.Schedule.Times))
			}
		}
	}
	// A flare-up does not cut the low-energy floor.
	low, _ := lib.Get("low-energy-day")
	start := MakeDate(2026, time.March, 2)
	as := Assignment{Program: low, Start: start, Location: time.UTC, Weeks: 3}
	plan, err := Compute(as, []CheckIn{{Date: start.AddDays(2), Kind: FlareCheckIn}}, nil, start.AddDays(3).In(time.UTC, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, aw := range plan.Weeks[0].Activities {
		for _, x := range aw.Sessions {
			if a, _ := low.Activity(aw.ID); x.Dose != a.Goal {
				t.Errorf("low-energy-day/%s on %s: %d during a flare, want the floor %d", aw.ID, x.Date, x.Dose, a.Goal)
			}
		}
	}
}

// Every template activity whose goal is above its start reaches its goal in
// a 52-week projection with every session done.
func TestTemplatesReachTheirGoals(t *testing.T) {
	start := MakeDate(2026, time.January, 5)
	for _, p := range loadLibrary(t).All() {
		as := Assignment{Program: p, Start: start, Location: time.UTC, Weeks: 52}
		plan, err := Compute(as, nil, nil, start.In(time.UTC, 0))
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range p.Activities {
			if a.Goal <= a.StartDose(p.Rules, a.Baseline) {
				continue
			}
			reached := 0
			for _, wk := range plan.Weeks {
				if wk.Activities[i].Dose == a.Goal {
					reached = wk.Week
					break
				}
			}
			if reached == 0 {
				t.Errorf("%s/%s does not reach its goal %d in 52 weeks", p.ID, a.ID, a.Goal)
				continue
			}
			t.Logf("%s/%s: from %d to %d %s by week %d", p.ID, a.ID, a.StartDose(p.Rules, a.Baseline), a.Goal, a.Unit, reached)
		}
	}
}
