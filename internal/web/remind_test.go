package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"pacer/internal/store"
	"pacer/notify/email"
	"pacer/notify/webhook"
	"pacer/programs"
	"pacer/scheduler"
)

// mailbox is a real SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []*mail.Message
	port int
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

type mailSession struct{ m *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *mailSession) Reset()                               {}
func (s *mailSession) Logout() error                        { return nil }
func (s *mailSession) Data(r io.Reader) error {
	msg, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body []byte
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body, _ = io.ReadAll(quotedprintable.NewReader(msg.Body))
	} else {
		body, _ = io.ReadAll(msg.Body)
	}
	msg.Body = strings.NewReader(string(body))
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, msg)
	s.m.mu.Unlock()
	return nil
}

func (m *mailbox) received() []*mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*mail.Message(nil), m.msgs...)
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	m := &mailbox{}
	srv := smtp.NewServer(m)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return m
}

// sink is a webhook receiver that keeps each call's JSON.
type sink struct {
	mu    sync.Mutex
	calls []map[string]any
	srv   *httptest.Server
}

func startSink(t *testing.T) *sink {
	k := &sink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		k.mu.Lock()
		k.calls = append(k.calls, v)
		k.mu.Unlock()
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *sink) received() []map[string]any {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]map[string]any(nil), k.calls...)
}

// reminders wires a dispatcher with real email and webhook channels into env.
func reminders(t *testing.T, e *env, mb *mailbox) *scheduler.Dispatcher {
	t.Helper()
	chs := &scheduler.Channels{
		Email:   &email.Settings{Host: "127.0.0.1", Port: mb.port, From: "pacer@clinic.example", TLS: email.TLSNone},
		Webhook: webhook.Settings{AllowHTTP: true},
	}
	d := &scheduler.Dispatcher{Store: e.st, Notifier: chs.Notifier, Now: e.clock.Now,
		CheckinURL: func(p store.Patient) string { return e.server.Links(p).CheckinURL },
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil))}
	alerts := &scheduler.Alerts{Store: e.st, EmailReady: true, CheckinURL: d.CheckinURL,
		PatientURL: func(p store.Patient) string { return fmt.Sprintf("%s/patients/%d", e.srv.URL, p.ID) }, Wake: d.Wake}
	e.server.Reminders(chs, alerts, "", d.Wake)
	return d
}

// remindedPatient creates a patient with email and webhook channels whose walk
// is due two minutes after the clock, and returns its links.
func remindedPatient(t *testing.T, e *env, hook string) patientLinks {
	t.Helper()
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"R. M.","email":"rm@example.org","timezone":"Europe/Berlin"}`, 201, &links)
	e.json("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.tokenA,
		`{"channels":[{"type":"email","address":"rm@example.org"},{"type":"webhook","url":"`+hook+`"}]}`, 200, nil)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := e.clock.Now().Add(2 * time.Minute).In(berlin)
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, fmt.Sprintf(
		`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
		due.Format(time.DateOnly), due.Format("15:04")), 201, nil)
	return links
}

func run(t *testing.T, d *scheduler.Dispatcher) int {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReminderAcceptance(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		mb, hook := startMailbox(t), startSink(t)
		d := reminders(t, e, mb)
		links := remindedPatient(t, e, hook.srv.URL)

		if n := run(t, d); n != 0 {
			t.Fatalf("%d reminders went out before they were due", n)
		}
		e.clock.Set(e.clock.Now().Add(2 * time.Minute))
		run(t, d)
		run(t, d) // a second pass sends nothing more
		mails, calls := mb.received(), hook.received()
		if len(mails) != 1 || len(calls) != 1 {
			t.Fatalf("%d emails and %d webhook calls, want exactly one of each", len(mails), len(calls))
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(mails[0].Header.Get("Subject"))
		body, _ := io.ReadAll(mails[0].Body)
		for _, s := range []string{subject, string(body), calls[0]["title"].(string) + calls[0]["body"].(string)} {
			if !strings.Contains(s, "8 minutes") {
				t.Errorf("%q lacks the dose", s)
			}
			for _, word := range []string{"pain", "back", "R. M."} {
				if strings.Contains(subject, word) || strings.Contains(calls[0]["title"].(string), word) {
					t.Errorf("a title says %q", word)
				}
			}
		}
		if !strings.Contains(string(body), links.CheckinURL) || calls[0]["url"] != links.CheckinURL {
			t.Errorf("the check-in link is missing: %s / %v", body, calls[0]["url"])
		}
		if mails[0].Header.Get("To") == "" || !strings.Contains(mails[0].Header.Get("To"), "rm@example.org") {
			t.Errorf("email to %q", mails[0].Header.Get("To"))
		}
	})
}

