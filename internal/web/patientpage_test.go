package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"rsc.io/qr"

	"pacer/internal/i18n"
	"pacer/internal/planjson"
	"pacer/programs"
)

// checkinFixture is a patient in Berlin with a daily 18:00 walk from a
// baseline of 10 minutes (8 minutes in week 1), on Monday 23 Nov 2026 at 07:00.
func checkinFixture(t *testing.T, language string) (*env, *browser, patientLinks, string) {
	t.Helper()
	e := sqliteEnv(t)
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

func TestCheckinPage(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	p := b.send("GET", path, nil)
	p.want(t, "the check-in page", http.StatusOK, `<html lang="en">`, "My movement plan", "Walk · 8 minutes",
		`name="status" value="done"`, `name="status" value="partial"`, `name="status" value="skipped"`,
		"I'm in a flare-up", "Warning signs", english.Text("redflag.q."+programs.RedFlags[0].ID, nil), "Why today's dose", "The week ahead",
		`href="`+links.WebcalURL+`"`, links.FeedURL, "From URL", "Turn on notifications", `name="quiet_start"`,
		`rel="manifest"`, `name="apple-mobile-web-app-capable"`, `rel="apple-touch-icon"`)
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

	// Done: the plan records it and the page says so.
	done := b.send("POST", path+"/checkins", url.Values{"kind": {"session"}, "activity": {"walk"}, "date": {"2026-11-23"},
		"time": {"18:00"}, "status": {"done"}})
	if done.code != http.StatusSeeOther || !strings.HasPrefix(done.hdr.Get("Location"), path+"?saved=session") {
		t.Fatalf("Done: %d Location %q, want 303 back to the page", done.code, done.hdr.Get("Location"))
	}
	var plan planjson.Plan
	asg, err := e.Store.Assignments(context.Background(), links.ID)
	if err != nil || len(asg) != 1 {
		t.Fatalf("assignments %v, %v", asg, err)
	}
	e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", asg[0].ID), e.TokenA, "", 200, &plan)
	if s := plan.Weeks[0].Activities[0].Sessions[0]; s.Date.String() != "2026-11-23" || s.Status != programs.Done {
		t.Errorf("Monday's session after Done: %+v", s)
	}
	p = b.send("GET", done.hdr.Get("Location"), nil)
	p.want(t, "the page after Done", http.StatusOK, "Saved. Thank you.", "Recorded: done")

	// A flare: tomorrow's walk steps back to about half.
	flare := b.send("POST", path+"/checkins", url.Values{"kind": {"flare"}})
	if flare.code != http.StatusSeeOther {
		t.Fatalf("flare: %d %s", flare.code, flare.body)
	}
	p = b.send("GET", flare.hdr.Get("Location"), nil)
	p.want(t, "the page after a flare", http.StatusOK, "Settled", "about half")
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

func TestCheckinRedFlag(t *testing.T) {
	_, b, _, path := checkinFixture(t, "")
	none := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}})
	if loc := none.hdr.Get("Location"); none.code != http.StatusSeeOther || strings.Contains(loc, "guidance") {
		t.Fatalf("no red flag: %d %q", none.code, loc)
	}
	p := b.send("GET", none.hdr.Get("Location"), nil)
	p.want(t, "after no red flag", http.StatusOK, "None of the warning signs applies")
	if strings.Contains(p.body, `role="alert"`) {
		t.Error("an alert after no red flag")
	}

	yes := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"saddle_numbness"}})
	if loc := yes.hdr.Get("Location"); yes.code != http.StatusSeeOther || !strings.Contains(loc, "guidance=red_flag") {
		t.Fatalf("a red flag: %d %q", yes.code, loc)
	}
	p = b.send("GET", yes.hdr.Get("Location"), nil)
	guidance := english.Text("redflag.guidance", nil)
	p.want(t, "after a red flag", http.StatusOK, `role="alert"`, guidance, "Your plan is paused")
	// The guidance stays while the plan is paused for it.
	p = b.send("GET", path, nil)
	p.want(t, "the page later", http.StatusOK, guidance)
	if strings.Contains(section(t, p.body, "today"), `value="done"`) {
		t.Error("a Done button while the plan is paused")
	}
}

