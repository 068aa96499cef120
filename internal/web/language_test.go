package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/internal/store"
	"pacer/notify"
	"pacer/notify/notifytest"
	"pacer/scheduler"
)

// TestGermanPatient sets a patient's language through the channels PUT and
// follows it to their reminders, their red-flag guidance and their feed.
func TestGermanPatient(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
	sent := notifytest.New()
	d := &scheduler.Dispatcher{Store: e.st, Now: e.clock.Now,
		Notifier:   func(context.Context, store.Channel) (notify.Notifier, error) { return sent, nil },
		CheckinURL: func(p store.Patient) string { return e.server.Links(p).CheckinURL },
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil))}
	alerts := &scheduler.Alerts{Store: e.st, CheckinURL: d.CheckinURL,
		PatientURL: func(p store.Patient) string { return fmt.Sprintf("%s/patients/%d", e.srv.URL, p.ID) }, Wake: d.Wake}
	e.server.Reminders(nil, alerts, "", d.Wake)

	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	put := fmt.Sprintf("/api/v1/patients/%d/channels", links.ID)
	var reply channelsReply
	e.json("GET", put, e.tokenA, "", 200, &reply)
	if reply.Language != "en" {
		t.Errorf("a new patient's language is %q, want en", reply.Language)
	}
	for _, bad := range []string{`"fr"`, `""`, `"deutsch"`} {
		code, body, _ := e.do("PUT", put, e.tokenA, `{"channels":[],"language":`+bad+`}`)
		if code != 400 || !strings.Contains(string(body), "use en (English) or de (German)") {
			t.Errorf("language %s: %d %s, want 400 naming en and de", bad, code, body)
		}
	}
	e.json("PUT", put, e.tokenA, `{"channels":[{"type":"webhook","url":"https://hooks.example/r"}],"language":"de-DE"}`, 200, &reply)
	if reply.Language != "de" {
		t.Fatalf("language %q after de-DE, want de", reply.Language)
	}
	e.json("PUT", put, e.tokenA, `{"channels":[{"type":"webhook","url":"https://hooks.example/r"}]}`, 200, &reply)
	if reply.Language != "de" {
		t.Fatalf("a PUT without language changed it to %q", reply.Language)
	}

	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := e.clock.Now().Add(2 * time.Minute).In(berlin)
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, fmt.Sprintf(
		`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
		due.Format(time.DateOnly), due.Format("15:04")), 201, nil)

	// The session reminder, through the dispatcher.
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ms := sent.Messages()
	if len(ms) != 1 {
		t.Fatalf("%d messages, want the session reminder", len(ms))
	}
	if m := ms[0]; !strings.Contains(m.Title, "Ihre Übung") || !strings.Contains(m.Title, "Walk · 8 Minuten") ||
		!strings.Contains(m.Body, links.CheckinURL) || strings.Contains(m.Title+m.Body, "your") {
		t.Errorf("German reminder %+v", m)
	}

	// The feed: title, calendar name, description and reason in German.
	code, body, _ := e.do("GET", links.FeedURL, "", "")
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
	if title, _ := ev.Props.Text(ical.PropSummary); title != "Walk · 8 Min." {
		t.Errorf("German feed title %q, want %q", title, "Walk · 8 Min.")
	}
	desc, _ := ev.Props.Text(ical.PropDescription)
	for _, want := range []string{"Heute: 8 Minuten (Woche 1).", "Beginn mit 80 % Ihres Ausgangswerts von 10 Minuten.", "Eintragen: " + links.CheckinURL} {
		if !strings.Contains(desc, want) {
			t.Errorf("German feed description lacks %q:\n%s", want, desc)
		}
	}
	if strings.Contains(desc, "Today") || strings.Contains(desc, "baseline") {
		t.Errorf("English left in the German feed description:\n%s", desc)
	}

	// The red-flag screen: the urgent-care guidance in German, at once.
	sent.Reset()
	e.json("POST", strings.TrimPrefix(links.CheckinURL, e.srv.URL)+"/checkins", "", `{"kind":"red_flag","answers":["fall_injury"]}`, 201, nil)
	if _, err := d.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var red *notify.Message
	for _, m := range sent.Messages() {
		if m.Urgent && !strings.HasPrefix(m.Title, "Red flag:") {
			red = &m
		}
	}
	if red == nil || red.Title != "Bitte holen Sie noch heute ärztlichen Rat ein" ||
		!strings.Contains(red.Body, "Notaufnahme") || !strings.Contains(red.Body, links.CheckinURL) {
		t.Errorf("German red-flag guidance: %+v in %+v", red, sent.Messages())
	}

	// Back to English: the feed is English again at once.
	e.json("PUT", put, e.tokenA, `{"channels":[],"language":"en"}`, 200, &reply)
	_, body, _ = e.do("GET", links.FeedURL, "", "")
	if !bytes.Contains(body, []byte("My movement plan")) {
		t.Errorf("the feed stayed German after the language went back to en")
	}
}
