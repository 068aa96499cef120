package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/internal/store"
	"pacer/programs"
)

// clock is a settable clock for the server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a running server on a real store, with two therapists.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	st     *store.Store
	clock  *clock
	tokenA string // therapist A's API token
	tokenB string // therapist B's
	server *Server
}

// stores runs fn on SQLite and, when PACER_TEST_POSTGRES_URL is set, on
// PostgreSQL in a schema of its own.
func stores(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db")) })
	base := os.Getenv("PACER_TEST_POSTGRES_URL")
	t.Run("postgres", func(t *testing.T) {
		if base == "" {
			t.Skip("set PACER_TEST_POSTGRES_URL to run against PostgreSQL")
		}
		fn(t, postgresSchema(t, base))
	})
}

func postgresSchema(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "pacer_web_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base) // the store registers pgx
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := NewKeyring(bytes.Repeat([]byte("k"), 32))
	c := &clock{t: time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)} // Monday 07:00 in Berlin
	e := &env{t: t, st: st, clock: c}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	base, _ := url.Parse(e.srv.URL)
	s := New(st, keys, lib, base, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.server = s
	mux.Handle("/", s.Handler())
	for i, email := range []string{"a@example.org", "b@example.org"} {
		th, err := st.CreateTherapist(ctx, email, "", false)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := store.NewToken()
		if err := st.CreateAPIToken(ctx, th.ID, "test", store.HashToken(tok)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.tokenA = tok
		} else {
			e.tokenB = tok
		}
	}
	return e
}

// do sends a request and returns the status and body.
func (e *env) do(method, path, token, body string, hdr ...string) (int, []byte, http.Header) {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
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
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (e *env) json(method, path, token, body string, want int, out any) {
	e.t.Helper()
	code, b, _ := e.do(method, path, token, body)
	if code != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

type vevent struct {
	UID, Summary, Status string
	Sequence             string
	Start                time.Time
}

func events(t *testing.T, body []byte) []vevent {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("decode feed: %v", err)
	}
	var out []vevent
	for _, ev := range cal.Events() {
		start, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vevent{ev.Props.Get(ical.PropUID).Value, ev.Props.Get(ical.PropSummary).Value,
			ev.Props.Get(ical.PropStatus).Value, ev.Props.Get(ical.PropSequence).Value, start})
	}
	return out
}