func TestCheckinPageGerman(t *testing.T) {
	_, b, _, path := checkinFixture(t, "de")
	p := b.send("GET", path, nil)
	de := i18n.For(i18n.German)
	p.want(t, "the German page", http.StatusOK, `<html lang="de">`, "Mein Bewegungsplan", "Geschafft", "Teilweise",
		"Ausgelassen", "Ich habe einen Schub", de.Text("redflag.q.bladder_bowel", nil), "Spaziergang · 8 Minuten",
		"Gehen Sie die angegebene Zeit in ruhigem Tempo", "Holen Sie sich sofort dringend ärztliche Hilfe.",
		"Dienstag, 24. Nov.", "Benachrichtigungen einschalten")
	for _, english := range []string{"My movement plan", "Done</button>", "Why today", "The week ahead", "baseline", "Walk", "Stop if"} {
		if strings.Contains(p.body, english) {
			t.Errorf("the German page says %q", english)
		}
	}
	yes := b.send("POST", path+"/checkins", url.Values{"kind": {"red_flag"}, "answers": {"fall_injury"}})
	b.send("GET", yes.hdr.Get("Location"), nil).want(t, "German guidance", http.StatusOK, de.Text("redflag.guidance", nil))
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
	sw.want(t, "the service worker", http.StatusOK, "showNotification", "notificationclick", "openWindow")
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

func TestCheckinQRCode(t *testing.T) {
	_, b, links, path := checkinFixture(t, "")
	p := b.send("GET", path, nil)
	svg := regexp.MustCompile(`(?s)<svg[^>]*class="qr-code".*?</svg>`).FindString(p.body)
	if svg == "" || !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "QR code of your calendar address") {
		t.Fatalf("no accessible QR code SVG:\n%s", svg)
	}
	// The SVG's dark modules are exactly those of the feed URL's code.
	code, err := qr.Encode(links.FeedURL, qr.M)
	if err != nil {
		t.Fatal(err)
	}
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
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) != dark[[2]int{x, y}] {
				t.Fatalf("module (%d,%d) differs from the feed URL's QR code", x, y)
			}
		}
	}
}

func TestCheckinSettingsForm(t *testing.T) {
	e, b, links, path := checkinFixture(t, "")
	form := url.Values{"email": {""}, "ntfy_topic": {"pacer-rm-42"}, "webhook_url": {""},
		"quiet_start": {"22:00"}, "quiet_end": {"06:30"}, "language": {"de"}}
	s := b.send("POST", path+"/settings", form)
	if s.code != http.StatusSeeOther || !strings.Contains(s.hdr.Get("Location"), "saved=settings") {
		t.Fatalf("settings: %d %s", s.code, s.body)
	}
	var reply channelsReply
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), e.TokenA, "", 200, &reply)
	if reply.Language != "de" || reply.QuietHours.Start != "22:00" || reply.QuietHours.End != "06:30" ||
		len(reply.Channels) != 1 || !strings.Contains(string(reply.Channels[0]), "pacer-rm-42") {
		t.Errorf("after the settings form: %+v", reply)
	}
	p := b.send("GET", s.hdr.Get("Location"), nil)
	p.want(t, "the page after saving", http.StatusOK, "Ihre Erinnerungseinstellungen sind gespeichert", `value="pacer-rm-42"`, `value="22:00"`)

	form.Set("quiet_start", "late")
	bad := b.send("POST", path+"/settings", form)
	bad.want(t, "bad quiet hours", http.StatusUnprocessableEntity, "nicht gespeichert", "quiet_hours", `value="late"`)
}
