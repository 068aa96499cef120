package i18n_test

import (
	"fmt"
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
	"reason": "r", "patient": "Ann", "week": 3, "text": "t", "flare": "Thursday 3 Dec", "from": "Friday 4 Dec",
	"capped": true, "code": "X", "weekday": "Monday", "day": 3, "month": "Dec",
	"guidance": "See a doctor today.", "granule": "1 minute", "until": "Sunday 6 Dec", "share": "about half your usual dose",
	"weeks": 2, "ceiling": "10 minutes", "prev": "12 minutes",
	"address": "a@b.example", "time": "07:30", "min": 12, "max": 256,
	"when": "Monday 23 Nov at 14:05", "answers": "night pain (contact a doctor soon)", "tier": "see a doctor today",
	"contact": "Physio am Park, 030 1234567", "times": "07:30, 19:00", "group": "Stretches", "length": "10 min",
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
		"feed.title": true, "alert.red_flag.answer": true, "feed.group.title_same": true, "feed.group.line": true,
		// Names of apps and services.
		"page.cal.outlook.heading": true, "page.channel.ntfy": true, "page.channel.pushover": true,
		"page.channel.telegram": true, "page.ntfy.server": true, "page.telegram.heading": true}
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
		"redflag.advice": "Notaufnahme", "redflag.title": "ärztlichen Rat", "session.0.title": "Zeit für Ihre",
		"reason.step_back": "Schmerzschub", "feed.name": "Bewegungsplan", "short.minutes": "Min.",
	} {
		if got := de.Text(id, sample); !strings.Contains(got, want) {
			t.Errorf("German %s = %q, want it to contain %q", id, got, want)
		}
	}
	if got := de.Text("redflag.advice", nil); !strings.Contains(got, "Bitte holen Sie noch heute ärztlichen Rat ein") ||
		strings.Contains(got, " du ") || strings.Contains(got, " dein") {
		t.Errorf("German red-flag guidance is not formal and plain: %q", got)
	}
}

