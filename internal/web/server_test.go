package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/internal/i18n"
	"pacer/internal/planjson"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// env is pacer as `pacer serve` builds it (daemon.New, through testserver)
// on a real store, with a settable clock and therapists A (an admin) and B.
type env struct {
	*testserver.Server
	t *testing.T
}

func newEnv(t *testing.T, dsn string, opts ...testserver.Options) *env {
	t.Helper()
	return &env{Server: testserver.New(t, dsn, opts...), t: t}
}

// sqliteEnv is an env on a fresh SQLite file.
func sqliteEnv(t *testing.T, opts ...testserver.Options) *env {
	t.Helper()
	return newEnv(t, testkit.SQLite(t), opts...)
}

// patientLinks are a patient's links as the API answers them.
type patientLinks = testserver.Links

// assignmentJSON is an assignment as the API answers it.
type assignmentJSON struct {
	ID      int64         `json:"id"`
	Program string        `json:"program"`
	Start   programs.Date `json:"start"`
	Status  string        `json:"status"`
	PlanURL string        `json:"plan_url"`
}

// patientJSON is a patient as GET /api/v1/patients lists them.
type patientJSON struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Timezone string `json:"timezone"`
}

// errorBody is the API's error answer.
type errorBody struct {
	Error string `json:"error"`
}

// channelsReply is GET and PUT …/channels' answer.
type channelsReply struct {
	Channels   []json.RawMessage `json:"channels"`
	QuietHours struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Drop  bool   `json:"drop"`
	} `json:"quiet_hours"`
	LeadMinutes int    `json:"lead_minutes"`
	NudgeHours  int    `json:"nudge_hours"`
	Language    string `json:"language"`
}

// english is the English catalogue: what an English-speaking patient reads.
var english = i18n.For(i18n.English)

// vevent is what a test compares of a feed's event.
// sessionLink matches a session's link, which differs between stores (its
// token binds the session's id and the patient's nonce).
var sessionLink = regexp.MustCompile(`/s/[A-Za-z0-9_-]{54}`)

type vevent struct {
	UID, Summary, Status string
	Sequence             int
	Start                time.Time
	// Shown is everything a calendar shows of the event (every property
	// but DTSTAMP, SEQUENCE and LAST-MODIFIED, and its alarms).
	Shown string
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
		seq, _ := strconv.Atoi(ev.Props.Get(ical.PropSequence).Value)
		out = append(out, vevent{ev.Props.Get(ical.PropUID).Value, ev.Props.Get(ical.PropSummary).Value,
			ev.Props.Get(ical.PropStatus).Value, seq, start, shown(ev.Component)})
	}
	return out
}

// shown is a component's properties and children in a fixed order, without
// those that say when and how often it changed.
func shown(c *ical.Component) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(c.Props)) {
		switch name {
		case ical.PropDateTimeStamp, ical.PropSequence, ical.PropLastModified:
			continue
		}
		for _, p := range c.Props[name] {
			fmt.Fprintf(&b, "%s;%v:%s\n", name, p.Params, p.Value)
		}
	}
	for _, ch := range c.Children {
		b.WriteString(ch.Name + "{" + shown(ch) + "}\n")
	}
	return b.String()
}

