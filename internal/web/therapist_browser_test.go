package web_test

// Browser tests of the therapist's day, each on a phone (390 × 844) and on
// a desktop (1280 wide), against the server from the production
// constructor: the demo therapist signs in from the link `serve --demo`
// prints and sees the seeded charts; a therapist builds a program from the
// library without YAML, previews it, assigns it, changes its times and ends
// it; a therapist sees a red-flag answer, its urgency and its time, and
// acknowledges it. Every page is screenshotted and checked with axe.

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// therapistScreens are the two screens every therapist test runs on.
var therapistScreens = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"phone", 390, 844, true},
	{"desktop", 1280, 900, false},
}

// onScreen sizes the tab as the screen.
func (b *tab) onScreen(width, height int64, mobile bool) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if mobile {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch}
	}
	b.do("size the screen", chromedp.EmulateViewport(width, height, opts...))
}

// click clicks an element and waits for the page it loads.
func (b *tab) clickAndLoad(what, css string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(cdppage.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open a details element (by the CSS of the details).
func (b *tab) disclose(css string) {
	b.t.Helper()
	b.do("open "+css, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).open = true`, css)))
}

// noSidewaysScroll fails the test when the page is wider than the screen.
func (b *tab) noSidewaysScroll(width int64, what string) {
	b.t.Helper()
	if w := value(b, "page width", chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > width {
		b.t.Errorf("%s is %d px wide on a %d px screen: it scrolls sideways", what, w, width)
	}
}

// nowEnv is a browser env whose clock starts at the real time, so that the
// times the store stamps (when a check-in was recorded) and the server's
// clock agree on the day.
func nowEnv(t *testing.T) *env {
	t.Helper()
	browserContext(t)
	return sqliteEnv(t, testserver.Options{Start: time.Now().Truncate(time.Second)})
}

func TestBrowserDemoTherapistSeesTheCharts(t *testing.T) {
	for _, sc := range therapistScreens {
		t.Run(sc.name, func(t *testing.T) {
			e := nowEnv(t)
			demo, err := e.Daemon.SeedDemo(t.Context(), "Europe/Berlin")
			if err != nil {
				t.Fatal(err)
			}
			// A third program, as the 15,000 px page had.
			th, err := e.Store.TherapistByEmail(t.Context(), demo.Email)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Daemon.Clinic.AssignTemplate(t.Context(), th.ID, demo.Patient.ID, "core"); err != nil {
				t.Fatal(err)
			}
			b := newTab(t, e)
			b.onScreen(sc.width, sc.height, sc.mobile)
			// The link `serve --demo` prints.
			u, err := url.Parse(demo.SetupURL)
			if err != nil || !strings.HasPrefix(demo.SetupURL, e.URL) {
				t.Fatalf("the demo's link %q is not on the server %s", demo.SetupURL, e.URL)
			}
			b.setPassword(u.Path, browserPassword)
			if txt := b.text(); !strings.Contains(txt, "Demo patient") || !strings.Contains(txt, demo.Email) {
				t.Fatalf("the demo therapist's home lacks the demo patient:\n%s", txt)
			}
			b.check("demo-home")
			b.clickAndLoad("open the demo patient", fmt.Sprintf(`a[href="/patients/%d"]`, demo.Patient.ID))
			b.noSidewaysScroll(sc.width, "the demo patient's page")
			// Two programs: each a section that opens; the charts draw the
			// four weeks of history, with sessions done.
			sections := value(b, "program sections", chromedp.Evaluate[int](`document.querySelectorAll("details.program").length`))
			if sections != 3 {
				t.Errorf("%d program sections, want 3 (walking, stretching and core)", sections)
			}
			// Three programs, collapsed: every section's summary within a few
			// screens, not 15,000 px.
			if h := value(b, "page height", chromedp.Evaluate[int](`document.documentElement.scrollHeight`)); h > 4*int(sc.height) {
				t.Errorf("with three programs the patient page is %d px high on the %s", h, sc.name)
			}
			b.check("demo-patient-collapsed")
			b.do("open the programs", chromedp.Evaluate[chromedp.Void](
				`document.querySelectorAll("details.program").forEach(d => d.open = true)`))
			done := value(b, "completed bars", chromedp.Evaluate[int](
				`[...document.querySelectorAll("details.program svg rect.chart-done")].filter(r => parseFloat(r.getAttribute("height")) > 0).length`))
			if done < 16 {
				t.Errorf("the charts draw %d bars of completed sessions, want the seeded weeks' (4 a chart or more)", done)
			}
			marks := value(b, "signals", chromedp.Evaluate[int](`document.querySelectorAll("details.program svg circle").length`))
			if marks < 6 {
				t.Errorf("the signals charts mark %d values, want the seeded pain, function and confidence", marks)
			}
			visible := value(b, "a chart is shown", chromedp.Evaluate[bool](
				`(() => { const r = document.querySelector("details.program svg.chart").getBoundingClientRect(); return r.width > 300 && r.height > 150 })()`))
			if !visible {
				t.Error("the first chart is not shown at a readable size")
			}
			// Labels no smaller than 10 px on the screen.
			px := value(b, "chart label size", chromedp.Evaluate[float64](`(() => {
				const t = document.querySelector("details.program svg.chart .chart-label");
				return t.getBoundingClientRect().height })()`))
			if px < 10 {
				t.Errorf("chart labels are %.1f px high on the %s", px, sc.name)
			}
			b.check("demo-patient-open")
			// The earlier weeks are behind a disclosure; the current one shows.
			if !b.has("ol.weeks > li.week.current") || !b.has("details.weeks-coming") {
				t.Error("the weeks list does not show the current week with the coming ones collapsed")
			}
			// One program open: its section, not the others'.
			b.do("close all but the first", chromedp.Evaluate[chromedp.Void](
				`document.querySelectorAll("details.program").forEach((d, i) => d.open = i === 0)`))
			if h := value(b, "page height", chromedp.Evaluate[int](`document.documentElement.scrollHeight`)); h > 12*int(sc.height) {
				t.Errorf("with one of three programs open the patient page is %d px high on the %s", h, sc.name)
			}
			b.check("demo-patient-one-open")
		})
	}
}

func TestBrowserTherapistBuildsAProgram(t *testing.T) {
	for _, sc := range therapistScreens {
		t.Run(sc.name, func(t *testing.T) {
			e := nowEnv(t)
			b := newTab(t, e)
			b.onScreen(sc.width, sc.height, sc.mobile)
			link, token := therapistLink(t, e, "ada@example.org")
			var p patientLinks
			e.JSON("POST", "/api/v1/patients", token, `{"name":"Ines Roth","timezone":"Europe/Berlin"}`, 201, &p)
			b.setPassword(link, browserPassword)
			patientPage := fmt.Sprintf("/patients/%d", p.ID)
			b.open(patientPage)
			b.clickAndLoad("open the builder", fmt.Sprintf(`a[href="%s/build"]`, patientPage))
			if b.has("textarea[name*=yaml], input[name*=yaml]") {
				t.Error("the builder asks for YAML")
			}
			b.noSidewaysScroll(sc.width, "the builder")
			b.check("builder")

			// Two activities from the library and a new one.
			b.do("name it", chromedp.SendKeys(chromedp.ID("b-name"), "Knee and back"))
			b.disclose(`details.template:has(#lib-walking--walk)`)
			b.disclose(`details.template:has(#lib-core--glute-bridge)`)
			b.do("choose from the library",
				chromedp.Click(chromedp.ID("lib-walking--walk"), chromedp.NodeVisible),
				chromedp.Click(chromedp.ID("lib-core--glute-bridge"), chromedp.NodeVisible))
			b.do("add a new activity",
				chromedp.SendKeys(chromedp.ID("new-0-name"), "Wall push-up"),
				chromedp.SetValue(chromedp.ID("new-0-kind"), "strength"),
				chromedp.SetValue(chromedp.ID("new-0-unit"), "reps"),
				chromedp.SendKeys(chromedp.ID("new-0-dose"), "6"),
				chromedp.SendKeys(chromedp.ID("new-0-goal"), "12"),
				chromedp.SendKeys(chromedp.ID("new-0-instructions"), "Hands on the wall at shoulder height; bend the elbows slowly. Stop if it hurts your back."))
			b.check("builder-filled")
			b.clickAndLoad("continue", `button[value="continue"]`)
			if txt := b.text(); !strings.Contains(txt, "Step 2 of 2") || !strings.Contains(txt, "Wall push-up") {
				t.Fatalf("the second step does not show the composed program:\n%s", txt)
			}
			// The same days and times for every activity.
			b.do("same days and times",
				chromedp.Click(chromedp.ID("a-same"), chromedp.NodeVisible),
				chromedp.Click(chromedp.ID("a-same-mon"), chromedp.NodeVisible),
				chromedp.Click(chromedp.ID("a-same-wed"), chromedp.NodeVisible),
				chromedp.Click(chromedp.ID("a-same-fri"), chromedp.NodeVisible),
				chromedp.SetValue(chromedp.ID("a-same-times"), "08:00"))
			if b.has(".own-schedule:not([hidden])") && value(b, "own schedules hidden", chromedp.Evaluate[bool](
				`[...document.querySelectorAll(".assign-form .own-schedule")].every(e => e.offsetParent === null)`)) == false {
				t.Error("with the same days and times, each activity's own still shows")
			}
			b.check("builder-assign")
			b.clickAndLoad("preview", `button[value="preview"]`)
			preview := value(b, "the preview", chromedp.Evaluate[string](`(document.querySelector("section.preview") || {innerText: ""}).innerText`))
			for _, want := range []string{"Plan preview", "Wall push-up: starts at 4 reps, Mon, Wed, Fri at 08:00", "Bridge: starts at 2 × 6 reps, Mon, Wed, Fri at 08:00",
				"on its way to its goal of 12 reps", "Nothing is saved"} {
				if !strings.Contains(preview, want) {
					t.Errorf("the preview lacks %q:\n%s", want, preview)
				}
			}
			if n := len(e.Assignments(p.ID)); n != 0 {
				t.Fatalf("the preview stored %d assignments", n)
			}
			b.noSidewaysScroll(sc.width, "the preview")
			b.check("builder-preview")

			b.clickAndLoad("assign", `button[value="assign"]`)
			ids := e.Assignments(p.ID)
			if len(ids) != 1 {
				t.Fatalf("after assigning: %d assignments", len(ids))
			}
			as, err := e.Store.Assignment(t.Context(), e.therapistOf(t, "ada@example.org"), ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if as.ProgramID != "custom-knee-and-back" || len(as.Program.Activities) != 3 || as.Program.Activities[2].Name != "Wall push-up" {
				t.Fatalf("assigned %s with %+v", as.ProgramID, as.Program.Activities)
			}
			if want := fmt.Sprintf("?done=assigned&at=assignment-%d#assignment-%d", as.ID, as.ID); !strings.HasSuffix(b.path(), want) {
				t.Errorf("after assigning the browser is at %s, want …%s", b.path(), want)
			}
			// The message shows in the new program's section, on screen.
			inView := value(b, "the notice is in view", chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
				const n = document.querySelector("#assignment-%d .notice"); if (!n) return false;
				const r = n.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight })()`, as.ID)))
			if !inView {
				t.Error("after assigning, the message is not in the program's section on screen")
			}
			b.check("assigned")

			// Change the times: every activity on Tuesday and Thursday at 17:30.
			form := fmt.Sprintf(`form[action="/assignments/%d/schedule"]`, as.ID)
			b.disclose(fmt.Sprintf(`details:has(> %s)`, form))
			// Assigned with the same days and times for all, the form says so.
			if !value(b, "same is ticked", chromedp.Evaluate[bool](fmt.Sprintf(`document.getElementById("s%d-same").checked`, as.ID))) {
				t.Error("the schedule form does not tick “same days and times” for a program assigned so")
			}
			b.do("new days and times",
				chromedp.Click(chromedp.ID(fmt.Sprintf("s%d-same-tue", as.ID)), chromedp.NodeVisible),
				chromedp.Click(chromedp.ID(fmt.Sprintf("s%d-same-thu", as.ID)), chromedp.NodeVisible),
				chromedp.SetValue(chromedp.ID(fmt.Sprintf("s%d-same-times", as.ID)), "17:30"))
			// Monday (ticked with the first activity's days) goes.
			b.do("untick the other days", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
				`document.querySelectorAll('%s input[name="same.days"]').forEach(c => { c.checked = c.value === "tue" || c.value === "thu" })`, form)))
			b.check("schedule-form")
			b.clickAndLoad("save the days and times", form+` button[type="submit"]`)
			as, _ = e.Store.Assignment(t.Context(), e.therapistOf(t, "ada@example.org"), as.ID)
			for _, act := range as.Program.Activities {
				so := as.Params.Schedule[act.ID]
				if strings.Join(so.Days, ",") != "thu,tue" || strings.Join(so.Times, ",") != "17:30" {
					t.Errorf("%s: schedule %+v, want Tuesday and Thursday at 17:30", act.ID, so)
				}
			}
			if txt := b.text(); !strings.Contains(txt, "The new days and times apply from today") {
				t.Errorf("no message after changing the times:\n%s", txt)
			}
			b.check("schedule-changed")

			// End it: its sessions from today go, its history stays.
			end := fmt.Sprintf(`form[action="/assignments/%d/end"]`, as.ID)
			b.disclose(fmt.Sprintf(`details:has(> %s)`, end))
			b.do("confirm the end", chromedp.Click(chromedp.ID(fmt.Sprintf("end-confirm-%d", as.ID)), chromedp.NodeVisible))
			b.clickAndLoad("end it", end+` button[type="submit"]`)
			if got := e.Assignments(p.ID); len(got) != 0 {
				t.Errorf("after ending, the patient has active assignments %v", got)
			}
			if txt := b.text(); !strings.Contains(txt, "The program has ended") || !strings.Contains(txt, "Ended programs: Knee and back") {
				t.Errorf("the page does not say the program ended:\n%s", txt)
			}
			b.check("ended")
		})
	}
}

func TestBrowserTherapistAcknowledgesARedFlag(t *testing.T) {
	for _, sc := range therapistScreens {
		t.Run(sc.name, func(t *testing.T) {
			e := nowEnv(t)
			b := newTab(t, e)
			b.onScreen(sc.width, sc.height, sc.mobile)
			link, token := therapistLink(t, e, "ada@example.org")
			var p patientLinks
			e.JSON("POST", "/api/v1/patients", token, `{"name":"Rosa Marquez","timezone":"Europe/Berlin"}`, 201, &p)
			e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", p.ID), token, `{"program":"walking"}`, 201, nil)
			e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", p.ID), token, `{"program":"stretching"}`, 201, nil)
			e.JSON("POST", p.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["bladder_bowel","night_pain"]}`, 201, nil)
			berlin, _ := time.LoadLocation("Europe/Berlin")
			at := recordedAt(t, e, p.ID, programs.RedFlagCheckIn).In(berlin)
			b.setPassword(link, browserPassword)
			if txt := b.text(); !strings.Contains(txt, "Paused: red flag") {
				t.Errorf("home does not show the red flag:\n%s", txt)
			}
			b.check("home-red-flag")
			b.open(fmt.Sprintf("/patients/%d", p.ID))
			when := englishDay(at) + " at " + at.Format("15:04")
			headline := value(b, "the headline", chromedp.Evaluate[string](`(document.querySelector(".headline") || {innerText: ""}).innerText`))
			for _, want := range []string{"emergency now", english.Text("redflag.q.bladder_bowel", nil), when} {
				if !strings.Contains(headline, want) {
					t.Errorf("the headline under the name lacks %q: %q", want, headline)
				}
			}
			section := value(b, "the red flags", chromedp.Evaluate[string](`document.querySelector("#red-flags").innerText`))
			for _, want := range []string{"Answered " + when, english.Text("redflag.q.bladder_bowel", nil), "emergency now",
				english.Text("redflag.q.night_pain", nil), "contact a doctor soon", "It paused the plan."} {
				if !strings.Contains(section, want) {
					t.Errorf("the red-flag section lacks %q:\n%s", want, section)
				}
			}
			b.noSidewaysScroll(sc.width, "the patient page with a red flag")
			b.check("red-flag")

			b.clickAndLoad("acknowledge", `#red-flags form[action$="/acknowledge"] button`)
			section = value(b, "the red flags", chromedp.Evaluate[string](`document.querySelector("#red-flags").innerText`))
			if !strings.Contains(section, "Acknowledged by Dr ada on") || b.has(`#red-flags form[action$="/acknowledge"]`) {
				t.Errorf("after acknowledging:\n%s", section)
			}
			if !strings.HasSuffix(b.path(), "#red-flags") {
				t.Errorf("after acknowledging the browser is at %s, want the red-flag section", b.path())
			}
			var review struct {
				Screens []struct {
					AcknowledgedAt *time.Time `json:"acknowledged_at"`
				} `json:"screens"`
			}
			e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/red-flags", p.ID), token, "", 200, &review)
			if len(review.Screens) != 1 || review.Screens[0].AcknowledgedAt == nil {
				t.Errorf("the API's review after acknowledging: %+v", review)
			}
			b.check("red-flag-acknowledged")

			// Night pain is known to the therapist: marked, it no longer pauses.
			b.clickAndLoad("mark night pain known", `#red-flags form:has(input[value="night_pain"]) button`)
			b.disclose("details.known")
			known := value(b, "the known items", chromedp.Evaluate[string](`document.querySelector("details.known").innerText`))
			if !strings.Contains(known, english.Text("redflag.q.night_pain", nil)) {
				t.Errorf("the known items lack night pain:\n%s", known)
			}
			b.check("red-flag-known")
		})
	}
}

// englishDay is a day as the English catalogue words it.
func englishDay(t time.Time) string { return english.Day(programs.DateOf(t)) }
