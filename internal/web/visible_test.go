package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"pacer/programs"
)

// Bugs a therapist saw on the patient page, each held to its fix.
func TestPatientPageVisibleBugs(t *testing.T) {
	e := sqliteEnv(t)
	l := e.AddPatient("R", "", "Europe/Berlin", "walking", programs.MakeDate(2026, 11, 23))
	p := e.SignIn(e.A).Get(fmt.Sprintf("/patients/%d", l.ID))
	if p.Code != http.StatusOK {
		t.Fatalf("patient page: %d", p.Code)
	}
	// The calendar link opens calendar apps (webcal://), not "#ZgotmplZ",
	// which html/template puts for a scheme it does not trust.
	if strings.Contains(p.Body, "ZgotmplZ") || !strings.Contains(p.Body, `href="webcal://`) {
		t.Error("the calendar link is not a webcal:// link")
	}
	// "over 1 weeks"
	if regexp.MustCompile(`\b1 weeks\b`).MatchString(p.Body) {
		t.Error(`the page says "1 weeks"`)
	}
	// A week's reason once, not as the week's and again as its activity's.
	for _, week := range strings.Split(p.Body, `<li class="week`)[1:] {
		week, _, _ = strings.Cut(week, "</li>\n</ol>")
		for _, line := range regexp.MustCompile(`<br>([^<]+)</li>`).FindAllStringSubmatch(week, -1) {
			if n := strings.Count(week, line[1]); n > 1 {
				t.Errorf("a week says %q %d times", line[1], n)
			}
		}
	}
	// Weeks to come say what is planned, not "0 of 5 sessions done".
	projected := 0
	for _, week := range strings.Split(p.Body, `<li class="week`)[1:] {
		if !strings.HasPrefix(week, " projected") {
			continue
		}
		projected++
		if strings.Contains(week, "sessions done") || !strings.Contains(week, "5 sessions planned") {
			t.Errorf("a projected week counts sessions done instead of planned:\n%s", week)
			break
		}
	}
	if projected == 0 {
		t.Error("no projected week on the page")
	}
	// The browser's icon request.
	b := e.NewBrowser()
	r := b.Get("/favicon.ico")
	if r.Code != http.StatusMovedPermanently {
		t.Fatalf("/favicon.ico: %d", r.Code)
	}
	if icon := b.Get(r.Hdr.Get("Location")); icon.Code != http.StatusOK || icon.Hdr.Get("Content-Type") != "image/png" {
		t.Errorf("the icon: %d %s", icon.Code, icon.Hdr.Get("Content-Type"))
	}
}
