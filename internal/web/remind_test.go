package web_test

// The reminder tests run the daemon's own dispatcher (d.Dispatcher, one
// batch at a time with RunOnce) and its review (d.Jobs.Reviewer), with the
// email channel configured as `pacer serve` reads it, pointed at a real SMTP
// server on loopback. Email is the one channel a production configuration
// lets reach a peer on this machine: webhooks, ntfy and Web Push take https
// URLs only.

import (
	"context"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"pacer/internal/config"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
	"pacer/scheduler"
)

// mailbox is a real SMTP server on loopback that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []*letter
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
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, &letter{Header: msg.Header, Body: string(body)})
	s.m.mu.Unlock()
	return nil
}

// letter is a message as the mailbox received it, its body decoded.
type letter struct {
	Header mail.Header
	Body   string
}

func (m *mailbox) received() []*letter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*letter(nil), m.msgs...)
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

// subjectOf is a message's decoded Subject.
func subjectOf(m *letter) string {
	s, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	return s
}

// to returns the messages addressed to addr.
func to(ms []*letter, addr string) []*letter {
	var out []*letter
	for _, m := range ms {
		if strings.Contains(m.Header.Get("To"), addr) {
			out = append(out, m)
		}
	}
	return out
}

// mailedEnv runs pacer with its SMTP settings pointed at a fresh mailbox, as
// an operator's configuration would (plain SMTP on loopback).
func mailedEnv(t *testing.T, dsn string, opts ...testserver.Options) (*env, *mailbox) {
	t.Helper()
	mb := startMailbox(t)
	var o testserver.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Config = func(c *config.Config) {
		c.SMTP.Host, c.SMTP.Port, c.SMTP.From, c.SMTP.TLS = "127.0.0.1", mb.port, "pacer@clinic.example", "none"
	}
	return newEnv(t, dsn, o), mb
}

