package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rsc.io/qr"

	"pacer/internal/config"
	"pacer/internal/i18n"
	"pacer/internal/planjson"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// checkinFixture is a patient in Berlin with a daily 18:00 walk from a
// baseline of 10 minutes (8 minutes in week 1), on Monday 23 Nov 2026 at 07:00.
func checkinFixture(t *testing.T, language string, opts ...testserver.Options) (*env, *browser, patientLinks, string) {
	t.Helper()
	e := sqliteEnv(t, opts...)
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	if language != "" {
		e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA,
			`{"channels":[],"language":"`+language+`"}`, 200, nil)
	}
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["18:00"]}}}`, 201, nil)
	return e, newBrowser(e), links, strings.TrimPrefix(links.CheckinURL, e.URL)
}

// section is the HTML of the page's section with the given id.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no section %q", id)
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// statuses are the statuses of an assignment's sessions by "activity date
// time", from the plan API.
func statuses(t *testing.T, e *env, assignment int64) map[string]programs.Status {
	t.Helper()
	var plan planjson.Plan
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", assignment), e.TokenA, "", 200, &plan)
	out := map[string]programs.Status{}
	for _, w := range plan.Weeks {
		for _, a := range w.Activities {
			for _, s := range a.Sessions {
				out[a.ID+" "+s.Date.String()+" "+s.Time.String()] = s.Status
			}
		}
	}
	return out
}

// onlyAssignment is the patient's one assignment.
func onlyAssignment(t *testing.T, e *env, patientID int64) int64 {
	t.Helper()
	as := e.Assignments(patientID)
	if len(as) != 1 {
		t.Fatalf("assignments %v, want one", as)
	}
	return as[0]
}

// monday is the fixtures' first day, Monday 23 Nov 2026.
var monday, _ = programs.ParseDate("2026-11-23")

func TestCheckinPage(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	p := b.send("GET", path, nil)
	p.want(t, "the check-in page", http.StatusOK, `<html lang="en">`, "My movement plan", "<strong>Walk</strong> · 8 minutes",
		`name="status" value="done"`, `name="status" value="partial"`, `name="status" value="skipped"`,
		"I'm in a flare-up", "Why today's dose", "The week ahead", "Your pain today",
		`href="`+path+`/warning-signs"`, `href="`+path+`/reminders"`, `href="`+path+`/calendar"`, `href="`+path+`/handout"`,
		`rel="manifest"`, `name="apple-mobile-web-app-capable"`, `rel="apple-touch-icon"`, "Your way so far", "This week")
	if got := p.hdr.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer", got)
	}
	if !strings.Contains(p.hdr.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("CSP %q", p.hdr.Get("Content-Security-Policy"))
	}
	lower := strings.ToLower(p.body)
	for _, bad := range []string{"<style", " style=", "onclick=", "onsubmit=", "javascript:"} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(p.body, -1) {
		if !regexp.MustCompile(`src="/static/checkin\.[0-9a-f]{12}\.js"`).MatchString(m) {
			t.Errorf("a script that is not the hashed checkin.js: %s", m)
		}
	}
	if strings.Count(lower, "<script") != strings.Count(lower, "<script src=") {
		t.Error("an inline script")
	}
	// Only what is due: no weekly questions on the first day, no red-flag
	// screen on the page itself (a link to it), no calendar address.
	for _, not := range []string{`name="function"`, `name="answers"`, links.FeedURL, "webcal:"} {
		if strings.Contains(p.body, not) {
			t.Errorf("the first day's page holds %q", not)
		}
	}
	// Today's walk at 18:00, and six more in the week ahead.
	if today := section(t, p.body, "today"); !strings.Contains(today, `name="time" value="18:00"`) ||
		!strings.Contains(today, `name="activity" value="walk"`) || !strings.Contains(today, `name="date" value="2026-11-23"`) {
		t.Errorf("today's session form:\n%s", today)
	}
	if week := section(t, p.body, "week"); strings.Count(week, "<li>") != 7 || !strings.Contains(week, "Tuesday 24 Nov") {
		t.Errorf("the week ahead has %d sessions, want 7:\n%s", strings.Count(week, "<li>"), week)
	}
	if why := section(t, p.body, "why"); !strings.Contains(why, "Start at 80% of your baseline of 10 minutes") {
		t.Errorf("why today's dose:\n%s", why)
	}

	// The static files the page names are served, with their types.
	for _, want := range []struct{ re, ctype string }{
		{`/static/checkin\.[0-9a-f]{12}\.js`, "text/javascript"},
		{`/static/pacer\.[0-9a-f]{12}\.css`, "text/css"},
		{`/static/patient\.[0-9a-f]{12}\.css`, "text/css"},
		{`/static/apple-touch-icon\.[0-9a-f]{12}\.png`, "image/png"},
	} {
		u := regexp.MustCompile(want.re).FindString(p.body)
		if u == "" {
			t.Errorf("the page links no %s", want.re)
			continue
		}
		if s := b.send("GET", u, nil); s.code != 200 || !strings.HasPrefix(s.hdr.Get("Content-Type"), want.ctype) {
			t.Errorf("GET %s: %d %q, want %s", u, s.code, s.hdr.Get("Content-Type"), want.ctype)
		}
	}

	// Done: the plan records it, and the page comes back to the card it was
	// tapped on, which says so and folds the session with an undo.
	asg := onlyAssignment(t, e, links.ID)
	done := b.send("POST", path+"/checkins", url.Values{"kind": {"session"}, "activity": {"walk"}, "date": {"2026-11-23"},
		"time": {"18:00"}, "status": {"done"}, "back": {"at-2026-11-23-1800"}})
	loc := done.redirectedTo(t, "Done", path+"?saved=session")
	if !strings.HasSuffix(loc, "#at-2026-11-23-1800") {
		t.Errorf("after Done the page goes to %q, want back to the card", loc)
	}
	if s := statuses(t, e, asg)["walk 2026-11-23 18:00"]; s != programs.Done {
		t.Errorf("Monday's walk after Done: %q", s)
	}
	p = b.send("GET", loc, nil)
	card := section(t, p.body, "today")
	for _, want := range []string{"Saved. Thank you.", "✓", "done", path + "/undo", "Undo"} {
		if !strings.Contains(card, want) {
			t.Errorf("the card after Done lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, `value="done"`) {
		t.Error("a recorded session still offers Done")
	}
	// Undo: the session is open again.
	id := regexp.MustCompile(`name="session" value="(\d+)"`).FindStringSubmatch(card)
	if id == nil {
		t.Fatalf("no undo form:\n%s", card)
	}
	b.send("POST", path+"/undo", url.Values{"session": {id[1]}, "back": {"at-2026-11-23-1800"}}).
		redirectedTo(t, "Undo", path+"?saved=undo")
	if s := statuses(t, e, asg)["walk 2026-11-23 18:00"]; s != programs.Planned {
		t.Errorf("Monday's walk after Undo: %q, want planned", s)
	}
	p = b.send("GET", path, nil)
	if !strings.Contains(section(t, p.body, "today"), `value="done"`) {
		t.Error("after Undo the session offers no Done")
	}
	// Undoing twice is a page that says so, not an error in JSON.
	again := b.send("POST", path+"/undo", url.Values{"session": {id[1]}, "back": {"at-2026-11-23-1800"}})
	again.want(t, "a second Undo", http.StatusConflict, "This could not be saved", `href="`+path+`#at-2026-11-23-1800"`)

	// A flare: tomorrow's walk steps back to about half.
	flare := b.send("POST", path+"/checkins", url.Values{"kind": {"flare"}, "back": {"flare"}})
	p = b.send("GET", flare.redirectedTo(t, "flare", path+"?saved=flare"), nil)
	p.want(t, "the page after a flare", http.StatusOK, "Settled", "about half", "since Monday 23 Nov")
	if week := section(t, p.body, "week"); !strings.Contains(week, "Tuesday 24 Nov</span> <span class=\"time\">18:00</span> Walk · 4 minutes") {
		t.Errorf("tomorrow's walk after a flare is not 4 minutes:\n%s", week)
	}
	// On the day it is declared, today's dose stands and the page says the
	// cut starts tomorrow, naming tomorrow's dose.
	if why := section(t, p.body, "why"); !strings.Contains(why, "Walk: 8 minutes.") ||
		!strings.Contains(why, "the cut starts tomorrow") || !strings.Contains(why, "(Walk: 4 minutes)") {
		t.Errorf("why today's dose on the day of a flare:\n%s", why)
	}
}

// Loading the page, and any page of the patient's, runs no engine.
func TestCheckinPagesRunNoEngine(t *testing.T) {
	e, b, _, path := checkinFixture(t, "")
	before := e.Daemon.Clinic.EngineRuns()
	for _, sub := range []string{"", "/reminders", "/calendar", "/warning-signs", "/weekly", "/handout"} {
		b.send("GET", path+sub, nil).want(t, "GET "+sub, http.StatusOK)
	}
	if n := e.Daemon.Clinic.EngineRuns() - before; n != 0 {
		t.Errorf("the patient's pages ran the engine %d times", n)
	}
}

// Four stretches at 19:00 are one card with one "Done all".
func TestCheckinDoneAll(t *testing.T) {
	e := sqliteEnv(t)
	l := e.AddPatient("S", "", "Europe/Berlin", "stretching", monday)
	path := strings.TrimPrefix(l.CheckinURL, e.URL)
	b := newBrowser(e)
	p := b.send("GET", path, nil)
	today := section(t, p.body, "today")
	if n := strings.Count(today, `class="slot"`); n != 1 {
		t.Errorf("%d cards for four sessions at 19:00, want 1:\n%s", n, today)
	}
	ids := regexp.MustCompile(`<input type="hidden" name="session" value="(\d+)">`).FindAllStringSubmatch(today, -1)
	if !strings.Contains(today, "Done all 4") || len(ids) != 4 {
		t.Fatalf("no Done all 4 with four sessions:\n%s", today)
	}
	form := url.Values{"back": {"at-2026-11-23-1900"}}
	for _, m := range ids {
		form.Add("session", m[1])
	}
	loc := b.send("POST", path+"/done", form).redirectedTo(t, "Done all", path+"?saved=session")
	st := statuses(t, e, onlyAssignment(t, e, l.ID))
	for _, a := range []string{"knee-to-chest", "figure-four", "hamstring-strap", "trunk-rotation"} {
		if s := st[a+" 2026-11-23 19:00"]; s != programs.Done {
			t.Errorf("%s after Done all: %q", a, s)
		}
	}
	p = b.send("GET", loc, nil)
	today = section(t, p.body, "today")
	if strings.Contains(today, "Done all") || strings.Count(today, "Undo</button>") != 4 || !strings.Contains(today, "Saved. Thank you.") {
		t.Errorf("after Done all, the card:\n%s", today)
	}
	// Another patient's session cannot be named.
	other := e.AddPatient("O", "", "Europe/Berlin", "stretching", monday)
	op := newBrowser(e).send("GET", strings.TrimPrefix(other.CheckinURL, e.URL), nil)
	oid := regexp.MustCompile(`name="session" value="(\d+)"`).FindStringSubmatch(section(t, op.body, "today"))
	b.send("POST", path+"/done", url.Values{"session": {oid[1]}}).want(t, "another's session", http.StatusConflict, "This could not be saved")
	if s := statuses(t, e, onlyAssignment(t, e, other.ID))["knee-to-chest 2026-11-23 19:00"]; s != programs.Planned {
		t.Errorf("the other patient's session: %q", s)
	}
}

// Yesterday and the day before can be logged; three days back cannot.
func TestCheckinEarlierDays(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	e.Clock.Set(e.Clock.Now().Add(72 * time.Hour)) // Thursday 26 Nov, 07:00
	p := b.send("GET", path, nil)
	earlier := section(t, p.body, "earlier")
	for _, want := range []string{"Yesterday, Wednesday 25 Nov", "Tuesday 24 Nov", "1 not logged yet", `value="2026-11-25"`, `value="2026-11-24"`} {
		if !strings.Contains(earlier, want) {
			t.Errorf("earlier days lack %q:\n%s", want, earlier)
		}
	}
	if strings.Contains(p.body, `value="2026-11-23"`) {
		t.Error("Monday, three days back, can still be logged")
	}
	b.send("POST", path+"/checkins", url.Values{"kind": {"session"}, "activity": {"walk"}, "date": {"2026-11-25"},
		"time": {"18:00"}, "status": {"done"}, "back": {"at-2026-11-25-1800"}}).redirectedTo(t, "yesterday's Done", path)
	asg := onlyAssignment(t, e, links.ID)
	if s := statuses(t, e, asg)["walk 2026-11-25 18:00"]; s != programs.Done {
		t.Errorf("yesterday's walk: %q", s)
	}
	// Three days back: a page in the patient's language, not JSON.
	old := b.send("POST", path+"/checkins", url.Values{"kind": {"session"}, "activity": {"walk"}, "date": {"2026-11-23"},
		"time": {"18:00"}, "status": {"done"}, "back": {"today"}})
	old.want(t, "a session three days back", http.StatusBadRequest, "This could not be saved", "2 days after its day", `href="`+path+`#today"`)
	if ct := old.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("the error is %q, want a page", ct)
	}
}

// Pain as eleven buttons; the logged one is shown, and marked.
func TestCheckinPain(t *testing.T) {
	_, b, _, path := checkinFixture(t, "")
	p := b.send("GET", path, nil)
	pain := section(t, p.body, "pain")
	if n := strings.Count(pain, `name="pain"`); n != 11 || strings.Contains(pain, "<select") || strings.Contains(pain, `aria-pressed="true"`) {
		t.Errorf("the pain buttons (%d):\n%s", n, pain)
	}
	loc := b.send("POST", path+"/checkins", url.Values{"kind": {"daily"}, "pain": {"4"}, "back": {"pain"}}).
		redirectedTo(t, "pain 4", path+"?saved=daily")
	if !strings.HasSuffix(loc, "#pain") {
		t.Errorf("after pain the page goes to %q", loc)
	}
	pain = section(t, b.send("GET", loc, nil).body, "pain")
	if !strings.Contains(pain, "Logged today: 4") || !regexp.MustCompile(`value="4" class="pill chosen" aria-pressed="true"`).MatchString(pain) ||
		strings.Count(pain, `aria-pressed="true"`) != 1 || !strings.Contains(pain, "Saved. Thank you.") {
		t.Errorf("after logging pain 4:\n%s", pain)
	}
}

// The weekly questions show only when due, then lead to the warning signs.
func TestCheckinWeeklyDue(t *testing.T) {
	e, b, _, path := checkinFixture(t, "")
	if strings.Contains(b.send("GET", path, nil).body, `id="weekly"`) {
		t.Error("the weekly questions on the first day")
	}
	e.Clock.Set(e.Clock.Now().Add(6 * 24 * time.Hour)) // Sunday 29 Nov
	p := b.send("GET", path, nil)
	p.want(t, "a week on", http.StatusOK, "Your weekly check", `href="`+path+`/weekly"`)
	w := b.send("GET", path+"/weekly", nil)
	w.want(t, "the weekly page", http.StatusOK, `name="function"`, `name="symptoms"`, `name="confidence"`, "Then the warning signs follow")
	if n := strings.Count(w.body, `type="radio"`); n != 33 {
		t.Errorf("%d answers, want 3 × 11", n)
	}
	loc := b.send("POST", path+"/checkins", url.Values{"kind": {"weekly"}, "function": {"6"}, "symptoms": {"4"}, "confidence": {"7"}}).
		redirectedTo(t, "the weekly answers", path+"/warning-signs?after=weekly")
	b.send("GET", loc, nil).want(t, "the warning signs after the week", http.StatusOK, "Your week is saved", english.Text("redflag.lead", nil))
	if strings.Contains(b.send("GET", path, nil).body, `id="weekly"`) {
		t.Error("the weekly questions are still due after answering them")
	}
}

// On the last day of a flare's step-back the page asks "still in a
// flare-up?"; "no" ends the flare.
func TestCheckinStillInFlare(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	b.send("POST", path+"/checkins", url.Values{"kind": {"flare"}})
	var plan planjson.Plan
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", onlyAssignment(t, e, links.ID)), e.TokenA, "", 200, &plan)
	if plan.FlareAsk == 0 {
		t.Fatal("the plan asks no day")
	}
	if strings.Contains(b.send("GET", path, nil).body, "still in a flare-up") {
		t.Error("asked on the day the flare was declared")
	}
	e.Clock.Set(plan.FlareAsk.In(time.UTC, 9*60))
	e.Daemon.Clinic.Replan(context.Background(), links.ID) // the day's review
	p := b.send("GET", path, nil)
	p.want(t, "the day to ask", http.StatusOK, "Are you still in a flare-up?", `name="yes" value="true"`, `name="yes" value="false"`)
	b.send("POST", path+"/checkins", url.Values{"kind": {"still_in_flare"}, "yes": {"false"}, "back": {"flare"}}).
		redirectedTo(t, "no, settled", path+"?saved=still_in_flare")
	p = b.send("GET", path, nil)
	if f := section(t, p.body, "flare"); strings.Contains(f, "Are you still in a flare-up?") || strings.Contains(f, "Settled</button>") ||
		!strings.Contains(f, "picks up again from tomorrow") {
		t.Errorf("after \"no\" the flare goes on:\n%s", f)
	}
	e.Clock.Set(plan.FlareAsk.AddDays(1).In(time.UTC, 9*60))
	e.Daemon.Clinic.Replan(context.Background(), links.ID)
	if f := section(t, b.send("GET", path, nil).body, "flare"); !strings.Contains(f, "I&#39;m in a flare-up") && !strings.Contains(f, "I'm in a flare-up") {
		t.Errorf("the day after, the flare is not over:\n%s", f)
	}
}

func TestCheckinRedFlag(t *testing.T) {
	_, b, _, path := checkinFixture(t, "", testserver.Options{Config: func(c *config.Config) { c.Clinic.Contact = "Physio am Park, 030 1234567" }})
	screen := b.send("GET", path+"/warning-signs", nil)
	screen.want(t, "the red-flag screen", http.StatusOK, english.Text("redflag.lead", nil), "None of these")
	for _, f := range programs.RedFlags {
		if !strings.Contains(screen.body, `value="`+f.ID+`"`) || !strings.Contains(screen.body, english.Text("redflag.q."+f.ID, nil)) {
			t.Errorf("the screen does not ask %s", f.ID)
		}
	}
	none := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}})
	p := b.send("GET", none.redirectedTo(t, "no red flag", path+"?saved=red_flag"), nil)
	p.want(t, "after no red flag", http.StatusOK, "None of the warning signs applies")
	if strings.Contains(p.body, `role="alert"`) {
		t.Error("an alert after no red flag")
	}

	// Only "severe night pain": the least urgent tier's guidance.
	yes := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"night_pain"}})
	p = b.send("GET", yes.redirectedTo(t, "night pain", path+"?saved=red_flag"), nil)
	p.want(t, "after night pain", http.StatusOK, `role="alert"`, english.Text("redflag.title.soon", nil), english.Text("redflag.urgency.soon", nil))
	// No channel reaches the therapist (no mail server): the page says so,
	// with the clinic's contact, and never that the therapist was told.
	p.want(t, "honest about the therapist", http.StatusOK, "could not tell your therapist", "Physio am Park, 030 1234567")
	if strings.Contains(p.body, "has been told") || strings.Contains(p.body, "on its way") {
		t.Errorf("the page claims the therapist was told:\n%s", section(t, p.body, "top"))
	}
	if strings.Contains(section(t, p.body, "today"), `value="done"`) {
		t.Error("a Done button while the plan is paused")
	}
	// The guidance stays while the plan is paused for it.
	b.send("GET", path, nil).want(t, "the page later", http.StatusOK, english.Text("redflag.urgency.soon", nil))
}

// With a mail server, the therapist's alert is on its way until the
// dispatcher sends it, and then they have been told.
func TestCheckinRedFlagTherapistTold(t *testing.T) {
	e, _ := mailedEnv(t, testkit.SQLite(t))
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, nil)
	path := strings.TrimPrefix(links.CheckinURL, e.URL)
	b := newBrowser(e)
	b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"bladder_bowel"}})
	p := b.send("GET", path, nil)
	p.want(t, "before the alert is sent", http.StatusOK, english.Text("redflag.title.emergency", nil),
		english.Text("redflag.urgency.emergency", nil), "A message to your therapist is on its way")
	run(t, e)
	b.send("GET", path, nil).want(t, "after the alert is sent", http.StatusOK, "Your therapist has been told")
}

// A screen answered while a red flag pauses the plan already keeps the
// pause and its day, but a new answer is news: the patient is asked for the most urgent
// answer since, and the therapist gets an alert of its own.
func TestCheckinRedFlagWhilePaused(t *testing.T) {
	e, mb := mailedEnv(t, testkit.SQLite(t))
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	var as struct{ ID int64 }
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &as)
	path := strings.TrimPrefix(links.CheckinURL, e.URL)
	b := newBrowser(e)
	b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"night_pain"}})
	run(t, e)
	b.send("GET", path, nil).want(t, "paused for night pain", http.StatusOK, english.Text("redflag.title.soon", nil), "Your therapist has been told")
	alerts := len(mb.received())

	// The same answer again tells nobody anything new.
	var out struct {
		Paused   bool   `json:"paused"`
		Guidance string `json:"guidance"`
	}
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["night_pain"]}`, 201, &out)
	if run(t, e); len(mb.received()) != alerts {
		t.Fatalf("the same answer again: %d messages, want %d", len(mb.received()), alerts)
	}
	// The next day, a new, more urgent one: its guidance, and an alert on
	// its way.
	e.Clock.Set(e.Clock.Now().Add(24 * time.Hour))
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["bladder_bowel"]}`, 201, &out)
	if !out.Paused || !strings.Contains(out.Guidance, english.Text("redflag.urgency.emergency", nil)) || !strings.Contains(out.Guidance, "on its way") {
		t.Errorf("bladder trouble while paused: %+v, want the emergency guidance and the alert on its way", out)
	}
	b.send("GET", path, nil).want(t, "while the alert is on its way", http.StatusOK, english.Text("redflag.title.emergency", nil),
		english.Text("redflag.urgency.emergency", nil), "A message to your therapist is on its way")
	run(t, e)
	got := mb.received()[alerts:]
	if len(got) != 1 || !strings.Contains(subjectOf(got[0]), "emergency") || !strings.Contains(got[0].Body, english.Text("redflag.q.bladder_bowel", nil)) {
		var subjects []string
		for _, m := range got {
			subjects = append(subjects, subjectOf(m))
		}
		t.Fatalf("after bladder trouble while paused: %q, want one alert naming it", subjects)
	}
	b.send("GET", path, nil).want(t, "after the alert", http.StatusOK, english.Text("redflag.title.emergency", nil), "Your therapist has been told")
	// The plan the therapist reads holds the pause at its most urgent, from
	// its first day.
	var plan struct {
		Paused   bool             `json:"paused"`
		PausedOn programs.Date    `json:"paused_on"`
		Answers  []string         `json:"answers"`
		Urgency  programs.Urgency `json:"urgency"`
		Now      programs.Date    `json:"now"`
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", as.ID), e.TokenA, "", 200, &plan)
	if !plan.Paused || plan.PausedOn != plan.Now.AddDays(-1) || plan.Urgency != programs.UrgencyEmergency ||
		!slices.Equal(plan.Answers, []string{"night_pain", "bladder_bowel"}) {
		t.Errorf("the stored plan: %+v, want paused yesterday for night pain, then bladder trouble: an emergency", plan)
	}
}

// A red flag after the therapist resumed the plan, the same day, pauses it
// again and tells the therapist again: the day's alert was for the pause
// they ended.
func TestRedFlagAfterASameDayResumeAlertsAgain(t *testing.T) {
	e, mb := mailedEnv(t, testkit.SQLite(t))
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, `{"name":"R. M.","timezone":"Europe/Berlin"}`, 201, &links)
	var as struct{ ID int64 }
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA, `{"program":"walking","start":"2026-11-23"}`, 201, &as)
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["bladder_bowel"]}`, 201, nil)
	run(t, e)
	if n := len(to(mb.received(), "a@example.org")); n != 1 {
		t.Fatalf("after the first red flag: %d alerts to the therapist, want 1", n)
	}
	e.Clock.Set(e.Clock.Now().Add(time.Hour))
	e.JSON("POST", fmt.Sprintf("/api/v1/assignments/%d/resume", as.ID), e.TokenA, "", 200, nil)
	e.Clock.Set(e.Clock.Now().Add(time.Hour))
	var out struct {
		Paused bool `json:"paused"`
	}
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["fever_unwell"]}`, 201, &out)
	run(t, e)
	alerts := to(mb.received(), "a@example.org")
	if !out.Paused || len(alerts) != 2 || !strings.Contains(alerts[1].Body, english.Text("redflag.q.fever_unwell", nil)) {
		t.Errorf("after a resume and a second red flag the same day: paused %v, %d alerts to the therapist; want paused and a second alert naming the fever",
			out.Paused, len(alerts))
	}
	// The guidance is the new pause's, not the one the therapist ended.
	var plan struct {
		Urgency programs.Urgency `json:"urgency"`
		Answers []string         `json:"answers"`
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", as.ID), e.TokenA, "", 200, &plan)
	if plan.Urgency != programs.UrgencyToday || !slices.Equal(plan.Answers, []string{"fever_unwell"}) {
		t.Errorf("the stored plan after the second pause: %+v, want the fever's, see a doctor today", plan)
	}
	b := newBrowser(e)
	b.send("GET", strings.TrimPrefix(links.CheckinURL, e.URL), nil).want(t, "the page after the second pause", http.StatusOK,
		english.Text("redflag.title.today", nil))
}

func TestCheckinRedFlagKnownItems(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	// The therapist marks the item known, as on their patient page.
	e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/known-red-flags/weight_loss_cancer", links.ID), e.TokenA, "", 200, nil)
	screen := b.send("GET", path+"/warning-signs", nil)
	known := section(t, screen.body, "top")
	if i := strings.Index(known, `class="known"`); i < 0 || !strings.Contains(known[i:], `name="worse" value="weight_loss_cancer"`) ||
		!strings.Contains(known[i:], english.Text("redflag.worse", nil)) || strings.Contains(known, `name="answers" value="weight_loss_cancer"`) {
		t.Fatalf("the known item is not asked as worse:\n%s", known)
	}
	// The known item answered yes but not worse (as a program might send
	// it) pauses nothing.
	b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"weight_loss_cancer"}})
	if p := b.send("GET", path, nil); strings.Contains(p.body, english.Text("redflag.title.today", nil)) {
		t.Fatalf("a known item, not worse, paused the plan:\n%s", section(t, p.body, "top"))
	}
	// Worse: a yes that is worse, which pauses.
	b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "worse": {"weight_loss_cancer"}})
	b.send("GET", path, nil).want(t, "worse than reviewed", http.StatusOK, english.Text("redflag.title.today", nil))
}

func TestCheckinPageGerman(t *testing.T) {
	_, b, _, path := checkinFixture(t, "de")
	p := b.send("GET", path, nil)
	p.want(t, "the German page", http.StatusOK, `<html lang="de">`, "Mein Bewegungsplan", "Geschafft", "Teilweise",
		"Ausgelassen", "Ich habe einen Schub", "<strong>Spaziergang</strong> · 8 Minuten",
		"Gehen Sie die angegebene Zeit in ruhigem Tempo", "Holen Sie sich sofort dringend ärztliche Hilfe.",
		"Dienstag, 24. Nov.", "Ihr Weg bisher")
	for _, english := range []string{"My movement plan", "Done</button>", "Why today", "The week ahead", "baseline", "Undo", "Walk", "Stop if"} {
		if strings.Contains(p.body, english) {
			t.Errorf("the German page says %q", english)
		}
	}
	de := i18n.For(i18n.German)
	b.send("GET", path+"/warning-signs", nil).want(t, "the German screen", http.StatusOK, de.Text("redflag.q.bladder_bowel", nil), de.Text("redflag.lead", nil))
	yes := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"fall_injury"}})
	b.send("GET", yes.hdr.Get("Location"), nil).want(t, "German guidance", http.StatusOK, de.Text("redflag.urgency.today", nil), "nicht benachrichtigen")
	// A form error is a German page too.
	b.send("POST", path+"/checkins", url.Values{"kind": {"daily"}, "pain": {"11"}}).want(t, "a German error", http.StatusBadRequest, "konnte nicht gespeichert werden")
}

// A link that is not (or no longer) valid is a page in the browser's
// language; programs still get JSON.
func TestCheckinBadLinkIsAPage(t *testing.T) {
	e := sqliteEnv(t)
	b := newBrowser(e)
	p := b.send("GET", "/c/nosuchtoken", nil, "Accept", "text/html", "Accept-Language", "de-DE,de;q=0.9")
	p.want(t, "a bad link in German", http.StatusNotFound, `<html lang="de">`, "Dieser Link funktioniert nicht")
	if !strings.HasPrefix(p.hdr.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q", p.hdr.Get("Content-Type"))
	}
	b.send("POST", "/c/nosuchtoken/checkins", url.Values{"kind": {"daily"}, "pain": {"3"}}).want(t, "a form to a bad link", http.StatusNotFound, "This link does not work")
	code, body, _ := e.Do("POST", "/c/nosuchtoken/checkins", "", `{"kind":"daily","pain":3}`)
	if code != 404 || !strings.Contains(string(body), `"error"`) {
		t.Errorf("JSON to a bad link: %d %s", code, body)
	}
}

func TestCheckinManifestAndServiceWorker(t *testing.T) {
	e, b, _, path := checkinFixture(t, "")
	m := b.send("GET", path+"/manifest.webmanifest", nil)
	m.want(t, "the manifest", http.StatusOK, `"display":"standalone"`, `"start_url":"`+path+`"`, `"icons"`, "512x512")
	if ct := m.hdr.Get("Content-Type"); ct != "application/manifest+json" {
		t.Errorf("manifest Content-Type %q", ct)
	}
	icon := regexp.MustCompile(`/static/icon-512\.[0-9a-f]{12}\.png`).FindString(m.body)
	if s := b.send("GET", icon, nil); icon == "" || s.code != 200 || s.hdr.Get("Content-Type") != "image/png" {
		t.Errorf("icon %q: %d %q", icon, s.code, s.hdr.Get("Content-Type"))
	}
	sw := b.send("GET", "/sw.js", nil)
	sw.want(t, "the service worker", http.StatusOK, "showNotification", "notificationclick", "openWindow",
		"event.action === 'done'", `'{"status":"done"}'`, "n.navigate")
	if ct := sw.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("sw.js Content-Type %q", ct)
	}
	if cc := sw.hdr.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("sw.js Cache-Control %q, want no-cache so new releases are picked up", cc)
	}
	if code, _, _ := e.Do("GET", "/c/nosuchtoken/manifest.webmanifest", "", ""); code != http.StatusNotFound {
		t.Errorf("the manifest of an unknown token: %d", code)
	}
}

// qrModules are the dark modules of an SVG QR code of the page's.
func qrModules(t *testing.T, svg string) map[[2]int]bool {
	t.Helper()
	dark := map[[2]int]bool{}
	for _, m := range regexp.MustCompile(`<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1"`).FindAllStringSubmatch(svg, -1) {
		var x, y, w int
		fmt.Sscan(m[1], &x)
		fmt.Sscan(m[2], &y)
		fmt.Sscan(m[3], &w)
		for i := range w {
			dark[[2]int{x + i - 4, y - 4}] = true
		}
	}
	return dark
}

