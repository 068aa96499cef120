package web_test

// Browser tests of the patient's pages, in Chromium at a phone's 390 × 844
// and at 1280 wide: the day of a tired patient (Done all, yesterday, pain 4,
// within two screens), the red-flag screen without a therapist channel, the
// handout on one A4 page, and the installable page with its service worker.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"pacer/internal/config"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// screen is a browser window size the patient's pages are tried at.
type screen struct {
	name          string
	width, height int64
	mobile        bool
}

var screens = []screen{{"phone", 390, 844, true}, {"desktop", 1280, 900, false}}

// emulate sizes the tab as s.
func (b *tab) emulate(s screen) {
	b.t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(2)}
	if s.mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch)
	} else {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	}
	b.do("emulate "+s.name, chromedp.EmulateViewport(s.width, s.height, opts...))
}

// top is how far down the page an element starts, in CSS pixels.
func (b *tab) top(css string) float64 {
	b.t.Helper()
	return value(b, "the top of "+css, chromedp.Evaluate[float64](fmt.Sprintf(
		`(() => { const e = document.querySelector(%q); return e ? e.getBoundingClientRect().top + window.scrollY : -1; })()`, css)))
}

// browserPatientDay is a patient with stretches at 19:00 and a walk at
// 18:00 from Monday 23 Nov 2026, on Wednesday 25 Nov at 07:00 in Berlin.
func browserPatientDay(t *testing.T) (*env, patientLinks, []int64) {
	t.Helper()
	e := browserEnvWith(t, testserver.Options{})
	mon, _ := programs.ParseDate("2026-11-23")
	l := e.AddPatient("R. M.", "", "Europe/Berlin", "stretching", mon)
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", l.ID), e.TokenA,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["18:00"]}}}`, 201, nil)
	e.Clock.Set(e.Clock.Now().Add(48 * time.Hour))
	if err := e.Daemon.Clinic.Replan(t.Context(), l.ID); err != nil { // the day's review
		t.Fatal(err)
	}
	return e, l, e.Assignments(l.ID)
}

func browserEnvWith(t *testing.T, o testserver.Options) *env {
	t.Helper()
	browserContext(t) // skip before building a server when browsers are off
	return newEnv(t, testkit.SQLite(t), o)
}

// The acceptance of the check-in page: a patient taps "Done all", logs
// yesterday, logs pain 4 and sees it, and reaches Done within two screens.
func TestBrowserPatientDay(t *testing.T) {
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			e, l, asgs := browserPatientDay(t)
			b := newTab(t, e)
			b.emulate(s)
			b.open(strings.TrimPrefix(l.CheckinURL, e.URL))
			if w := value(b, "page width", chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > s.width {
				t.Errorf("the check-in page is %d px wide on a %d px screen: it scrolls sideways", w, s.width)
			}
			// Done within two screens: the first Done button starts in
			// the top two screen heights of the page.
			doneAll := `form.done-all button`
			if top := b.top(doneAll); top < 0 || top > float64(2*s.height) {
				t.Errorf("Done all starts %.0f px down the page; two screens are %d px", top, 2*s.height)
			}
			if top := b.top(`li.session form.one button`); top < 0 || top > float64(2*s.height) {
				t.Errorf("the first Done starts %.0f px down the page; two screens are %d px", top, 2*s.height)
			}
			if s.mobile {
				b.installable()
			}
			b.check("day-" + s.name)

			// Done all: the four stretches at 19:00.
			label := value(b, "the Done all button", chromedp.Text(chromedp.CSS(doneAll)))
			if !strings.Contains(label, "Done all 4") {
				t.Errorf("the button says %q, want Done all 4", label)
			}
			b.tapAndLoad("tap Done all", doneAll)
			if p := b.path(); !strings.Contains(p, "#at-2026-11-25-1900") {
				t.Errorf("after Done all the page is at %s, want the card's anchor", p)
			}
			st := statuses(t, e, asgs[0])
			for _, a := range []string{"knee-to-chest", "figure-four", "hamstring-strap", "trunk-rotation"} {
				if st[a+" 2026-11-25 19:00"] != programs.Done {
					t.Errorf("%s after Done all: %q", a, st[a+" 2026-11-25 19:00"])
				}
			}
			if n := value(b, "undo buttons", chromedp.Evaluate[int](`document.querySelectorAll('#at-2026-11-25-1900 form.undo').length`)); n != 4 {
				t.Errorf("%d folded sessions with an undo, want 4", n)
			}
			// The card the patient tapped is on screen, with what was saved.
			inView := value(b, "the card in view", chromedp.Evaluate[bool](
				`(() => { const r = document.getElementById('at-2026-11-25-1900').getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight; })()`))
			if !inView {
				t.Error("after Done all the card is not on screen")
			}
			b.check("done-all-" + s.name)

			// Yesterday: open it, tap Done on its walk.
			b.do("open yesterday", chromedp.Click(chromedp.CSS(`#day-2026-11-24 summary`)))
			b.tapAndLoad("tap Done on yesterday's walk", `#at-2026-11-24-1800 li.session form.one button`)
			if st := statuses(t, e, asgs[1])["walk 2026-11-24 18:00"]; st != programs.Done {
				t.Errorf("yesterday's walk: %q", st)
			}
			b.check("yesterday-" + s.name)

			// Pain 4: the page says so, and marks the button.
			b.tapAndLoad("tap pain 4", `form.pain button[value="4"]`)
			txt := value(b, "the pain section", chromedp.Evaluate[string](`document.getElementById('pain').innerText`))
			if !strings.Contains(txt, "Logged today: 4") {
				t.Errorf("after pain 4 the section says:\n%s", txt)
			}
			if pressed := value(b, "button 4", chromedp.Evaluate[string](`document.querySelector('form.pain button[value="4"]').getAttribute('aria-pressed')`)); pressed != "true" {
				t.Errorf("button 4 aria-pressed=%q", pressed)
			}
			b.check("pain-" + s.name)

			// The other pages, each accessible and fitting the screen.
			for _, sub := range []string{"/reminders", "/calendar", "/warning-signs", "/weekly"} {
				b.open(strings.TrimPrefix(l.CheckinURL, e.URL) + sub)
				if w := value(b, "page width", chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > s.width {
					t.Errorf("%s is %d px wide on a %d px screen", sub, w, s.width)
				}
				b.check(strings.TrimPrefix(sub, "/") + "-" + s.name)
				if sub == "/reminders" {
					b.tapAndLoad("set up ntfy", `#ntfy form button[type="submit"]`)
					if !b.has(`#ntfy a[href^="ntfy://"]`) || !b.has(`#ntfy svg.qr-code`) {
						t.Error("after setting up ntfy there is no subscribe link or QR code")
					}
					b.check("reminders-ntfy-" + s.name)
				}
			}
		})
	}
}