// scenario is the acceptance path through the API. It returns the
// plan JSON and the feed events after a flare, to compare the two stores.
func scenario(t *testing.T, e *env) (planJSON []byte, after []vevent) {
	var pat struct {
		ID                          int64
		FeedURL, CheckinURL, Webcal string `json:"-"`
	}
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"R. M.","email":"rm@example.org","timezone":"Europe/Berlin"}`, 201, &links)
	pat.ID = links.ID
	if !strings.HasPrefix(links.WebcalURL, "webcal://") || !strings.HasSuffix(links.FeedURL, ".ics") {
		t.Fatalf("links %+v", links)
	}
	var asg assignmentJSON
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", pat.ID), e.tokenA,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":20}}`, 201, &asg)

	code, feed1, h := e.do("GET", links.FeedURL, "", "")
	if code != 200 || h.Get("Content-Type") != "text/calendar; charset=utf-8" || h.Get("ETag") == "" {
		t.Fatalf("feed: %d %v", code, h)
	}
	// Instructions may speak of pain ("stop if…"); the feed must not name the
	// patient or the condition.
	for _, bad := range []string{"R. M.", "rm@example.org", "back pain", "sciatica", "chronic"} {
		if bytes.Contains(bytes.ToLower(feed1), []byte(strings.ToLower(bad))) {
			t.Errorf("the feed names %q", bad)
		}
	}
	_, feed2, _ := e.do("GET", links.FeedURL, "", "")
	if !bytes.Equal(feed1, feed2) {
		t.Error("two fetches of an unchanged feed differ")
	}
	if code, body, _ := e.do("GET", links.FeedURL, "", "", "If-None-Match", h.Get("ETag")); code != 304 || len(body) != 0 {
		t.Errorf("conditional GET: %d with %d bytes, want 304", code, len(body))
	}
	if code, body, hh := e.do("HEAD", links.FeedURL, "", ""); code != 200 || len(body) != 0 || hh.Get("ETag") != h.Get("ETag") {
		t.Errorf("HEAD: %d, %d bytes, ETag %q", code, len(body), hh.Get("ETag"))
	}
	checkWithClients(t, feed1)
	before := events(t, feed1)
	if len(before) == 0 {
		t.Fatal("no events")
	}
	if before[0].Summary != "Walk · 8 min" {
		t.Errorf("first title %q", before[0].Summary)
	}

	// Monday's walk done, then a flare on Tuesday evening.
	e.clock.Set(time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC))
	e.json("POST", strings.TrimPrefix(links.CheckinURL, e.srv.URL)+"/checkins", "", `{"date":"2026-11-23","kind":"session","activity":"walk","status":"done"}`, 201, nil)
	var res struct {
		InFlare bool `json:"in_flare"`
	}
	e.json("POST", strings.TrimPrefix(links.CheckinURL, e.srv.URL)+"/checkins", "", `{"kind":"flare"}`, 201, &res)
	if !res.InFlare {
		t.Error("the flare check-in did not put the plan in a flare")
	}
	_, feed3, _ := e.do("GET", links.FeedURL, "", "")
	checkWithClients(t, feed3)
	after = events(t, feed3)
	byUID := map[string]vevent{}
	for _, ev := range after {
		byUID[ev.UID] = ev
	}
	changed := 0
	for _, ev := range before {
		now, ok := byUID[ev.UID]
		if !ok {
			t.Errorf("event %s lost its UID after the flare", ev.UID)
			continue
		}
		if now.Summary != ev.Summary || now.Status != ev.Status || !now.Start.Equal(ev.Start) {
			changed++
			if now.Sequence <= ev.Sequence {
				t.Errorf("%s changed (%s → %s) but SEQUENCE stayed %s", ev.UID, ev.Summary, now.Summary, now.Sequence)
			}
		} else if now.Sequence != ev.Sequence {
			t.Errorf("%s unchanged but SEQUENCE %s → %s", ev.UID, ev.Sequence, now.Sequence)
		}
	}
	if changed == 0 {
		t.Error("the flare changed no event")
	}
	if ev := byUID[before[2].UID]; ev.Summary != "Walk · 4 min" { // Wednesday: the step-back
		t.Errorf("Wednesday after the flare: %q, want the 4-minute step-back", ev.Summary)
	}

	code, planJSON, _ = e.do("GET", asg.PlanURL, e.tokenA, "")
	if code != 200 {
		t.Fatalf("plan: %d %s", code, planJSON)
	}

	// Rotating the token: the old URL is 404 at once, the new one works.
	var rot struct {
		FeedURL string `json:"feed_url"`
	}
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/feed-token", pat.ID), e.tokenA, "", 200, &rot)
	if code, _, _ := e.do("GET", links.FeedURL, "", ""); code != 404 {
		t.Errorf("old feed URL after rotation: %d, want 404", code)
	}
	if code, _, _ := e.do("GET", rot.FeedURL, "", ""); code != 200 {
		t.Errorf("new feed URL: %d", code)
	}
	return planJSON, after
}

func TestAcceptanceScenario(t *testing.T) {
	var plans [][]byte
	var feeds [][]vevent
	var mu sync.Mutex
	stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		p, f := scenario(t, e)
		mu.Lock()
		plans, feeds = append(plans, p), append(feeds, f)
		mu.Unlock()
	})
	if len(plans) == 2 {
		if !bytes.Equal(plans[0], plans[1]) {
			t.Error("the plan on PostgreSQL differs from the plan on SQLite")
		}
		strip := func(evs []vevent) []vevent {
			out := slices.Clone(evs)
			for i := range out {
				out[i].UID = ""
			}
			return out
		}
		if !slices.Equal(strip(feeds[0]), strip(feeds[1])) {
			t.Error("the feed events on PostgreSQL differ from those on SQLite")
		}
	}
}

