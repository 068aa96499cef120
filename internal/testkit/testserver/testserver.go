// Package testserver runs pacer for handler and page tests exactly as
// `pacer serve` builds it (daemon.New), on a real store, behind an
// httptest server, with a settable clock and two therapists.
package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/config"
	"pacer/internal/daemon"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/fixture"
	"pacer/programs"
)

// Start is where the clock starts unless Options say otherwise: a Monday,
// 07:00 in Berlin.
var Start = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Options adjust the server a test runs.
type Options struct {
	// Config adjusts the configuration (SMTP, channel tokens…) before the
	// server is built.
	Config func(c *config.Config)
	// Start is the clock's start; zero: Start.
	Start time.Time
	// Log receives the server's log; nil: discarded.
	Log io.Writer
	// BaseURL, if set, is the public URL links are built from instead of
	// the test server's own (e.g. https, for Secure cookies); requests
	// still go to URL.
	BaseURL *url.URL
}

// Server is a running pacer under test.
type Server struct {
	t      testing.TB
	URL    string
	Store  *store.Store
	Daemon *daemon.Daemon
	Clock  *testkit.Clock
	// A and B are two therapists, TokenA and TokenB their API tokens; A is
	// an admin.
	A, B           store.Therapist
	TokenA, TokenB string

	dsn  string
	opts Options
}

// New runs pacer on the store at dsn (opened and migrated here). Benchmarks
// may run it too.
func New(t testing.TB, dsn string, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Start.IsZero() {
		o.Start = Start
	}
	s := run(t, dsn, o, testkit.NewClock(o.Start))
	s.A, s.TokenA = fixture.Therapist(t, s.Store, "a@example.org", true)
	s.B, s.TokenB = fixture.Therapist(t, s.Store, "b@example.org", false)
	return s
}

// Replica runs a second pacer on s's database, with a store of its own and
// the same options, clock and therapists, as a second `pacer serve` on one
// PostgreSQL database.
func (s *Server) Replica() *Server {
	s.t.Helper()
	r := run(s.t, s.dsn, s.opts, s.Clock)
	r.A, r.TokenA, r.B, r.TokenB = s.A, s.TokenA, s.B, s.TokenB
	return r
}

// run builds pacer with daemon.New and serves it. On PostgreSQL it runs the
// daemon's listener for other replicas' changes, as Run does, and waits
// until it listens (the feed cache is in use only then).
func run(t testing.TB, dsn string, o Options, clock *testkit.Clock) *Server {
	t.Helper()
	var logw io.Writer = io.Discard
	if o.Log != nil {
		logw = o.Log
	}
	st := fixture.Open(t, dsn)
	cfg := config.Defaults(func(string) string { return "" })
	if o.Config != nil {
		o.Config(&cfg)
	}
	hs := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + hs.Listener.Addr().String())
	if o.BaseURL != nil {
		base = o.BaseURL
	}
	d, err := daemon.New(t.Context(), daemon.Options{Store: st, Config: &cfg, Key: bytes.Repeat([]byte("k"), 32),
		BaseURL: base, Now: clock.Now, Log: slog.New(slog.NewTextHandler(logw, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = d.Handler
	hs.Start()
	t.Cleanup(hs.Close)
	if st.Dialect() == store.Postgres {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); d.Listen(ctx) }()
		t.Cleanup(func() { cancel(); <-done }) // before the store closes
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, _, ok := d.Web.FeedCache(); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the daemon did not listen for other replicas' changes within 10 s")
			}
		}
	}
	return &Server{t: t, URL: hs.URL, Store: st, Daemon: d, Clock: clock, dsn: dsn, opts: o}
}

// Do sends a request (a JSON body when body is not empty) with the bearer
// token if given and extra headers as name, value pairs, and returns the
// status, body and headers.
func (s *Server) Do(method, path, token, body string, hdr ...string) (int, []byte, http.Header) {
	s.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.URL + path
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// JSON sends a request, fails the test unless it answers want, and decodes
// the body into out if out is not nil.
func (s *Server) JSON(method, path, token, body string, want int, out any) {
	s.t.Helper()
	code, b, _ := s.Do(method, path, token, body)
	if code != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// Links are a patient's links as the API returns them.
type Links struct {
	ID         int64  `json:"id"`
	FeedURL    string `json:"feed_url"`
	WebcalURL  string `json:"webcal_url"`
	CheckinURL string `json:"checkin_url"`
}

// Patient adds a patient of therapist A through the API.
func (s *Server) Patient(body string) Links {
	s.t.Helper()
	var l Links
	s.JSON("POST", "/api/v1/patients", s.TokenA, body, http.StatusCreated, &l)
	return l
}

// Assign assigns a program to a patient of therapist A through the API and
// returns the assignment's id.
func (s *Server) Assign(patientID int64, body string) int64 {
	s.t.Helper()
	var out struct {
		ID int64 `json:"id"`
	}
	s.JSON("POST", "/api/v1/patients/"+itoa(patientID)+"/assignments", s.TokenA, body, http.StatusCreated, &out)
	return out.ID
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// AddPatient adds a patient of therapist A through the clinic (as the API
// and the forms do, without their rate limits), with a template assigned
// from start when templateID is not empty, and returns the patient's links.
func (s *Server) AddPatient(name, email, timezone, templateID string, start programs.Date) Links {
	s.t.Helper()
	c := s.Daemon.Clinic
	p, err := c.AddPatient(s.t.Context(), s.A.ID, clinic.NewPatient{Name: name, Email: email, Timezone: timezone, Discreet: true})
	if err != nil {
		s.t.Fatal(err)
	}
	if templateID != "" {
		prog, ok := c.Library.Get(templateID)
		if !ok {
			s.t.Fatalf("no template %q", templateID)
		}
		if _, err := c.Assign(s.t.Context(), s.A.ID, p.ID, clinic.Assignment{Program: prog, Start: start}); err != nil {
			s.t.Fatal(err)
		}
	}
	l := c.Links(p)
	return Links{ID: p.ID, FeedURL: l.FeedURL, WebcalURL: l.WebcalURL, CheckinURL: l.CheckinURL}
}

// Assignments are the ids of a patient's active assignments.
func (s *Server) Assignments(patientID int64) []int64 {
	s.t.Helper()
	as, err := s.Store.Assignments(s.t.Context(), patientID)
	if err != nil {
		s.t.Fatal(err)
	}
	var ids []int64
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}