// scenario is the acceptance path through the API. It returns the
// plan JSON and the feed events after a flare, to compare the two stores.
func scenario(t *testing.T, e *env) (planJSON []byte, after []vevent) {
	var pat struct {
		ID                          int64
		FeedURL, CheckinURL, Webcal string `json:"-"`
	}
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","email":"rm@example.org","timezone":"Europe/Berlin"}`, 201, &links)
	pat.ID = links.ID
	if !strings.HasPrefix(links.WebcalURL, "webcal://") || !strings.HasSuffix(links.FeedURL, ".ics") {
		t.Fatalf("links %+v", links)
	}
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", pat.ID), e.TokenA,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":20}}`, 201, &asg)

	code, feed1, h := e.Do("GET", links.FeedURL, "", "")
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
	_, feed2, _ := e.Do("GET", links.FeedURL, "", "")
	if !bytes.Equal(feed1, feed2) {
		t.Error("two fetches of an unchanged feed differ")
	}
	if code, body, _ := e.Do("GET", links.FeedURL, "", "", "If-None-Match", h.Get("ETag")); code != 304 || len(body) != 0 {
		t.Errorf("conditional GET: %d with %d bytes, want 304", code, len(body))
	}
	// Go's client asks for gzip on a GET, not on a HEAD; each encoding has its ETag.
	if code, body, hh := e.Do("HEAD", links.FeedURL, "", "", "Accept-Encoding", "gzip"); code != 200 || len(body) != 0 || hh.Get("ETag") != h.Get("ETag") {
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
	e.Clock.Set(time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC))
	e.JSON("POST", strings.TrimPrefix(links.CheckinURL, e.URL)+"/checkins", "", `{"date":"2026-11-23","kind":"session","activity":"walk","status":"done"}`, 201, nil)
	var res struct {
		InFlare bool `json:"in_flare"`
	}
	e.JSON("POST", strings.TrimPrefix(links.CheckinURL, e.URL)+"/checkins", "", `{"kind":"flare"}`, 201, &res)
	if !res.InFlare {
		t.Error("the flare check-in did not put the plan in a flare")
	}
	_, feed3, _ := e.Do("GET", links.FeedURL, "", "")
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
		// Whatever a calendar shows of an event (time, title, status,
		// description, alarm) changed: SEQUENCE rises; nothing did: it stays.
		if now.Shown != ev.Shown {
			changed++
			if now.Sequence <= ev.Sequence {
				t.Errorf("%s changed (%s → %s) but SEQUENCE stayed %d:\n%s\n→\n%s", ev.UID, ev.Summary, now.Summary, now.Sequence, ev.Shown, now.Shown)
			}
		} else if now.Sequence != ev.Sequence {
			t.Errorf("%s unchanged but SEQUENCE %d → %d", ev.UID, ev.Sequence, now.Sequence)
		}
	}
	if changed == 0 {
		t.Error("the flare changed no event")
	}
	if ev := byUID[before[2].UID]; ev.Summary != "Walk · 4 min" { // Wednesday: the step-back
		t.Errorf("Wednesday after the flare: %q, want the 4-minute step-back", ev.Summary)
	}

	code, planJSON, _ = e.Do("GET", asg.PlanURL, e.TokenA, "")
	if code != 200 {
		t.Fatalf("plan: %d %s", code, planJSON)
	}

	// Rotating the token: the old URL is 404 at once, the new one works.
	var rot struct {
		FeedURL string `json:"feed_url"`
	}
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/feed-token", pat.ID), e.TokenA, "", 200, &rot)
	if code, _, _ := e.Do("GET", links.FeedURL, "", ""); code != 404 {
		t.Errorf("old feed URL after rotation: %d, want 404", code)
	}
	if code, _, _ := e.Do("GET", rot.FeedURL, "", ""); code != 200 {
		t.Errorf("new feed URL: %d", code)
	}
	// The two stores' patients have links of their own.
	for i := range after {
		after[i].Shown = sessionLink.ReplaceAllString(after[i].Shown, "/s/<session link>")
		after[i].Shown = strings.NewReplacer(links.CheckinURL, "<check-in link>", e.URL, "<base URL>").Replace(after[i].Shown)
	}
	return planJSON, after
}

func TestAcceptanceScenario(t *testing.T) {
	var plans [][]byte
	var feeds [][]vevent
	var mu sync.Mutex
	testkit.Stores(t, func(t *testing.T, dsn string) {
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
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		var links patientLinks
		e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"UTC"}`, 201, &links)
		var asg assignmentJSON
		e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"core"}`, 201, &asg)
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
			code, body, _ := e.Do(r.method, r.path, e.TokenB, r.body)
			if code != 404 || !strings.Contains(string(body), `"error"`) {
				t.Errorf("%s %s as another therapist: %d %s, want 404", r.method, r.path, code, body)
			}
		}
		var list []patientJSON
		e.JSON("GET", "/api/v1/patients", e.TokenB, "", 200, &list)
		if len(list) != 0 {
			t.Errorf("therapist B sees %d patients", len(list))
		}
		// And nothing changed for the owner: the feed still answers, unrotated.
		if code, _, _ := e.Do("GET", links.FeedURL, "", ""); code != 200 {
			t.Errorf("owner's feed after B's attempts: %d", code)
		}
	})
}

func TestBadInputIs400AndLosesNothing(t *testing.T) {
	e := sqliteEnv(t)
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &asg)
	c := strings.TrimPrefix(links.CheckinURL, e.URL) + "/checkins"
	e.JSON("POST", c, "", `{"date":"2026-11-23","kind":"session","activity":"walk","status":"done"}`, 201, nil)
	_, planBefore, _ := e.Do("GET", asg.PlanURL, e.TokenA, "")

	for _, r := range []struct{ method, path, token, body, want string }{
		{"POST", "/api/v1/patients", e.TokenA, `{"name":"P"`, "not valid JSON"},
		{"POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"Mars/Base"}`, `timezone "Mars/Base" is not a known IANA time zone`},
		{"POST", "/api/v1/patients", e.TokenA, `{"name":"","timezone":"UTC"}`, "name is required"},
		{"POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"UTC","colour":"red"}`, `unknown field "colour"`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"jogging"}`, `program "jogging" is not a template`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","baseline":{"run":5}}`, `baseline: unknown activity "run"`},
		{"POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":{"id":"x","name":"X","activities":[]}}`, "the inline program is not valid"},
		{"PATCH", fmt.Sprintf("/api/v1/assignments/%d", asg.ID), e.TokenA, `{"dose":{"walk":0}}`, "dose for walk must be more than zero"},
		{"POST", c, "", `{"date":"2026-02-30","kind":"daily","pain":3}`, `date: "2026-02-30" is not a date`},
		{"POST", c, "", `{"kind":"daily","pain":11}`, "pain 11 is outside 0-10"},
		{"POST", c, "", `{"kind":"session","activity":"run","status":"done"}`, `activity "run" is not in your plan`},
		{"POST", c, "", `{"kind":"mood"}`, `unknown kind "mood"`},
		{"POST", c, "", `{"date":"2027-01-01","kind":"flare"}`, "is in the future"},
	} {
		code, body, _ := e.Do(r.method, r.path, r.token, r.body)
		var msg errorBody
		json.Unmarshal(body, &msg)
		if code != 400 || !strings.Contains(msg.Error, r.want) {
			t.Errorf("%s %s %s: %d %s, want 400 with %q", r.method, r.path, r.body, code, body, r.want)
		}
	}
	if code, _, _ := e.Do("POST", "/api/v1/patients", e.TokenA, `{"name":"`+strings.Repeat("x", 70<<10)+`"}`); code != 413 {
		t.Errorf("a 70 KiB body: %d, want 413", code)
	}
	_, planAfter, _ := e.Do("GET", asg.PlanURL, e.TokenA, "")
	if !bytes.Equal(planBefore, planAfter) {
		t.Error("bad input changed the plan")
	}
}