// The red-flag page without any therapist channel: the guidance of the most
// urgent answer, and no claim that the therapist was told.
func TestBrowserRedFlagWithoutTherapistChannel(t *testing.T) {
	for _, c := range []struct {
		name, answer, title, says string
	}{
		{"urine", "bladder_bowel", "Emergency now", "call the emergency number or go to the emergency department"},
		{"night-pain", "night_pain", "Contact your doctor soon", "Contact your doctor soon."},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := browserEnvWith(t, testserver.Options{Config: func(c *config.Config) { c.Clinic.Contact = "Physio am Park, 030 1234567" }})
			links, _ := browserPatient(t, e, e.TokenA, "R. M.")
			b := newTab(t, e)
			b.emulate(screens[0])
			b.open(strings.TrimPrefix(links.CheckinURL, e.URL) + "/warning-signs")
			b.check("redflag-screen-" + c.name)
			b.do("tick "+c.answer, chromedp.Click(chromedp.CSS(`#rf-`+c.answer)))
			b.tapAndLoad("send the answers", `form.redflags button[type="submit"]`)
			alert := value(b, "the guidance", chromedp.Evaluate[string](`(document.querySelector('[role="alert"]') || {innerText: ""}).innerText`))
			for _, want := range []string{c.title, c.says, "could not tell your therapist", "Physio am Park, 030 1234567"} {
				if !strings.Contains(alert, want) {
					t.Errorf("the guidance lacks %q:\n%s", want, alert)
				}
			}
			if strings.Contains(b.text(), "has been told") {
				t.Errorf("the page claims the therapist was told:\n%s", alert)
			}
			if c.answer == "night_pain" && strings.Contains(alert, "emergency department") {
				t.Errorf("night pain alone got emergency guidance:\n%s", alert)
			}
			b.check("redflag-guidance-" + c.name)
		})
	}
}

// The handout prints on one A4 page.
func TestBrowserHandoutOnOneA4Page(t *testing.T) {
	e, l, _ := browserPatientDay(t)
	b := newTab(t, e)
	b.open(strings.TrimPrefix(l.CheckinURL, e.URL) + "/handout")
	b.check("handout")
	yes := true
	res, err := chromedp.Call(b.ctx, cdppage.PrintToPDF, cdppage.PrintToPDFParams{PaperWidth: 8.27, PaperHeight: 11.69,
		PreferCSSPageSize: &yes, PrintBackground: &yes})
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	pdf := res.Data
	// The page tree's count, as Chromium (Skia) writes it: /Type /Pages … /Count N.
	m := regexp.MustCompile(`/Type /Pages[^>]*/Count (\d+)`).FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("no page count in the %d-byte PDF", len(pdf))
	}
	if string(m[1]) != "1" {
		t.Errorf("the handout prints on %s pages, want 1", m[1])
	}
	file := filepath.Join(artifacts(t), unsafeName.ReplaceAllString(t.Name(), "_")+"-handout.pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("the handout as printed: %s", file)
}

// installable checks that the page is an app a phone can install: a web app
// manifest that Chromium parses, and a service worker that the page's
// script registered and that is active.
func (b *tab) installable() {
	b.t.Helper()
	if !b.has(`link[rel="manifest"]`) {
		b.t.Error(`the check-in page has no <link rel="manifest">`)
		return
	}
	m, err := chromedp.Call(b.ctx, cdppage.GetAppManifest, cdppage.GetAppManifestParams{})
	if err != nil {
		b.t.Errorf("read the manifest: %v", err)
		return
	}
	if m.Data == "" {
		b.t.Errorf("the manifest at %s is empty or did not load", m.URL)
	}
	for _, me := range m.Errors {
		b.t.Errorf("manifest %s:%d:%d: %s", m.URL, me.Line, me.Column, me.Message)
	}
	sw := value(b, "wait for the service worker", chromedp.Evaluate[string](`
		Promise.race([
			navigator.serviceWorker.ready.then(r => r.active.scriptURL + " for " + r.scope),
			new Promise((_, reject) => setTimeout(() => reject(new Error("no active service worker after 10 s")), 10000)),
		])`, chromedp.EvalAwaitPromise))
	b.t.Logf("service worker: %s", sw)
}
