package i18n_test

import (
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pacer/internal/i18n"
	"pacer/programs"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		tag  string
		want i18n.Lang
		ok   bool
	}{
		{"de", i18n.German, true}, {"de-DE", i18n.German, true}, {"DE_at", i18n.German, true},
		{"en", i18n.English, true}, {"en-GB", i18n.English, true},
		{"", i18n.English, false}, {"fr", i18n.English, false}, {"deu", i18n.English, false},
	} {
		got, ok := i18n.Lookup(c.tag)
		if got != c.want || ok != c.ok || i18n.Parse(c.tag) != c.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", c.tag, got, ok, c.want, c.ok)
		}
	}
}

// sample holds every argument any message takes.
var sample = i18n.Args{
	"n": 2, "days": 3, "upto": "10 minutes", "name": "walk", "activity": "Walk", "percent": 80, "baseline": "10 minutes",
	"dose": "8 minutes", "logged": true, "done": 3, "planned": 4, "gate": 70, "rise": 2, "goal": "30 minutes",
	"clamp": "x", "up": "1 minute", "projected": false, "margin": 10, "threshold": "12 minutes", "cap": 130,
	"amount": "14 minutes", "sets": 2, "url": "https://pacer.example/c/t", "doses": "Walk: 4 minutes", "lines": "a\nb",
	"reason": "r", "patient": "Ann", "week": 3, "text": "t",
}

var argName = regexp.MustCompile(`\.([a-z]+)`)

// TestCatalogues holds the catalogues to each other: the same ids in both,
// every message renders with sample arguments, and a German message differs
// from its English one unless it is only symbols and placeholders.
func TestCatalogues(t *testing.T) {
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	if en.Lang() != i18n.English || de.Lang() != i18n.German || i18n.For("fr").Lang() != i18n.English {
		t.Fatal("For picks the wrong catalogue")
	}
	ids := map[i18n.Lang][]string{}
	for _, l := range i18n.Langs {
		ids[l] = slices.Sorted(maps.Keys(i18n.Messages(l)))
	}
	if !slices.Equal(ids[i18n.English], ids[i18n.German]) {
		for _, id := range ids[i18n.English] {
			if !de.Has(id) {
				t.Errorf("German has no %q", id)
			}
		}
		for _, id := range ids[i18n.German] {
			if !en.Has(id) {
				t.Errorf("English has no %q", id)
			}
		}
	}
	// Messages that may read the same in both languages: symbols and
	// placeholders only.
	same := map[string]bool{"amount.sets": true, "message.with_url": true, "flare.dose": true, "weekly.line": true,
		"feed.title": true}
	for _, id := range ids[i18n.English] {
		for _, l := range i18n.Langs {
			text := i18n.Messages(l)[id]
			for _, m := range argName.FindAllStringSubmatch(text, -1) {
				if _, ok := sample[m[1]]; !ok {
					t.Errorf("%s %s: argument %q has no sample", l, id, m[1])
				}
			}
			if got := i18n.For(l).Text(id, sample); strings.HasPrefix(got, "[") || got == "" {
				t.Errorf("%s %s does not render: %q", l, id, got)
			}
		}
		if e, g := en.Text(id, sample), de.Text(id, sample); e == g && !same[id] {
			t.Errorf("%s reads the same in German as in English: %q", id, g)
		}
	}
	// A few that must be German words, not English left in by mistake.
	for id, want := range map[string]string{
		"redflag.guidance": "Notaufnahme", "redflag.title": "ärztlichen Rat", "session.0.title": "Zeit für Ihre",
		"reason.step_back": "Schmerzschub", "feed.name": "Bewegungsplan", "short.minutes": "Min.",
	} {
		if got := de.Text(id, sample); !strings.Contains(got, want) {
			t.Errorf("German %s = %q, want it to contain %q", id, got, want)
		}
	}
	if got := de.Text("redflag.guidance", nil); !strings.Contains(got, "Bitte holen Sie noch heute ärztlichen Rat ein") ||
		strings.Contains(got, " du ") || strings.Contains(got, " dein") {
		t.Errorf("German red-flag guidance is not formal and plain: %q", got)
	}
}

func TestRedFlagsMatchTheEngine(t *testing.T) {
	en := i18n.For(i18n.English)
	if got := en.Text("redflag.guidance", nil); got != programs.RedFlagGuidance {
		t.Errorf("English guidance differs from programs.RedFlagGuidance:\n%s\n%s", got, programs.RedFlagGuidance)
	}
	for _, r := range programs.RedFlags {
		if got := en.Text("redflag.q."+r.ID, nil); got != r.Question {
			t.Errorf("red flag %s: catalogue %q, engine %q", r.ID, got, r.Question)
		}
		if got := i18n.For(i18n.German).Text("redflag.q."+r.ID, nil); got == r.Question || strings.HasPrefix(got, "[") {
			t.Errorf("red flag %s has no German: %q", r.ID, got)
		}
	}
}