func TestAnotherTherapistGets404Everywhere(t *testing.T) {
	stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		var links patientLinks
		e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"UTC"}`, 201, &links)
		var asg assignmentJSON
		e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":"core"}`, 201, &asg)
		p, a := links.ID, asg.ID
		for _, r := range []struct{ method, path, body string }{
			{"GET", fmt.Sprintf("/api/v1/patients/%d", p), ""},
			{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", p), `{"program":"walking"}`},
			{"POST", fmt.Sprintf("/api/v1/patients/%d/feed-token", p), ""},
			{"GET", fmt.Sprintf("/api/v1/assignments/%d/plan", a), ""},
			{"POST", fmt.Sprintf("/api/v1/assignments/%d/pause", a), ""},
			{"POST", fmt.Sprintf("/api/v1/assignments/%d/resume", a), ""},
			{"PATCH", fmt.Sprintf("/api/v1/assignments/%d", a), `{"dose":{"pelvic-tilt":8}}`},
		} {
			code, body, _ := e.do(r.method, r.path, e.tokenB, r.body)
			if code != 404 || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s %s as another therapist: %d %s, want 404", r.method, r.path, code, body)
			}
		}
		var list []patientJSON
		e.json("GET", "/api/v1/patients", e.tokenB, "", 200, &list)
		if len(list) != 0 {
			t.Errorf("therapist B sees %d patients", len(list))
		}
		// And nothing changed for the owner: the feed still answers, unrotated.
		if code, _, _ := e.do("GET", links.FeedURL, "", ""); code != 200 {
			t.Errorf("owner's feed after B's attempts: %d", code)
		}
	})
}

func TestBadInputIs400AndLosesNothing(t *testing.T) {
	e := newEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	var asg assignmentJSON
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &asg)
	c := strings.TrimPrefix(links.CheckinURL, e.srv.URL) + "/checkins"
	e.json("POST", c, "", `{"date":"2026-11-23","kind":"session","activity":"walk","status":"done"}`, 201, nil)
	_, planBefore, _ := e.do("GET", asg.PlanURL, e.tokenA, "")

	for _, r := range []struct{ method, path, token, body, want string }{
		{"POST", "/api/v1/patients", e.tokenA, `{"name":"P"`, "not valid JSON"},
		{"POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"Mars/Base"}`, `timezone "Mars/Base" is not a known IANA time zone`},
		{"POST", "/api/v1/patients", e.tokenA, `{"name":"","timezone":"UTC"}`, "name is required"},
		{"POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"UTC","colour":"red"}`, `unknown field "colour"`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":"jogging"}`, `program "jogging" is not a template`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":"walking","baseline":{"run":5}}`, `baseline: unknown activity "run"`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":{"id":"x","name":"X","activities":[]}}`, "the inline program is not valid"},
		{"PATCH", fmt.Sprintf("/api/v1/assignments/%d", asg.ID), e.tokenA, `{"dose":{"walk":0}}`, "dose for walk must be more than zero"},
		{"POST", c, "", `{"date":"2026-02-30","kind":"daily","pain":3}`, `date: "2026-02-30" is not a date`},
		{"POST", c, "", `{"kind":"daily","pain":11}`, "pain 11 is outside 0-10"},
		{"POST", c, "", `{"kind":"session","activity":"run","status":"done"}`, `activity "run" is not in your plan`},
		{"POST", c, "", `{"kind":"mood"}`, `unknown kind "mood"`},
		{"POST", c, "", `{"date":"2027-01-01","kind":"flare"}`, "is in the future"},
	} {
		code, body, _ := e.do(r.method, r.path, r.token, r.body)
		var msg errorBody
		json.Unmarshal(body, &msg)
		if code != 400 || !strings.Contains(msg.Error, r.want) {
			t.Errorf("%s %s %s: %d %s, want 400 with %q", r.method, r.path, r.body, code, body, r.want)
		}
	}
	if code, _, _ := e.do("POST", "/api/v1/patients", e.tokenA, `{"name":"`+strings.Repeat("x", 70<<10)+`"}`); code != 413 {
		t.Errorf("a 70 KiB body: %d, want 413", code)
	}
	_, planAfter, _ := e.do("GET", asg.PlanURL, e.tokenA, "")
	if !bytes.Equal(planBefore, planAfter) {
		t.Error("bad input changed the plan")
	}
}

