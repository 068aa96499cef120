package feed

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without relying on the machine's zoneinfo

	"pacer/programs"
)

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// longDescription is long enough to fold several times, with two-, three- and
// four-octet characters and every character TEXT escapes.
const longDescription = "Gehen Sie in Ihrem eigenen Tempo, ruhig und gleichmäßig: Sie sollten " +
	"dabei noch sprechen können. Größere Steigungen vermeiden; bei Schmerzen über 5/10 " +
	"abbrechen, pausieren und später weitergehen. 🚶‍♀️ Schön, dass Sie dabei sind!\n" +
	"Ziel: 20 min · Woche 3 von 8\n" +
	"Warum: Ihre Rückmeldungen der letzten Woche waren gut, daher 2 Minuten mehr.\n" +
	`Pfad C:\Übungen\gehen; Liste a,b,c` + "\n" +
	"Einchecken: https://pacer.example/c/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA"

// sample is the golden feed: every status, a long non-ASCII description, an
// alarm, a cancelled event (which gets no alarm), starts in two zones, two
// events at the same instant (ordered by UID) and events given out of order.
func sample(t testing.TB) Calendar {
	loc := berlin(t)
	mod := time.Date(2026, 3, 1, 18, 4, 5, 0, time.UTC)
	return Calendar{
		Name:  "My movement plan",
		Alarm: true,
		Events: []Event{
			{
				UID: "s1042@pacer", Start: programs.MakeDate(2026, 3, 10).In(loc, 18*60),
				Duration: Duration(programs.Seconds, 20, 3), Title: Title("Knee to chest", programs.Seconds, 20, 3),
				Description: "Lie on your back, bring one knee to your chest, hold.\nThis session was removed after a flare.",
				Status:      Cancelled, Sequence: 3, LastModified: mod.Add(2 * time.Hour),
			},
			{
				UID: "s1001@pacer", Start: programs.MakeDate(2026, 3, 2).In(loc, 7*60+30),
				Duration: Duration(programs.Minutes, 14, 1), Title: Title("Walk", programs.Minutes, 14, 1),
				Description: longDescription, URL: "https://pacer.example/c/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
				Status: Confirmed, Sequence: 0, LastModified: mod,
			},
			{
				UID: "s1000@pacer", Start: programs.MakeDate(2026, 3, 2).In(loc, 7*60+30),
				Duration: Duration(programs.Reps, 8, 2), Title: Title("Bridge", programs.Reps, 8, 2),
				Description: "Slowly; both feet flat, lift the hips, lower.\r\nStop if it hurts, sharp or shooting.",
				Status:      Confirmed, Sequence: 1, LastModified: mod,
			},
			{
				UID: "s1090@pacer", Start: programs.MakeDate(2026, 3, 29).In(loc, 2*60+30), // the night Berlin springs forward
				Duration: Duration(programs.Minutes, 16, 1), Title: "Spaziergang – ruhig, gleichmäßig, ohne Steigung · 16 min",
				Description: "Projected: the dose is decided after next week's review.",
				Status:      Tentative, Sequence: 0, LastModified: mod,
			},
			{
				// Sessions of one program at one time, merged into one event
				// (web: clinic.SameTime): its UID names its members, its
				// length is theirs one after the other.
				UID: "session-2001-2002-2003-2004@pacer", Start: programs.MakeDate(2026, 3, 3).In(loc, 19*60),
				Duration: GroupDuration([]Dose{{programs.Seconds, 20, 3}, {programs.Seconds, 20, 3}, {programs.Seconds, 20, 3}, {programs.Seconds, 20, 2}}),
				Title:    "Dehnübungen · 4 Übungen, 10 Min.",
				Description: "Heute 4 Übungen nacheinander (Woche 2):\n• Knie zur Brust: 3 × 20 Sekunden\n• Figur-4-Dehnung: 3 × 20 Sekunden\n" +
					"• Oberschenkelrückseite mit Gurt: 3 × 20 Sekunden\n• Knie zur Seite: 2 × 20 Sekunden\n\nAnleitung: über den Link unten.\n\n" +
					"Einchecken: https://pacer.example/g/AAAAAAAAB9EwD4vtQX6jmFSlZ1jaqVdp1KaY3r5vFsbcb1zY6EdN9A",
				URL:    "https://pacer.example/g/AAAAAAAAB9EwD4vtQX6jmFSlZ1jaqVdp1KaY3r5vFsbcb1zY6EdN9A",
				Status: Confirmed, Sequence: 7, LastModified: mod.Add(3 * time.Hour),
			},
			{
				UID: "s1100@pacer", Start: time.Date(2026, 4, 6, 16, 0, 0, 0, time.UTC),
				Duration: Duration(programs.Minutes, 6, 1), Title: Title("Stretches", programs.Minutes, 6, 1),
				Description: `Backslash \ semicolon ; comma , and "quotes": kept as typed.`,
				URL:         "https://pacer.example/c/abc?x=1&y=2",
				Status:      Tentative, Sequence: 2, LastModified: mod.Add(time.Hour),
			},
		},
	}
}

// window is a realistic large feed: three programs of three activities, about
// five sessions a week each, over 14 days back and 8 weeks ahead.
func window(t testing.TB) Calendar {
	loc := berlin(t)
	first := programs.MakeDate(2026, 2, 16)
	mod := time.Date(2026, 3, 1, 18, 4, 5, 0, time.UTC)
	type act struct {
		name string
		unit programs.Unit
		dose int
		sets int
		at   programs.Clock
	}
	progs := [][]act{
		{{"Walk", programs.Minutes, 14, 1, 7*60 + 30}, {"Stretches", programs.Minutes, 6, 1, 19 * 60}, {"Bridge", programs.Reps, 8, 2, 12 * 60}},
		{{"Cycling", programs.Minutes, 20, 1, 17 * 60}, {"Knee to chest", programs.Seconds, 20, 3, 21 * 60}, {"Squat", programs.Reps, 10, 3, 8 * 60}},
		{{"Breathing", programs.Minutes, 5, 2, 22 * 60}, {"Cat-cow", programs.Reps, 6, 2, 9 * 60}, {"Calf stretch", programs.Seconds, 30, 2, 18 * 60}},
	}
	var c Calendar
	c.Name = "My movement plan"
	c.Alarm = true
	for p, acts := range progs {
		for a, x := range acts {
			for day := range 70 {
				d := first.AddDays(day)
				if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
					continue // five sessions a week
				}
				week := day/7 + 1
				status, seq := Confirmed, 1
				switch {
				case day >= 28:
					status, seq = Tentative, 0
				case day%11 == 0:
					status, seq = Cancelled, 2
				}
				dose := x.dose + week/2
				c.Events = append(c.Events, Event{
					UID:      fmt.Sprintf("s%d-%d-%s@pacer", p, a, d),
					Start:    d.In(loc, int(x.at)),
					Duration: Duration(x.unit, dose, x.sets),
					Title:    Title(x.name, x.unit, dose, x.sets),
					Description: strings.Join([]string{
						"Do it at an easy pace; you should still be able to talk. Stop if pain rises above 5/10 and rest.",
						fmt.Sprintf("Target: %s. Week %d of 10.", x.unit.Format(dose), week),
						"Why: last week went well, so the dose rises by one step.",
						"Check in: https://pacer.example/c/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
					}, "\n"),
					URL:          "https://pacer.example/c/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
					Status:       status,
					Sequence:     seq,
					LastModified: mod,
				})
			}
		}
	}
	return c
}