func TestRedFlagQuestions(t *testing.T) {
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	for _, r := range programs.RedFlags {
		e, g := en.Text("redflag.q."+r.ID, nil), de.Text("redflag.q."+r.ID, nil)
		if strings.HasPrefix(e, "[") || strings.HasPrefix(g, "[") || e == g {
			t.Errorf("red flag %s: English %q, German %q", r.ID, e, g)
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
// check-ins and words every decision and event in English and German: each
// renders (no "[id]" for a missing message or argument), German differs from
// English, and German starts as a German sentence of its kind does.
func TestReasons(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	seen, shown := map[programs.Code]bool{}, map[string]bool{}
	germanStart := map[programs.Code]string{
		programs.Progress:      "Steigerung",
		programs.FlareStepBack: "Schmerzschub",
		programs.HoldAdherence: "Weiter bei ",
	}
	check := func(what string, code programs.Code, e, g string) {
		seen[code] = true
		if strings.Contains(e, "[") || strings.Contains(g, "[") || e == g {
			t.Errorf("%s %s:\nEnglish %q\nGerman  %q", what, code, e, g)
		}
		if prefix, ok := germanStart[code]; ok && !strings.Contains(g, prefix) {
			t.Errorf("%s %s: German %q, want it to hold %q", what, code, g, prefix)
		}
		if testing.Verbose() && !shown[string(code)+e[:min(len(e), 12)]] {
			shown[string(code)+e[:min(len(e), 12)]] = true
			t.Logf("%s\n  %s\n  %s", code, e, g)
		}
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
				what := fmt.Sprintf("%s week %d", p.ID, w.Week)
				ds := []programs.Decision{w.Decision}
				for _, aw := range w.Activities {
					ds = append(ds, aw.Decision)
				}
				for _, d := range ds {
					check(what, d.Code, en.Reason(p, d), de.Reason(p, d))
				}
				for _, ev := range w.Events {
					check(what+" event", ev.Code, en.Event(p, ev, 0, ""), de.Event(p, ev, 0, ""))
					check(what+" event", ev.Code, en.Event(p, ev, ev.Date, ""), de.Event(p, ev, ev.Date, ""))
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

// TestEveryCodeIsWorded words each code of programs.Codes, as a decision
// and as an event, with the facts the engine gives it, in English and
// German: no code falls back to "Plan updated (CODE)", and no sentence is
// left in English.
func TestEveryCodeIsWorded(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	walking, _ := lib.Get("walking")
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	d := programs.MakeDate(2026, 12, 3)
	doses := []programs.ActivityDose{{Activity: "walk", Dose: 6}}
	// The facts the engine gives each code as a week's decision, and as an
	// event (the codes that are events).
	type wording struct{ decisions, events []programs.Facts }
	words := map[programs.Code]wording{
		programs.Start:          {decisions: []programs.Facts{{Dose: 8, Percent: 80, Baseline: 10}, {Dose: 1, Threshold: 1, EveryOther: true, Clamp: programs.ClampCeiling}, {Dose: 12, Percent: 80, Baseline: 15, Calibrated: true, Logged: true}}, events: []programs.Facts{{Dose: 12, Percent: 80, Baseline: 15, Calibrated: true, Logged: true}}},
		programs.Progress:       {decisions: []programs.Facts{{Dose: 9, Prev: 8, Done: 5, Planned: 5}, {Dose: 8, Carried: true, Granule: 1, Done: 5, Planned: 5}, {Dose: 8, Carried: true, Granule: 1, Done: 5, Planned: 5, Projected: true}}},
		programs.HoldAdherence:  {decisions: []programs.Facts{{Dose: 8, Done: 2, Planned: 5, Percent: 70}, {Dose: 8, Done: 3, Planned: 5, Percent: 70, Projected: true}}},
		programs.HoldResponse:   {decisions: []programs.Facts{{Dose: 8, Days: 2, Rise: 2}}},
		programs.HoldCeiling:    {decisions: []programs.Facts{{Dose: 9, Clamp: programs.ClampCeiling, Percent: 10, Threshold: 10}, {Dose: 1, Threshold: 1, EveryOther: true}}},
		programs.HoldSpike:      {decisions: []programs.Facts{{Dose: 8, Clamp: programs.ClampSpike, Percent: 110, Days: 30}}},
		programs.HoldLoad:       {decisions: []programs.Facts{{Dose: 9, Clamp: programs.ClampLoad, Percent: 130, Weeks: 2}}},
		programs.GoalReached:    {decisions: []programs.Facts{{Dose: 30, Goal: 30}}},
		programs.AdjustToLogged: {decisions: []programs.Facts{{Dose: 8, Prev: 16, Percent: 80, Weeks: 2}}},
		programs.FlareStepBack: {decisions: []programs.Facts{{Dose: 4, Flare: d, Percent: 50}, {Dose: 4, Prev: 9, Flare: d, From: d + 1, Percent: 50}, {Dose: 5, Flare: d, Exempt: true}},
			events: []programs.Facts{{Flare: d, From: d + 1, Percent: 50, Doses: doses}, {Flare: d, From: d + 1, Percent: 40, Doses: doses}}},
		programs.FlareReentry: {decisions: []programs.Facts{{Dose: 6, Flare: d, Until: d + 3, Percent: 75}, {Dose: 5, Flare: d, Exempt: true}},
			events: []programs.Facts{{Flare: d, From: d, Until: d + 3, Percent: 75, Doses: doses}}},
		programs.FlareResume:     {decisions: []programs.Facts{{Dose: 8, Flare: d}, {Dose: 5, Flare: d, Exempt: true}}, events: []programs.Facts{{Flare: d, Doses: doses}}},
		programs.FlarePersistent: {decisions: []programs.Facts{{Dose: 4, Days: 14, Flare: d}, {Dose: 5, Days: 14, Flare: d, Exempt: true}}, events: []programs.Facts{{Days: 14, Flare: d}}},
		programs.Paused:          {decisions: []programs.Facts{{Since: d}}, events: []programs.Facts{{Since: d}}},
		programs.PausedRedFlag: {decisions: []programs.Facts{{Since: d, Answers: []string{"night_pain"}, Urgency: programs.UrgencySoon}, {Since: d, Answers: []string{"fever_weight_cancer"}}},
			events: []programs.Facts{{Answers: []string{"bladder_bowel"}, Urgency: programs.UrgencyEmergency}, {Answers: []string{"fever_unwell", "weight_loss_cancer"}, Known: []string{"weight_loss_cancer"}, Urgency: programs.UrgencyToday}}},
		programs.Resumed: {decisions: []programs.Facts{{Dose: 8, Since: d, Days: 3}, {Dose: 7, Prev: 9, Since: d, Days: 35, Percent: 80}},
			events: []programs.Facts{{Since: d, Days: 3, Doses: doses}, {Since: d, Days: 35, Percent: 80, Doses: doses}}},
		programs.CalibrationCode: {decisions: []programs.Facts{{Days: 3, Dose: 10}}},
		programs.Override: {decisions: []programs.Facts{{Change: programs.DoseOverride, Dose: 12, Prev: 9}, {Change: programs.ThresholdOverride, Threshold: 20, Percent: 10, Dose: 9}, {Change: programs.GoalOverride, Goal: 20, Dose: 9}},
			events: []programs.Facts{{Change: programs.DoseOverride, Dose: 12}, {Change: programs.DoseOverride, Dose: 30, Capped: true}, {Change: programs.ThresholdOverride, Threshold: 20, Percent: 10, Dose: 9}, {Change: programs.ThresholdOverride, Threshold: 1, Dose: 1, EveryOther: true}, {Change: programs.GoalOverride, Goal: 20, Dose: 9}}},
		programs.ThresholdLearned: {events: []programs.Facts{{Threshold: 12, Ceiling: 10, PrevCeiling: 23, Flare: d, Percent: 10}, {Threshold: 12, Ceiling: 10, Flare: d, Percent: 10}}},
		programs.CeilingReady:     {events: []programs.Facts{{Threshold: 10, Ceiling: 9, Weeks: 4, Percent: 10}}},
		programs.ThresholdTiny:    {events: []programs.Facts{{Dose: 1, Threshold: 1, Percent: 10, EveryOther: true}}},
	}
	check := func(code programs.Code, f programs.Facts, e, g string) {
		if strings.Contains(e, "("+string(code)+")") || strings.Contains(e, "[") || strings.Contains(g, "[") || e == g ||
			strings.Contains(e+g, "()") || strings.Contains(e+g, "  ") || strings.Contains(e+g, " 0 ") {
			t.Errorf("%s %+v:\nEnglish %q\nGerman  %q", code, f, e, g)
		}
		if testing.Verbose() {
			t.Logf("%s\n  %s\n  %s", code, e, g)
		}
	}
	for _, code := range programs.Codes {
		w, ok := words[code]
		if !ok {
			t.Errorf("no facts to word %s with", code)
			continue
		}
		for _, f := range w.decisions {
			dec := programs.Decision{Code: code, Activity: "walk", Facts: f}
			check(code, f, en.Reason(walking, dec), de.Reason(walking, dec))
		}
		for _, f := range w.events {
			ev := programs.Event{Date: d, Code: code, Activity: "walk", Facts: f}
			check(code, f, en.Event(walking, ev, 0, ""), de.Event(walking, ev, 0, ""))
			check(code, f, en.Event(walking, ev, d+1, "walk"), de.Event(walking, ev, d+1, "walk"))
		}
	}
	// A red-flag pause's reason holds the guidance of the answer's tier.
	for u, want := range map[programs.Urgency]string{programs.UrgencyEmergency: "emergency department",
		programs.UrgencyToday: "See a doctor today", programs.UrgencySoon: "Contact your doctor soon"} {
		dec := programs.Decision{Code: programs.PausedRedFlag, Facts: programs.Facts{Urgency: u}}
		if got := en.Reason(walking, dec); !strings.Contains(got, want) {
			t.Errorf("%s pause: %q, want it to hold %q", u, got, want)
		}
		if en.Reason(walking, dec) == de.Reason(walking, dec) {
			t.Errorf("%s pause is not German: %q", u, de.Reason(walking, dec))
		}
	}
}

// TestRedFlagWording holds the screen's English to progression.md's words.
func TestRedFlagWording(t *testing.T) {
	en := i18n.For(i18n.English)
	for id, want := range map[string]string{
		"saddle_numbness":    `numbness around the genitals, buttocks or inner thighs ("saddle" area), or new sexual problems`,
		"bladder_bowel":      "new difficulty passing or controlling urine or stools",
		"leg_weakness":       "weakness or numbness in both legs, or leg weakness that is getting worse, or new unsteady walking",
		"fever_unwell":       "fever, or feeling generally unwell, with the back pain",
		"weight_loss_cancer": "unexplained weight loss, or a history of cancer with back pain that is new or different",
		"fall_injury":        "a significant fall or injury (a road accident, a fall from a height), or a minor one with osteoporosis or long-term steroid use",
		"immune_drugs":       "a weakened immune system or injected drug use, with new back pain",
		"night_pain":         "severe pain that does not ease with rest or at night",
	} {
		if got := en.Text("redflag.q."+id, nil); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	for u, want := range map[programs.Urgency]string{
		programs.UrgencyEmergency: "Emergency now: call the emergency number or go to the emergency department.",
		programs.UrgencyToday:     "See a doctor today.",
		programs.UrgencySoon:      "Contact your doctor soon.",
	} {
		if got := en.Text("redflag.urgency."+string(u), nil); got != want {
			t.Errorf("%s: %q, want %q", u, got, want)
		}
	}
	if got := en.Text("redflag.lead", nil); !strings.Contains(got, "new or worse since your last answers") && !strings.Contains(got, "Since your last answers") {
		t.Errorf("lead = %q", got)
	}
}

// TestReasonSentences holds a few English sentences to their exact words.
func TestReasonSentences(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	walking, _ := lib.Get("walking")
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	flare := programs.Event{Date: programs.MakeDate(2026, 12, 3), Code: programs.FlareStepBack, Facts: programs.Facts{
		Flare: programs.MakeDate(2026, 12, 3), From: programs.MakeDate(2026, 12, 4), Doses: []programs.ActivityDose{{Activity: "walk", Dose: 4}}}}
	for _, c := range []struct{ got, want string }{
		{en.Reason(walking, programs.Decision{Code: programs.Progress, Activity: "walk", Facts: programs.Facts{Dose: 9, Prev: 8, Done: 5, Planned: 5}}),
			"Up 1 minute to 9 minutes: you did 5 of 5 walk sessions last week and had no flare."},
		{en.Reason(walking, programs.Decision{Code: programs.HoldCeiling, Activity: "walk", Facts: programs.Facts{Dose: 9, Clamp: programs.ClampCeiling, Percent: 10, Threshold: 10}}),
			"Staying at 9 minutes: 10% below the 10 minutes known to bring on a flare."},
		{en.Event(walking, flare, flare.Date, "walk"),
			"You reported a flare-up today. Today's plan stays as it is; the cut starts tomorrow: about half your usual dose (Walk: 4 minutes). Keep gently moving; flare-ups usually settle within a few days."},
		{en.Event(walking, flare, flare.Date.AddDays(1), "walk"),
			"Flare-up reported on Thursday 3 Dec: about half your usual dose for now (Walk: 4 minutes). Keep gently moving; flare-ups usually settle within a few days."},
		{de.Event(walking, flare, flare.Date.AddDays(1), "walk"),
			"Schmerzschub am Donnerstag, 3. Dez. gemeldet: vorerst etwa die Hälfte Ihres üblichen Pensums (Spaziergang: 4 Minuten). Bleiben Sie sanft in Bewegung; ein Schub klingt meist innerhalb weniger Tage ab."},
	} {
		if c.got != c.want {
			t.Errorf("got  %q\nwant %q", c.got, c.want)
		}
	}
	// A name starting with a letter outside ASCII, or holding a parenthesis,
	// is worded whole.
	p, err := programs.Parse("t.yaml", []byte(`id: t
name: T
activities:
  - id: uebung
    name: Übung (leicht)
    kind: mobility
    unit: reps
    baseline: 10
    goal: 20
    instructions: Langsam.
    schedule: {days: [mon], times: ["08:00"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := en.Reason(p, programs.Decision{Code: programs.HoldAdherence, Activity: "uebung", Facts: programs.Facts{Dose: 8, Done: 1, Planned: 5, Percent: 70}}); !strings.Contains(got, "5 übung (leicht) sessions") {
		t.Errorf("reason = %q", got)
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

// A program may be written in the languages pacer has a catalogue for, and
// in no other.
func TestProgramLanguagesAreCatalogues(t *testing.T) {
	var langs []string
	for _, l := range i18n.Langs {
		langs = append(langs, string(l))
	}
	if !slices.Equal(langs, programs.Languages) {
		t.Errorf("catalogues %q, program languages %q: they must be the same", langs, programs.Languages)
	}
}

// An activity is named in the reader's language, or in the program's own:
// English lowers an English name mid-sentence, and nothing else.
func TestActivityName(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	walking, _ := lib.Get("walking")
	german, err := programs.Parse("de.yaml", []byte(`id: gehen
language: de
name: Gehen
activities:
  - {id: walk, name: Gehen, kind: aerobic, unit: minutes, baseline: 10, goal: 30,
     schedule: {days: [daily], times: ["07:30"]}, instructions: "Gehen Sie. Hören Sie auf, wenn es weh tut."}
  - {id: tens, name: TENS, kind: relaxation, unit: minutes, baseline: 10, goal: 10,
     schedule: {days: [daily], times: ["07:30"]}, instructions: "TENS. Hören Sie auf, wenn es weh tut.",
     translations: {en: {name: TENS unit}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	en, de := i18n.For(i18n.English), i18n.For(i18n.German)
	for _, c := range []struct {
		cat  *i18n.Catalog
		prog *programs.Program
		id   string
		want i18n.Name
	}{
		{en, walking, "walk", i18n.Name{Title: "Walk", Mid: "walk"}},
		{de, walking, "walk", i18n.Name{Title: "Spaziergang", Mid: "Spaziergang"}},
		{en, german, "walk", i18n.Name{Title: "Gehen", Mid: "Gehen"}}, // no English name: the German one, as it is
		{de, german, "walk", i18n.Name{Title: "Gehen", Mid: "Gehen"}},
		{en, german, "tens", i18n.Name{Title: "TENS unit", Mid: "TENS unit"}},
		{en, walking, "swim", i18n.Name{Title: "swim", Mid: "swim"}},
		{de, nil, "walk", i18n.Name{Title: "walk", Mid: "walk"}},
	} {
		if got := c.cat.ActivityName(c.prog, c.id); got != c.want {
			t.Errorf("%s: ActivityName(%v, %q) = %+v, want %+v", c.cat.Lang(), c.prog != nil, c.id, got, c.want)
		}
	}
	// The reasons name it so too.
	d := programs.Decision{Code: programs.HoldAdherence, Activity: "walk", Facts: programs.Facts{Dose: 8, Done: 2, Planned: 5}}
	if got := de.Reason(walking, d); !strings.Contains(got, "Spaziergang") {
		t.Errorf("German reason %q does not name the Spaziergang", got)
	}
	if got := en.Reason(walking, d); strings.Contains(got, "Spaziergang") || !strings.Contains(got, "walk") {
		t.Errorf("English reason %q, want it to name the walk", got)
	}
}
