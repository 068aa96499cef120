package web_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/internal/testkit"
)

// TestGermanPatient sets a patient's language through the channels PUT and
// follows it to their reminders (email, through the daemon's dispatcher),
// their red-flag guidance and their feed.
func TestGermanPatient(t *testing.T) {
	e, mb := mailedEnv(t, testkit.SQLite(t))

	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	put := fmt.Sprintf("/api/v1/patients/%d/channels", links.ID)
	var reply channelsReply
	e.JSON("GET", put, e.TokenA, "", 200, &reply)
	if reply.Language != "en" {
		t.Errorf("a new patient's language is %q, want en", reply.Language)
	}
	for _, bad := range []string{`"fr"`, `""`, `"deutsch"`} {
		code, body, _ := e.Do("PUT", put, e.TokenA, `{"channels":[],"language":`+bad+`}`)
		if code != 400 || !strings.Contains(string(body), "use en (English) or de (German)") {
			t.Errorf("language %s: %d %s, want 400 naming en and de", bad, code, body)
		}
	}
	e.JSON("PUT", put, e.TokenA, `{"channels":[{"type":"email","address":"rm@example.org"}],"language":"de-DE"}`, 200, &reply)
	if reply.Language != "de" {
		t.Fatalf("language %q after de-DE, want de", reply.Language)
	}
	e.JSON("PUT", put, e.TokenA, `{"channels":[{"type":"email","address":"rm@example.org"}]}`, 200, &reply)
	if reply.Language != "de" {
		t.Fatalf("a PUT without language changed it to %q", reply.Language)
	}

	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := e.Clock.Now().Add(2 * time.Minute).In(berlin)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, fmt.Sprintf(
		`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
		due.Format(time.DateOnly), due.Format("15:04")), 201, nil)

	// The session reminder, through the dispatcher.
	e.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
	run(t, e)
	ms := mb.received()
	if len(ms) != 1 {
		t.Fatalf("%d messages, want the session reminder", len(ms))
	}
	// An email goes through others' servers: it carries the session's own
	// link, never the check-in link.
	if title, text := subjectOf(ms[0]), ms[0].Body; !strings.Contains(title, "Ihre Übung") || !strings.Contains(title, "Spaziergang · 8 Minuten") ||
		!strings.Contains(text, e.URL+"/s/") || strings.Contains(text, links.CheckinURL) || strings.Contains(title+text, "your") ||
		strings.Contains(title+text, "Walk") {
		t.Errorf("German reminder %q: %s", title, text)
	}

	// The feed: title, calendar name, description and reason in German.
	code, body, _ := e.Do("GET", links.FeedURL, "", "")
	if code != 200 {
		t.Fatalf("feed: %d", code)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := cal.Props.Text("X-WR-CALNAME"); name != "Mein Bewegungsplan" {
		t.Errorf("calendar name %q", name)
	}
	ev := cal.Events()[0]
	if title, _ := ev.Props.Text(ical.PropSummary); title != "Spaziergang · 8 Min." {
		t.Errorf("German feed title %q, want %q", title, "Spaziergang · 8 Min.")
	}
	desc, _ := ev.Props.Text(ical.PropDescription)
	for _, want := range []string{"Heute: 8 Minuten (Woche 1).", "Beginn mit 80 % Ihres Ausgangswerts von 10 Minuten.", "Eintragen: " + e.URL + "/s/",
		"Gehen Sie die angegebene Zeit in ruhigem Tempo auf ebenem Boden.", "Holen Sie sich sofort dringend ärztliche Hilfe."} {
		if !strings.Contains(desc, want) {
			t.Errorf("German feed description lacks %q:\n%s", want, desc)
		}
	}
	if strings.Contains(string(body), links.CheckinURL) {
		t.Error("the feed carries the check-in link")
	}
	if strings.Contains(desc, "Today") || strings.Contains(desc, "baseline") || strings.Contains(desc, "Walk") {
		t.Errorf("English left in the German feed description:\n%s", desc)
	}

	// The red-flag screen: the urgent-care guidance in German, at once, to
	// the patient (the therapist's alert goes to the therapist).
	before := len(mb.received())
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["fall_injury"]}`, 201, nil)
	run(t, e)
	red := to(mb.received()[before:], "rm@example.org")
	if len(red) != 1 {
		t.Fatalf("%d messages to the patient after a red flag, want the guidance", len(red))
	}
	// A significant fall: see a doctor today.
	if title, text := subjectOf(red[0]), red[0].Body; title != "Heute noch zur Ärztin oder zum Arzt" ||
		!strings.Contains(text, "Gehen Sie heute noch zu einer Ärztin oder einem Arzt") || !strings.Contains(text, links.CheckinURL) {
		t.Errorf("German red-flag guidance %q: %s", title, text)
	}

	// Back to English: the feed is English again at once.
	e.JSON("PUT", put, e.TokenA, `{"channels":[],"language":"en"}`, 200, &reply)
	_, body, _ = e.Do("GET", links.FeedURL, "", "")
	if !bytes.Contains(body, []byte("My movement plan")) {
		t.Errorf("the feed stayed German after the language went back to en")
	}
}