func TestRedFlagPausesAtOnce(t *testing.T) {
	e := newEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	var asg assignmentJSON
	e.json("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.tokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &asg)
	var res struct {
		Paused   bool   `json:"paused"`
		Guidance string `json:"guidance"`
	}
	e.json("POST", strings.TrimPrefix(links.CheckinURL, e.srv.URL)+"/checkins", "", `{"kind":"red_flag","answers":["bladder_bowel"]}`, 201, &res)
	if !res.Paused || res.Guidance != programs.RedFlagGuidance {
		t.Errorf("red flag answer: %+v", res)
	}
	_, body, _ := e.do("GET", links.FeedURL, "", "")
	for _, ev := range events(t, body) {
		if ev.Status != "CANCELLED" {
			t.Errorf("event %s on %s is %s after a red flag, want CANCELLED", ev.UID, ev.Start, ev.Status)
		}
	}
	var plan programs.Plan
	e.json("POST", fmt.Sprintf("/api/v1/assignments/%d/resume", asg.ID), e.tokenA, "", 200, &plan)
	if plan.Paused {
		t.Error("resume did not resume")
	}
}

func TestAuthAndRateLimits(t *testing.T) {
	e := newEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	if code, _, h := e.do("GET", "/api/v1/patients", "", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := e.do("GET", "/api/v1/patients", "nope", ""); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	limited := false
	for range 100 {
		if code, _, _ := e.do("GET", "/api/v1/patients", e.tokenA, ""); code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("100 requests at once with one token were never limited")
	}
	limited = false
	for range 100 {
		if code, _, _ := e.do("GET", "/feed/unknown-token.ics", "", ""); code == 429 {
			limited = true
			break
		} else if code != 404 {
			t.Fatalf("unknown feed: %d, want 404", code)
		}
	}
	if !limited {
		t.Error("guessing feed tokens was never limited")
	}
}

func TestHealthAndCheckinPage(t *testing.T) {
	e := newEnv(t, "sqlite:"+filepath.Join(t.TempDir(), "pacer.db"))
	if code, _, _ := e.do("GET", "/readyz", "", ""); code != 200 {
		t.Errorf("readyz %d", code)
	}
	var links patientLinks
	e.json("POST", "/api/v1/patients", e.tokenA, `{"name":"P","timezone":"UTC"}`, 201, &links)
	code, body, h := e.do("GET", links.CheckinURL, "", "")
	if code != 200 || h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(body), "webcal://") {
		t.Errorf("check-in page: %d, Referrer-Policy %q", code, h.Get("Referrer-Policy"))
	}
	e.st.Close()
	if code, _, _ := e.do("GET", "/readyz", "", ""); code != 503 {
		t.Errorf("readyz with the store closed: %d, want 503", code)
	}
}

// clientEvent is what the feed package's client scripts print per event.
type clientEvent struct {
	UID      string `json:"uid"`
	Start    string `json:"start"`
	End      string `json:"end"`
	Status   string `json:"status"`
	Sequence int    `json:"sequence"`
	Summary  string `json:"summary"`
}

// checkWithClients runs a served feed through Mozilla's ical.js and Debian's
// python3-icalendar (the feed package's harness) when PACER_TEST_ICAL_CLIENTS
// is set, and requires both to see exactly the events go-ical sees.
func checkWithClients(t *testing.T, body []byte) {
	t.Helper()
	if os.Getenv("PACER_TEST_ICAL_CLIENTS") != "1" {
		t.Log("PACER_TEST_ICAL_CLIENTS is not set: the served feed is not run through ical.js and python3-icalendar")
		return
	}
	file := filepath.Join(t.TempDir(), "feed.ics")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	var want []clientEvent
	for _, ev := range cal.Events() {
		start, _ := ev.DateTimeStart(time.UTC)
		end, _ := ev.DateTimeEnd(time.UTC)
		seq := 0
		fmt.Sscan(ev.Props.Get(ical.PropSequence).Value, &seq)
		want = append(want, clientEvent{ev.Props.Get(ical.PropUID).Value, start.UTC().Format("2006-01-02T15:04:05Z"),
			end.UTC().Format("2006-01-02T15:04:05Z"), ev.Props.Get(ical.PropStatus).Value, seq, ev.Props.Get(ical.PropSummary).Value})
	}
	for name, cmd := range map[string][]string{
		"ical.js":           {"node", filepath.Join("..", "feed", "testdata", "icaljs", "check.mjs"), file},
		"python3-icalendar": {"/usr/bin/python3", filepath.Join("..", "feed", "testdata", "check_icalendar.py"), file},
	} {
		out, err := exec.Command(cmd[0], cmd[1:]...).Output()
		if err != nil {
			t.Fatalf("%s: %v (install it as .ci/run does)", name, err)
		}
		var got struct{ Events []clientEvent }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got.Events, want) {
			t.Errorf("%s sees other events than the feed holds:\n got %v\nwant %v", name, got.Events, want)
		}
	}
}