func TestRedFlagPausesAtOnce(t *testing.T) {
	e := sqliteEnv(t)
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"Europe/Berlin"}`, 201, &links)
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &asg)
	var res struct {
		Paused   bool   `json:"paused"`
		Guidance string `json:"guidance"`
	}
	e.JSON("POST", strings.TrimPrefix(links.CheckinURL, e.URL)+"/checkins", "", `{"kind":"red_flag","answers":["bladder_bowel"]}`, 201, &res)
	// The urgent-care guidance is the catalogue's, in the patient's
	// language, for the most urgent answer; with no mail server, nothing
	// reaches the therapist, and the guidance does not claim otherwise.
	if _, want := english.RedFlagAdvice(programs.UrgencyEmergency, i18n.TherapistUnreached, ""); !res.Paused || res.Guidance != want {
		t.Errorf("red flag answer: %+v, want the guidance %q", res, want)
	}
	_, body, _ := e.Do("GET", links.FeedURL, "", "")
	for _, ev := range events(t, body) {
		if ev.Status != "CANCELLED" {
			t.Errorf("event %s on %s is %s after a red flag, want CANCELLED", ev.UID, ev.Start, ev.Status)
		}
	}
	var plan planjson.Plan
	e.JSON("POST", fmt.Sprintf("/api/v1/assignments/%d/resume", asg.ID), e.TokenA, "", 200, &plan)
	if plan.Paused {
		t.Error("resume did not resume")
	}
}

func TestAuthAndRateLimits(t *testing.T) {
	e := sqliteEnv(t)
	if code, _, h := e.Do("GET", "/api/v1/patients", "", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := e.Do("GET", "/api/v1/patients", "nope", ""); code != 401 {
		t.Errorf("bad token: %d", code)
	}
	limited := false
	for range 100 {
		if code, _, _ := e.Do("GET", "/api/v1/patients", e.TokenA, ""); code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("100 requests at once with one token were never limited")
	}
	limited = false
	for range 100 {
		if code, _, _ := e.Do("GET", "/feed/unknown-token.ics", "", ""); code == 429 {
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
	e := sqliteEnv(t)
	if code, _, _ := e.Do("GET", "/readyz", "", ""); code != 200 {
		t.Errorf("readyz %d", code)
	}
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"P","timezone":"UTC"}`, 201, &links)
	code, body, h := e.Do("GET", links.CheckinURL+"/calendar", "", "")
	if code != 200 || h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(body), "webcal://") {
		t.Errorf("check-in link's calendar page: %d, Referrer-Policy %q", code, h.Get("Referrer-Policy"))
	}
	e.Store.Close()
	if code, _, _ := e.Do("GET", "/readyz", "", ""); code != 503 {
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

// A therapist's changes of one day stand in the order they were made: a
// corrected dose is the one planned, and a pause after a resume pauses.
func TestSameDayChangesStandInTheirOrder(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		l := e.Patient(`{"name":"P","timezone":"Europe/Berlin"}`)
		a := fmt.Sprintf("/api/v1/assignments/%d", e.Assign(l.ID, `{"program":"walking","start":"2026-11-23","baseline":{"walk":10}}`))
		var plan planjson.Plan
		for _, dose := range []string{"12", "9"} {
			plan = planjson.Plan{}
			e.JSON("PATCH", a, e.TokenA, `{"dose":{"walk":`+dose+`}}`, 200, &plan)
		}
		if s := plan.Weeks[0].Activities[0].Sessions[0]; s.Date.String() != "2026-11-23" || s.Dose != 9 {
			t.Errorf("today's walk after setting 12, then 9: %+v, want 9", s.Session)
		}
		for _, change := range []string{"pause", "resume", "pause"} {
			plan = planjson.Plan{}
			e.JSON("POST", a+"/"+change, e.TokenA, "", 200, &plan)
		}
		if !plan.Paused || plan.Pause != programs.PausedByTherapist {
			t.Errorf("after pause, resume and pause: paused %v (%q), want paused by the therapist", plan.Paused, plan.Pause)
		}
		var stored planjson.Plan
		e.JSON("GET", a+"/plan", e.TokenA, "", 200, &stored)
		if !stored.Paused || stored.Pause != programs.PausedByTherapist {
			t.Errorf("the stored plan: paused %v (%q), want paused by the therapist", stored.Paused, stored.Pause)
		}
	})
}