func TestReminderAfterDowntime(t *testing.T) {
	for _, tt := range []struct {
		name    string
		down    time.Duration // from two minutes before the session
		sent    int
		skipped string
	}{
		{"back within the staleness window: sent once", 90 * time.Minute, 1, ""},
		{"back after three hours: skipped as stale", 3 * time.Hour, 0, "stale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
			mb, hook := startMailbox(t), startSink(t)
			d := reminders(t, e, mb)
			links := remindedPatient(t, e, hook.srv.URL)
			e.clock.Set(e.clock.Now().Add(tt.down)) // the daemon was stopped across the due time
			run(t, d)
			run(t, d)
			if got := len(mb.received()) + len(hook.received()); got != 2*tt.sent {
				t.Errorf("%d messages, want %d", got, 2*tt.sent)
			}
			rs, err := e.st.Reminders(context.Background(), links.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Kind != scheduler.KindSession || r.DueAt.After(e.clock.Now()) {
					continue // tomorrow's session is reminded tomorrow
				}
				if tt.skipped != "" && (r.Status != store.ReminderSkipped || r.SkipReason != tt.skipped) {
					t.Errorf("reminder %s is %s (%s), want skipped as %s", r.DedupeKey, r.Status, r.SkipReason, tt.skipped)
				}
				if tt.skipped == "" && r.Status != store.ReminderSent {
					t.Errorf("reminder %s is %s, want sent", r.DedupeKey, r.Status)
				}
			}
		})
	}
}

func TestReminderAfterADispatcherCrash(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
	mb, hook := startMailbox(t), startSink(t)
	d := reminders(t, e, mb)
	remindedPatient(t, e, hook.srv.URL)
	e.clock.Set(e.clock.Now().Add(2 * time.Minute))
	// A dispatcher claims the due rows and dies before sending.
	claimed, err := e.st.ClaimDue(context.Background(), e.clock.Now(), 2*time.Minute, 100)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d, %v", len(claimed), err)
	}
	if n := run(t, d); n != 0 {
		t.Fatalf("rows under a live lease were claimed again: %d", n)
	}
	e.clock.Set(e.clock.Now().Add(3 * time.Minute)) // the lease expires
	run(t, d)
	run(t, d)
	if len(mb.received()) != 1 || len(hook.received()) != 1 {
		t.Errorf("%d emails, %d webhook calls after the crash, want one each", len(mb.received()), len(hook.received()))
	}
}

