package daemon_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pacer/internal/config"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/scheduler"
)

// A German patient's flare message and weekly summary name the activities
// in German, from the templates' translations; an English patient's, as
// before, in English.
func TestMessagesNameActivitiesInThePatientsLanguage(t *testing.T) {
	for _, c := range []struct {
		lang          string
		flare, weekly []string
		never         string
	}{
		{"en", []string{"Walk: 4 minutes", "Knee to chest: 3 × 5 seconds"}, []string{"Walk: ", "Knee to chest: "}, "Spaziergang"},
		{"de", []string{"Spaziergang: 4 Minuten", "Knie zur Brust: 3 × 5 Sekunden"}, []string{"Spaziergang: ", "Knie zur Brust: "}, "Walk"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			s := testserver.New(t, testkit.SQLite(t), testserver.Options{Start: flareStart.In(time.UTC, 6*60),
				Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" }})
			l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
			s.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), s.TokenA,
				`{"channels":[{"type":"email","address":"r@example.org"}],"language":"`+c.lang+`"}`, 200, nil)
			prog, _ := s.Daemon.Clinic.Library.Get("stretching")
			assign(t, s, l.ID, prog, flareStart)
			s.Clock.Set(flareDay.In(time.UTC, 12*60))
			sweep(t, s)
			s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
			flares := messages(t, s, l.ID, scheduler.KindFlare)
			if len(flares) != 1 {
				t.Fatalf("%d flare messages, want 1", len(flares))
			}
			for _, want := range c.flare {
				if !strings.Contains(flares[0].Body, want) {
					t.Errorf("the flare message does not say %q: %s", want, flares[0].Body)
				}
			}
			s.Clock.Set(flareStart.AddDays(14).In(time.UTC, 0))
			sweep(t, s)
			weekly := messages(t, s, l.ID, scheduler.KindWeekly)
			if len(weekly) != 1 {
				t.Fatalf("%d weekly summaries, want 1", len(weekly))
			}
			for _, want := range c.weekly {
				if !strings.Contains(weekly[0].Body, want) {
					t.Errorf("the weekly summary does not say %q: %s", want, weekly[0].Body)
				}
			}
			if all := flares[0].Title + flares[0].Body + weekly[0].Title + weekly[0].Body; strings.Contains(all, c.never) {
				t.Errorf("the %s messages say %q:\n%s", c.lang, c.never, all)
			}
		})
	}
}

// The session page of a calendar event's link (/s/{token}) shows the
// activity's name and instructions in the patient's language.
func TestSessionLinkInThePatientsLanguage(t *testing.T) {
	s := testserver.New(t, testkit.SQLite(t), testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
	l := s.AddPatient("R", "", "UTC", "walking", flareStart)
	s.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), s.TokenA, `{"channels":[],"language":"de"}`, 200, nil)
	_, body, _ := s.Do("GET", l.FeedURL, "", "")
	var link string
	for _, ev := range feedEvents(t, body) {
		if u := ev.props["URL"]; strings.Contains(u, "/s/") {
			link = u
			break
		}
	}
	if link == "" {
		t.Fatalf("no session link in the feed:\n%s", body)
	}
	p := s.NewBrowser().Get(link)
	for _, want := range []string{"Spaziergang", "Gehen Sie die angegebene Zeit in ruhigem Tempo auf ebenem Boden.",
		"Holen Sie sich sofort dringend ärztliche Hilfe."} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the German session page does not say %q:\n%s", want, p.Body)
		}
	}
	if strings.Contains(p.Body, "Walk") || strings.Contains(p.Body, "Stop if") {
		t.Errorf("English on the German session page:\n%s", p.Body)
	}
}