// sameQR fails unless svg is the QR code of text.
func sameQR(t *testing.T, what, svg, text string) {
	t.Helper()
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	dark := qrModules(t, svg)
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) != dark[[2]int{x, y}] {
				t.Fatalf("%s: module (%d,%d) differs from the QR code of %s", what, x, y, text)
			}
		}
	}
}

func TestCalendarPage(t *testing.T) {
	_, b, links, path := checkinFixture(t, "")
	p := b.send("GET", path+"/calendar", nil)
	webcal := strings.Replace(links.FeedURL, "http://", "webcal://", 1)
	p.want(t, "the calendar page", http.StatusOK,
		`href="`+webcal+`"`, // Apple, and ICSx⁵ on Android
		`href="https://calendar.google.com/calendar/render?cid=`+url.QueryEscape(webcal)+`"`,
		`href="https://outlook.live.com/calendar/0/addfromweb?url=`+url.QueryEscape(links.FeedURL)+`&name=My+movement+plan"`,
		`href="https://outlook.office.com/calendar/0/addfromweb?url=`+url.QueryEscape(links.FeedURL),
		"at.bitfire.icsdroid", links.FeedURL)
	svg := regexp.MustCompile(`(?s)<svg[^>]*class="qr-code".*?</svg>`).FindString(p.body)
	if svg == "" || !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "QR code of your calendar address") {
		t.Fatalf("no accessible QR code SVG:\n%s", svg)
	}
	sameQR(t, "the calendar's code", svg, links.FeedURL)
}