func TestCheckedInSessionIsNotReminded(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
	mb, hook := startMailbox(t), startSink(t)
	d := reminders(t, e, mb)
	links := remindedPatient(t, e, hook.srv.URL)
	// Walked early and checked in: neither the reminder nor the nudge goes out.
	e.json("POST", strings.TrimPrefix(links.CheckinURL, e.srv.URL)+"/checkins", "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
	for range 8 {
		e.clock.Set(e.clock.Now().Add(time.Hour))
		run(t, d)
	}
	if n := len(mb.received()) + len(hook.received()); n != 0 {
		t.Errorf("%d messages for a session already checked in", n)
	}
}

func TestFlareAndRedFlagGoOutAtOnce(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
	mb, hook := startMailbox(t), startSink(t)
	d := reminders(t, e, mb)
	links := remindedPatient(t, e, hook.srv.URL)
	c := strings.TrimPrefix(links.CheckinURL, e.srv.URL) + "/checkins"
	e.json("POST", c, "", `{"kind":"flare"}`, 201, nil)
	run(t, d)
	var titles []string
	for _, m := range mb.received() {
		s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		titles = append(titles, m.Header.Get("To")+": "+s)
	}
	want := []string{"rm@example.org", "a@example.org"} // the patient's plan and the therapist's alert
	if len(titles) != 2 || !strings.Contains(strings.Join(titles, "|"), want[0]) || !strings.Contains(strings.Join(titles, "|"), want[1]) {
		t.Errorf("after a flare: %v, want the flare plan to the patient and an alert to the therapist", titles)
	}
	e.json("POST", c, "", `{"kind":"red_flag","answers":["leg_weakness"]}`, 201, nil)
	run(t, d)
	urgent := 0
	for _, call := range hook.received() {
		if call["urgent"] == true {
			urgent++
			if !strings.Contains(call["body"].(string), "urgent medical advice") {
				t.Errorf("red-flag guidance: %v", call["body"])
			}
		}
	}
	if urgent != 1 {
		t.Errorf("%d urgent webhook calls after a red flag, want 1", urgent)
	}
	_ = programs.RedFlagGuidance
}

func TestRemindersAcrossAWeekBoundaryAndDST(t *testing.T) {
	e := newEnv(t, "sqlite:"+t.TempDir()+"/p.db")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 3, 25, 21, 0, 0, 0, berlin) // Wednesday evening; clocks go forward on Sunday 29 March
	e.clock.Set(start)
	mb, hook := startMailbox(t), startSink(t)
	d := reminders(t, e, mb)
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	e.json("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.tokenA,
		`{"channels":[{"type":"webhook","url":"`+hook.srv.URL+`"}],"nudge_hours":0}`, 200, nil)
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA,
		`{"program":"walking","start":"2026-03-26","schedule":{"walk":{"days":["daily"],"times":["07:30"]}}}`, 201, nil)
	reviewer := &scheduler.Reviewer{Store: e.st, Mat: e.server.mat, Now: e.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	type arrival struct {
		tag string
		at  time.Time
	}
	var got []arrival
	ctx := context.Background()
	for now := start; now.Before(start.Add(8 * 24 * time.Hour)); now = now.Add(10 * time.Minute) {
		e.clock.Set(now)
		if now.Minute() == 0 { // the hourly review job
			if _, err := reviewer.Sweep(ctx, scheduler.StartOfLocalDay); err != nil {
				t.Fatal(err)
			}
		}
		before := len(hook.received())
		run(t, d)
		for _, c := range hook.received()[before:] {
			got = append(got, arrival{c["tag"].(string), now})
		}
	}
	var sessions []string
	weekly := 0
	for _, a := range got {
		switch {
		case strings.HasPrefix(a.tag, "session:"):
			sessions = append(sessions, a.at.In(berlin).Format("01-02 15:04 MST"))
		case strings.HasPrefix(a.tag, scheduler.KindWeekly+":"):
			weekly++
			if l := a.at.In(berlin); l.Format("01-02 15:04") != "04-02 07:00" {
				t.Errorf("weekly summary at %s, want 04-02 07:00, at the end of the quiet hours of week 2's first day", l)
			}
		default:
			t.Errorf("unexpected message %q", a.tag)
		}
	}
	want := "03-26 07:30 CET,03-27 07:30 CET,03-28 07:30 CET,03-29 07:30 CEST,03-30 07:30 CEST," +
		"03-31 07:30 CEST,04-01 07:30 CEST,04-02 07:30 CEST"
	if strings.Join(sessions, ",") != want {
		t.Errorf("session reminders arrived\n%s\nwant one a day at 07:30 local\n%s", strings.Join(sessions, ","), want)
	}
	if weekly != 1 {
		t.Errorf("%d weekly summaries, want 1", weekly)
	}
}