// remindedPatient creates a patient with an email channel whose walk is due
// two minutes after the clock, and returns its links.
func remindedPatient(t *testing.T, e *env) patientLinks {
	t.Helper()
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","email":"rm@example.org","timezone":"Europe/Berlin"}`, 201, &links)
	e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA,
		`{"channels":[{"type":"email","address":"rm@example.org"}]}`, 200, nil)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	due := e.Clock.Now().Add(2 * time.Minute).In(berlin)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, fmt.Sprintf(
		`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
		due.Format(time.DateOnly), due.Format("15:04")), 201, nil)
	return links
}

// run sends one batch of due reminders through the daemon's dispatcher.
func run(t *testing.T, e *env) int {
	t.Helper()
	n, err := e.Daemon.Dispatcher.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReminderAcceptance(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, mb := mailedEnv(t, dsn)
		links := remindedPatient(t, e)

		if n := run(t, e); n != 0 {
			t.Fatalf("%d reminders went out before they were due", n)
		}
		e.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
		run(t, e)
		run(t, e) // a second pass sends nothing more
		mails := mb.received()
		if len(mails) != 1 {
			t.Fatalf("%d emails, want exactly one", len(mails))
		}
		title, text := subjectOf(mails[0]), mails[0].Body
		for _, s := range []string{title, text} {
			if !strings.Contains(s, "8 minutes") {
				t.Errorf("%q lacks the dose", s)
			}
		}
		for _, word := range []string{"pain", "back", "R. M."} {
			if strings.Contains(title, word) {
				t.Errorf("the subject %q says %q", title, word)
			}
		}
		// A reminder goes through others' servers: it carries the
		// session's own link, which records that session and nothing else,
		// never the check-in link.
		if !strings.Contains(text, e.URL+"/s/") || strings.Contains(text, links.CheckinURL) {
			t.Errorf("the session's link is missing, or the check-in link is there: %s", text)
		}
		if !strings.Contains(mails[0].Header.Get("To"), "rm@example.org") {
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
			e, mb := mailedEnv(t, testkit.SQLite(t))
			links := remindedPatient(t, e)
			e.Clock.Set(e.Clock.Now().Add(tt.down)) // the daemon was stopped across the due time
			run(t, e)
			run(t, e)
			if got := len(mb.received()); got != tt.sent {
				t.Errorf("%d messages, want %d", got, tt.sent)
			}
			rs, err := e.Store.Reminders(context.Background(), links.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Kind != scheduler.KindSession || r.DueAt.After(e.Clock.Now()) {
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
	e, mb := mailedEnv(t, testkit.SQLite(t))
	remindedPatient(t, e)
	e.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
	// A dispatcher claims the due row and dies before sending.
	claimed, err := e.Store.ClaimDue(context.Background(), e.Clock.Now(), 2*time.Minute, 100)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d, %v; want the session reminder", len(claimed), err)
	}
	if n := run(t, e); n != 0 {
		t.Fatalf("rows under a live lease were claimed again: %d", n)
	}
	e.Clock.Set(e.Clock.Now().Add(3 * time.Minute)) // the lease expires
	run(t, e)
	run(t, e)
	if len(mb.received()) != 1 {
		t.Errorf("%d emails after the crash, want one", len(mb.received()))
	}
}

func TestCheckedInSessionIsNotReminded(t *testing.T) {
	e, mb := mailedEnv(t, testkit.SQLite(t))
	links := remindedPatient(t, e)
	// Walked early and checked in: neither the reminder nor the nudge goes out.
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
	for range 8 {
		e.Clock.Set(e.Clock.Now().Add(time.Hour))
		run(t, e)
	}
	if n := len(mb.received()); n != 0 {
		t.Errorf("%d messages for a session already checked in", n)
	}
}

func TestFlareAndRedFlagGoOutAtOnce(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	e, mb := mailedEnv(t, testkit.SQLite(t))
	links := remindedPatient(t, e)
	c := links.CheckinURL + "/checkins"
	e.JSON("POST", c, "", `{"kind":"flare"}`, 201, nil)
	run(t, e)
	// The patient's plan for the next days, and an alert to the therapist,
	// who has no channel of their own: it goes to their address.
	var titles []string
	for _, m := range mb.received() {
		titles = append(titles, m.Header.Get("To")+": "+subjectOf(m))
	}
	if len(titles) != 2 || len(to(mb.received(), "rm@example.org")) != 1 || len(to(mb.received(), "a@example.org")) != 1 {
		t.Errorf("after a flare: %v, want the flare plan to the patient and an alert to the therapist", titles)
	}
	before := len(mb.received())
	e.JSON("POST", c, "", `{"kind":"red_flag","answers":["leg_weakness"]}`, 201, nil)
	run(t, e)
	after := mb.received()[before:]
	// The urgent-care guidance, worded by the catalogue, to the patient at
	// once, with the link back to the check-in page.
	// Weakness in the legs is an emergency: the guidance of that tier.
	guidance := 0
	// A mail server reaches the therapist: the message may say they are told.
	title, body := english.RedFlagAdvice(programs.UrgencyEmergency, i18n.TherapistSending, "")
	for _, m := range to(after, "rm@example.org") {
		if subjectOf(m) == title {
			guidance++
			if text := m.Body; !strings.Contains(text, body) ||
				!strings.Contains(text, "call the emergency number") || !strings.Contains(text, links.CheckinURL) {
				t.Errorf("red-flag guidance: %s", text)
			}
		}
	}
	if guidance != 1 {
		t.Errorf("%d red-flag guidance emails to the patient, want 1", guidance)
	}
	// The therapist's alert says which answer, how urgent, and when.
	if alerts := to(after, "a@example.org"); len(alerts) != 1 || subjectOf(alerts[0]) != "Red flag, emergency now: R. M." {
		t.Errorf("%d emails to the therapist after a red flag, want the red-flag alert", len(alerts))
	} else if body, when := alerts[0].Body, recordedAt(t, e, links.ID, "red_flag").In(berlin).Format("15:04"); !strings.Contains(body, english.Text("redflag.q.leg_weakness", nil)+" (emergency now)") ||
		!strings.Contains(body, " at "+when) || !strings.Contains(body, fmt.Sprintf("/patients/%d", links.ID)) {
		t.Errorf("the red-flag alert does not name the answer, its urgency, its time (%s) and the patient page:\n%s", when, body)
	}
}

func TestRemindersAcrossAWeekBoundaryAndDST(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 3, 25, 21, 0, 0, 0, berlin) // Wednesday evening; clocks go forward on Sunday 29 March
	e, mb := mailedEnv(t, testkit.SQLite(t), testserver.Options{Start: start})
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA,
		`{"channels":[{"type":"email","address":"p@example.org"}],"nudge_hours":0}`, 200, nil)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA,
		`{"program":"walking","start":"2026-03-26","schedule":{"walk":{"days":["daily"],"times":["07:30"]}}}`, 201, nil)

	// What went out, by the outbox row each message was sent for, and when.
	type arrival struct {
		kind string
		at   time.Time
	}
	var got []arrival
	sent := map[int64]bool{}
	ctx := context.Background()
	for now := start; now.Before(start.Add(8 * 24 * time.Hour)); now = now.Add(10 * time.Minute) {
		e.Clock.Set(now)
		if now.Minute() == 0 { // the hourly review job
			if _, err := e.Daemon.Jobs.Reviewer.Sweep(ctx, scheduler.StartOfLocalDay); err != nil {
				t.Fatal(err)
			}
		}
		run(t, e)
		rs, err := e.Store.Reminders(ctx, links.ID, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status == store.ReminderSent && !sent[r.ID] {
				sent[r.ID] = true
				got = append(got, arrival{r.Kind, now})
			}
		}
	}
	if n := len(mb.received()); n != len(got) {
		t.Errorf("%d emails for %d reminders sent", n, len(got))
	}
	var sessions []string
	weekly := 0
	for _, a := range got {
		switch a.kind {
		case scheduler.KindSession:
			sessions = append(sessions, a.at.In(berlin).Format("01-02 15:04 MST"))
		case scheduler.KindWeekly:
			weekly++
			if l := a.at.In(berlin); l.Format("01-02 15:04") != "04-02 07:00" {
				t.Errorf("weekly summary at %s, want 04-02 07:00, at the end of the quiet hours of week 2's first day", l)
			}
		default:
			t.Errorf("unexpected message %q", a.kind)
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

// recordedAt is when the patient's last check-in of the kind was stored (by
// the store's clock, which stamps it).
func recordedAt(t *testing.T, e *env, patientID int64, kind programs.CheckInKind) time.Time {
	t.Helper()
	cs, err := e.Store.CheckInsOf(t.Context(), patientID)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].CheckIn.Kind == kind {
			return cs[i].CreatedAt
		}
	}
	t.Fatalf("patient %d has no %s check-in", patientID, kind)
	return time.Time{}
}

// A reminder names the activity of its own program. The dispatcher reads
// each batch's programs rather than keeping them by assignment ID, which
// SQLite gives again to a new assignment once the highest is deleted (a
// patient erased): an erased patient's program, with words a therapist
// wrote for them, must never word another patient's reminders.
func TestReminderNamesItsOwnProgramWhenAnIDIsReused(t *testing.T) {
	e, mb := mailedEnv(t, testkit.SQLite(t)) // PostgreSQL never reuses an ID
	berlin, _ := time.LoadLocation("Europe/Berlin")
	remind := func(email, activity string) (patient, assignment int64) {
		var links patientLinks
		e.JSON("POST", "/api/v1/patients", e.TokenA, fmt.Sprintf(`{"name":"R. M.","email":%q,"timezone":"Europe/Berlin"}`, email), 201, &links)
		e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA,
			fmt.Sprintf(`{"channels":[{"type":"email","address":%q}]}`, email), 200, nil)
		due := e.Clock.Now().Add(2 * time.Minute).In(berlin)
		var a struct {
			ID int64 `json:"id"`
		}
		e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, fmt.Sprintf(
			`{"program":{"id":"custom","name":"Custom","activities":[{"id":"w","name":%q,"kind":"aerobic","unit":"minutes","baseline":5,"goal":9,"schedule":{"days":["daily"],"times":[%q]},"instructions":"Go."}]},"start":%q}`,
			activity, due.Format("15:04"), due.Format(time.DateOnly)), 201, &a)
		e.Clock.Set(e.Clock.Now().Add(2 * time.Minute))
		run(t, e)
		return links.ID, a.ID
	}
	erased, first := remind("first@example.org", "Harbour walk")
	if got := to(mb.received(), "first@example.org"); len(got) != 1 || !strings.Contains(strings.ToLower(got[0].Body), "harbour walk") {
		t.Fatalf("want one reminder naming the harbour walk, got %d", len(got))
	}
	if code, body, _ := e.Do("DELETE", fmt.Sprintf("/api/v1/patients/%d", erased), e.TokenA, ""); code != 204 {
		t.Fatalf("erasing the first patient: %d %s", code, body)
	}
	_, second := remind("second@example.org", "Garden walk")
	if second != first {
		t.Fatalf("the new assignment is %d, not the erased %d: SQLite no longer reuses the ID, and this test no longer covers its case", second, first)
	}
	got := to(mb.received(), "second@example.org")
	if len(got) != 1 {
		t.Fatalf("%d reminders to the second patient, want 1", len(got))
	}
	if body := strings.ToLower(got[0].Body); !strings.Contains(body, "garden walk") || strings.Contains(body, "harbour walk") {
		t.Errorf("the second patient's reminder does not name their own activity:\n%s", got[0].Body)
	}
}
