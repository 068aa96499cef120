package web_test

import (
	"bytes"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/programs"
)

// The visible bug "German pages keep English activity names": a German
// patient with every template sees every activity's German name on their
// page and in their calendar, and none of the English ones; an English
// patient sees the English ones, as before.
func TestActivityNamesInThePatientsLanguage(t *testing.T) {
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, lang := range []string{"de", "en"} {
		t.Run(lang, func(t *testing.T) {
			e := sqliteEnv(t)
			today := e.Clock.Now().In(berlin).Format(time.DateOnly)
			other := map[string]string{"de": "en", "en": "de"}[lang]
			// A patient a template: seven programs would pass the
			// calendar's size limit.
			for _, p := range lib.All() {
				var links patientLinks
				e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin","discreet":false}`, 201, &links)
				e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, `{"channels":[],"language":"`+lang+`"}`, 200, nil)
				e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA,
					fmt.Sprintf(`{"program":%q,"start":%q}`, p.ID, today), 201, nil)
				page := html.UnescapeString(e.NewBrowser().Get(links.CheckinURL).Body)
				_, feed, _ := e.Do("GET", links.FeedURL, "", "")
				cal, err := ical.NewDecoder(bytes.NewReader(feed)).Decode()
				if err != nil {
					t.Fatal(err)
				}
				var titles, descs []string
				for _, ev := range cal.Events() {
					title, _ := ev.Props.Text(ical.PropSummary)
					desc, _ := ev.Props.Text(ical.PropDescription)
					titles, descs = append(titles, title), append(descs, desc)
				}
				// Sessions at one time are one event ("Stretches · 4
				// exercises"), whose description names each.
				all, listed := strings.Join(titles, "\n"), strings.Join(descs, "\n")
				if !strings.Contains(all, "("+p.NameIn(lang)+")") {
					t.Errorf("%s: no calendar title names the program %q", p.ID, p.NameIn(lang))
				}
				for _, a := range p.Activities {
					name, wrong := a.NameIn(lang), a.NameIn(other)
					if !strings.Contains(page, name) {
						t.Errorf("%s/%s: the page does not name %q", p.ID, a.ID, name)
					}
					if !strings.Contains(all, name+" · ") && !strings.Contains(listed, "• "+name+": ") {
						t.Errorf("%s/%s: no calendar event names %q", p.ID, a.ID, name)
					}
					if strings.Contains(page, ">"+wrong) || strings.Contains(all, wrong+" · ") || strings.Contains(listed, "• "+wrong+": ") {
						t.Errorf("%s/%s: the %s page or calendar says %q", p.ID, a.ID, lang, wrong)
					}
				}
			}
		})
	}
}