func TestHandout(t *testing.T) {
	e := sqliteEnv(t)
	l := e.AddPatient("S", "", "Europe/Berlin", "stretching", monday)
	path := strings.TrimPrefix(l.CheckinURL, e.URL)
	p := newBrowser(e).send("GET", path+"/handout", nil)
	p.want(t, "the handout", http.StatusOK, "My exercises", "As of Monday 23 Nov", "Knee to chest · 3 × 15 seconds",
		"Every day at 19:00", "Hold one knee and bring it gently toward your chest.", "Figure-4 stretch", `id="print"`)
	svgs := regexp.MustCompile(`(?s)<svg[^>]*class="qr-code".*?</svg>`).FindAllString(p.body, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d QR codes, want the page's and the calendar's", len(svgs))
	}
	sameQR(t, "the page's code", svgs[0], l.CheckinURL)
	sameQR(t, "the calendar's code", svgs[1], l.FeedURL)
}

// A therapist channel the server cannot send through (an email address with
// no mail server) reaches no one: the answer and the page do not claim the
// therapist is being told.
func TestCheckinRedFlagUnusableTherapistChannel(t *testing.T) {
	e, b, _, path := checkinFixture(t, "")
	if _, err := e.Store.SetTherapistChannels(t.Context(), e.A.ID, []store.Channel{{Type: "email",
		Config: []byte(`{"type":"email","address":"a@example.org"}`)}}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Reachable bool   `json:"therapist_reachable"`
		Guidance  string `json:"guidance"`
	}
	e.JSON("POST", path+"/checkins", "", `{"kind":"red_flag","answers":["night_pain"]}`, 201, &res)
	if res.Reachable || !strings.Contains(res.Guidance, "could not tell your therapist") {
		t.Errorf("with an email channel and no mail server: %+v", res)
	}
	run(t, e) // the alert fails: no mail server
	p := b.send("GET", path, nil)
	p.want(t, "the page", http.StatusOK, "could not tell your therapist")
}