func TestAmount(t *testing.T) {
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	for _, u := range []programs.Unit{programs.Minutes, programs.Reps, programs.Seconds} {
		for _, n := range []int{0, 1, 2, 8, 20} {
			if got, want := en.Amount(u, n), u.Format(n); got != want {
				t.Errorf("English Amount(%s, %d) = %q, want %q", u, n, got, want)
			}
		}
	}
	for _, c := range []struct {
		u    programs.Unit
		n    int
		want string
	}{
		{programs.Minutes, 1, "1 Minute"}, {programs.Minutes, 2, "2 Minuten"},
		{programs.Reps, 1, "1 Wiederholung"}, {programs.Reps, 8, "8 Wiederholungen"},
		{programs.Seconds, 1, "1 Sekunde"}, {programs.Seconds, 20, "20 Sekunden"},
	} {
		if got := de.Amount(c.u, c.n); got != c.want {
			t.Errorf("German Amount(%s, %d) = %q, want %q", c.u, c.n, got, c.want)
		}
	}
	if got := de.Short(programs.Minutes, 14); got != "14 Min." {
		t.Errorf("German Short = %q", got)
	}
}

// TestReasons runs the engine over every library program with random
// check-ins and holds every decision's reason to this: the English catalogue
// renders exactly Decision.Reason(), and German renders something else.
func TestReasons(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	seen, shown := map[programs.Code]bool{}, map[programs.Code]bool{}
	germanStart := map[programs.Code]string{
		programs.Progress:      "Steigerung um ",
		programs.FlareStepBack: "Schmerzschub: vorerst ",
		programs.HoldAdherence: "Weiter bei ",
	}
	start := programs.DateOf(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
	for seed := range uint64(12) {
		rng := rand.New(rand.NewPCG(seed, 7))
		for _, p := range lib.All() {
			as := programs.Assignment{Program: p, Start: start, Location: time.UTC, Weeks: 10}
			now := start.AddDays(7*6+2).In(time.UTC, 12*60)
			blank, err := programs.Compute(as, nil, nil, now)
			if err != nil {
				t.Fatal(err)
			}
			cs := checkIns(rng, blank)
			plan, err := programs.Compute(as, cs, nil, now)
			if err != nil {
				t.Fatalf("%s: %v", p.ID, err)
			}
			for _, w := range plan.Weeks {
				ds := []programs.Decision{w.Decision}
				for _, aw := range w.Activities {
					ds = append(ds, aw.Decision)
				}
				for _, d := range ds {
					seen[d.Code] = true
					if got, want := d.ReasonIn(en), d.Reason(); got != want {
						t.Errorf("%s week %d %s:\ncatalogue %q\nengine    %q", p.ID, w.Week, d.Code, got, want)
					}
					g := d.ReasonIn(de)
					if d.Reason() != "" && (g == d.Reason() || strings.Contains(g, "[")) {
						t.Errorf("%s week %d %s: German %q", p.ID, w.Week, d.Code, g)
					}
					if prefix, ok := germanStart[d.Code]; ok && !strings.HasPrefix(g, prefix) {
						t.Errorf("%s week %d %s: German %q, want it to start %q", p.ID, w.Week, d.Code, g, prefix)
					}
					if testing.Verbose() && !shown[d.Code] {
						shown[d.Code] = true
						t.Logf("%s\n  %s\n  %s", d.Code, d.Reason(), g)
					}
				}
			}
		}
	}
	for _, c := range []programs.Code{programs.Start, programs.Progress, programs.FlareStepBack, programs.HoldAdherence, programs.HoldResponse} {
		if !seen[c] {
			t.Errorf("no %s decision was rendered; the test covers less than it claims", c)
		}
	}
}

// checkIns logs the past sessions of a plan as done, partly done or
// skipped, with daily pain and now and then a flare that later settles.
func checkIns(rng *rand.Rand, plan *programs.Plan) []programs.CheckIn {
	var cs []programs.CheckIn
	var flare programs.Date
	for _, w := range plan.Weeks {
		for _, aw := range w.Activities {
			for _, s := range aw.Sessions {
				if s.Date >= plan.Now {
					continue
				}
				st := []programs.Status{programs.Done, programs.Done, programs.Done, programs.Partial, programs.Skipped}[rng.IntN(5)]
				dose := s.Dose
				cs = append(cs, programs.CheckIn{Date: s.Date, Kind: programs.SessionCheckIn, Activity: aw.ID,
					Time: &s.Time, Status: st, Dose: &dose})
			}
		}
	}
	for d := plan.Start; d < plan.Now; d = d.AddDays(1) {
		pain := rng.IntN(4) + 2
		if rng.IntN(5) == 0 {
			pain += 3
		}
		cs = append(cs, programs.CheckIn{Date: d, Kind: programs.DailyCheckIn, Pain: &pain})
		switch {
		case flare == 0 && rng.IntN(25) == 0:
			flare = d
			cs = append(cs, programs.CheckIn{Date: d, Kind: programs.FlareCheckIn})
		case flare != 0 && d > flare.AddDays(3) && rng.IntN(3) == 0:
			flare = 0
			cs = append(cs, programs.CheckIn{Date: d, Kind: programs.SettledCheckIn})
		}
	}
	return cs
}
