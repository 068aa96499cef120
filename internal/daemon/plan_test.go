package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/config"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/notify"
	"pacer/programs"
	"pacer/scheduler"
)

// A patient who walked every walk of week 1 (from Monday 16 November) and
// declares a flare on Wednesday of week 2 after that day's walk.
var (
	flareStart = programs.MakeDate(2026, 11, 16)
	flareDay   = programs.MakeDate(2026, 11, 25)
)

func walkedWeekOne(t *testing.T, s *testserver.Server, l testserver.Links) {
	t.Helper()
	for d := flareStart; d < flareStart.AddDays(7); d = d.AddDays(1) {
		if wd := d.Weekday(); wd == time.Thursday || wd == time.Sunday {
			continue
		}
		s.Clock.Set(d.In(time.UTC, 20*60))
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
	}
}

// sweep runs the hourly review for every patient, as at the start of their
// day.
func sweep(t *testing.T, s *testserver.Server) {
	t.Helper()
	if _, err := s.Daemon.Jobs.Reviewer.Sweep(t.Context(), func(store.Patient, time.Time) bool { return true }); err != nil {
		t.Fatal(err)
	}
}

// said is a dose and the reason given for it, as one reader shows them.
type said struct{ dose, reason string }

var (
	whyLine = regexp.MustCompile(`(?s)class="why" data-activity="walk"><strong>[^:<]*: ([^<]*?)\.?</strong>(?:<br>)?\s*(.*?)</(?:p|li)>`)
	titleNo = regexp.MustCompile(`(\d+)`)
)

// The feed's description, the check-in page, the therapist's page and the
// plan API give one dose and one reason for each day, after a flare, in
// English and in German; on the day a flare is declared, the reason says
// the cut starts tomorrow.
func TestOneReasonEverywhere(t *testing.T) {
	s := testserver.New(t, testkit.SQLite(t), testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
	l := s.AddPatient("R", "", "UTC", "walking", flareStart)
	asg := s.Assignments(l.ID)[0]
	walkedWeekOne(t, s, l)
	s.Clock.Set(flareDay.In(time.UTC, 12*60))
	sweep(t, s)
	s.JSON("POST", checkinPath(s, l), "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
	s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
	readers := func(day programs.Date, lang string) map[string]said {
		t.Helper()
		out := map[string]said{}
		// The feed: the day's walk, its title's dose and the description's
		// second paragraph.
		_, body, _ := s.Do("GET", l.FeedURL, "", "")
		for _, ev := range feedEvents(t, body) {
			if programs.DateOf(ev.start) == day && strings.HasPrefix(ev.props["SUMMARY"], "Walk") {
				parts := strings.Split(ev.props["DESCRIPTION"], "\n\n")
				out["feed"] = said{titleNo.FindString(ev.props["SUMMARY"]), parts[1]}
			}
		}
		// The check-in page's "why" of today.
		page := s.NewBrowser().Get(l.CheckinURL)
		if m := whyLine.FindStringSubmatch(page.Body); m != nil {
			out["check-in page"] = said{titleNo.FindString(m[1]), m[2]}
		}
		// The therapist's page (in English only: therapists have no
		// language setting yet).
		if lang == "en" {
			p := s.SignIn(s.A).Get(fmt.Sprintf("/patients/%d", l.ID))
			if m := whyLine.FindStringSubmatch(p.Body); m != nil {
				out["therapist page"] = said{titleNo.FindString(m[1]), m[2]}
			}
		}
		// The plan API: the day's session, with its own reason or its
		// activity's for the week.
		var plan struct {
			Weeks []struct {
				Activities []struct {
					Decision struct{ Reason string }
					Sessions []struct {
						Date   programs.Date
						Dose   int
						Reason string
					}
				}
			}
		}
		s.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan?lang=%s", asg, lang), s.TokenA, "", 200, &plan)
		for _, w := range plan.Weeks {
			for _, aw := range w.Activities {
				for _, x := range aw.Sessions {
					if x.Date == day {
						r := x.Reason
						if r == "" {
							r = aw.Decision.Reason
						}
						out["plan API"] = said{fmt.Sprint(x.Dose), r}
					}
				}
			}
		}
		return out
	}
	check := func(day programs.Date, lang, mustSay string) {
		t.Helper()
		got := readers(day, lang)
		want := 4
		if lang != "en" {
			want = 3
		}
		if len(got) != want {
			t.Fatalf("%s %s: %d readers show the day's walk, want %d: %+v", day, lang, len(got), want, got)
		}
		first := got["feed"]
		for who, x := range got {
			if x != first {
				t.Errorf("%s %s: the %s says %+v, the feed %+v", day, lang, who, x, first)
			}
		}
		if !strings.Contains(first.reason, mustSay) {
			t.Errorf("%s %s: the reason %q does not say %q", day, lang, first.reason, mustSay)
		}
	}
	check(flareDay, "en", "the cut starts tomorrow")

	// Two days on: the step-back, since the flare.
	later := flareDay.AddDays(2)
	s.Clock.Set(later.In(time.UTC, 6*60))
	sweep(t, s)
	check(later, "en", "Flare-up reported on Wednesday 25 Nov: about half your usual dose for now (Walk: 4 minutes)")

	// In German.
	s.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), s.TokenA, `{"channels":[],"language":"de"}`, 200, nil)
	check(later, "de", "Schmerzschub am Mittwoch, 25. Nov. gemeldet: vorerst etwa die Hälfte")
	s.Clock.Set(flareDay.In(time.UTC, 13*60)) // back to the day of the flare, as a fresh re-plan sees it
	sweep(t, s)
	check(flareDay, "de", "ab morgen")
}

// Loading a page, the plan or a feed never runs the engine: they read what
// the last re-plan stored, for the therapist's home with 200 patients too.
func TestReadsRunNoEngine(t *testing.T) {
	s := testserver.New(t, testkit.SQLite(t), testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
	var ls []testserver.Links
	for i := range 200 {
		ls = append(ls, s.AddPatient(fmt.Sprintf("P%03d", i), "", "UTC", "walking", flareStart))
	}
	l := ls[7]
	s.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", ls[8].ID), s.TokenA, `{"channels":[],"language":"de"}`, 200, nil)
	therapist := s.SignIn(s.A)
	runs := s.Daemon.Clinic.EngineRuns()
	for _, get := range []struct {
		what string
		do   func() int
	}{
		{"the check-in page", func() int { return s.NewBrowser().Get(l.CheckinURL).Code }},
		{"the therapist's home", func() int { return therapist.Get("/").Code }},
		{"the therapist's patient page", func() int { return therapist.Get(fmt.Sprintf("/patients/%d", l.ID)).Code }},
		{"the plan API", func() int {
			c, _, _ := s.Do("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", s.Assignments(l.ID)[0]), s.TokenA, "")
			return c
		}},
		{"an English feed", func() int { c, _, _ := s.Do("GET", l.FeedURL, "", ""); return c }},
		{"a German feed", func() int { c, _, _ := s.Do("GET", ls[8].FeedURL, "", ""); return c }},
	} {
		if code := get.do(); code != http.StatusOK {
			t.Errorf("%s: %d", get.what, code)
		}
		if n := s.Daemon.Clinic.EngineRuns(); n != runs {
			t.Errorf("loading %s ran the engine %d times", get.what, n-runs)
			runs = n
		}
	}
	if p := therapist.Get("/"); strings.Count(p.Body, `href="/patients/`) < 200 {
		t.Errorf("the home page lists %d patients, want 200", strings.Count(p.Body, `href="/patients/`))
	}
}

// Every event whose bytes change between two fetches of a feed around a
// flare has a higher SEQUENCE (and LAST-MODIFIED); every other keeps both.
func TestSequenceRisesWithEveryChange(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
		l := s.AddPatient("R", "", "UTC", "walking", flareStart)
		walkedWeekOne(t, s, l)
		s.Clock.Set(flareDay.In(time.UTC, 12*60))
		sweep(t, s)
		fetch := func() map[string]feedEvent {
			_, body, _ := s.Do("GET", l.FeedURL, "", "")
			out := map[string]feedEvent{}
			for _, ev := range feedEvents(t, body) {
				out[ev.props["UID"]] = ev
			}
			return out
		}
		before := fetch()
		s.Clock.Add(5 * time.Minute)
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		after := fetch()
		changed := 0
		for uid, b := range before {
			a, ok := after[uid]
			if !ok {
				t.Errorf("event %s is gone after the flare", uid)
				continue
			}
			var sb, sa int
			fmt.Sscan(b.props["SEQUENCE"], &sb)
			fmt.Sscan(a.props["SEQUENCE"], &sa)
			if a.text() != b.text() {
				changed++
				if sa <= sb || a.props["LAST-MODIFIED"] <= b.props["LAST-MODIFIED"] {
					t.Errorf("%s changed but SEQUENCE %d → %d, LAST-MODIFIED %s → %s:\n%s\n---\n%s", uid, sb, sa,
						b.props["LAST-MODIFIED"], a.props["LAST-MODIFIED"], b.text(), a.text())
				}
			} else if sa != sb {
				t.Errorf("%s unchanged but SEQUENCE %d → %d", uid, sb, sa)
			}
		}
		if changed < 3 {
			t.Errorf("the flare changed %d events; the step-back and the day's reason should change more", changed)
		}
	})
}

// A patient with two programs who declares a flare gets one flare message
// naming both programs' reduced doses, and one weekly summary a week, not one
// per program.
func TestPatientLevelMessages(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60),
			Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" }})
		l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
		prog, _ := s.Daemon.Clinic.Library.Get("stretching")
		assign(t, s, l.ID, prog, flareStart)
		s.Clock.Set(flareDay.In(time.UTC, 12*60))
		sweep(t, s)
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		flares := messages(t, s, l.ID, scheduler.KindFlare)
		if len(flares) != 1 {
			t.Fatalf("%d flare messages, want 1 (one channel, one flare)", len(flares))
		}
		for _, want := range []string{"Walk: 4 minutes", "Knee to chest: 3 × 5 seconds"} {
			if !strings.Contains(flares[0].Body, want) {
				t.Errorf("the flare message does not name %q: %s", want, flares[0].Body)
			}
		}
		// A second flare check-in the same day, and re-plans, add nothing.
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		sweep(t, s)
		if n := len(messages(t, s, l.ID, scheduler.KindFlare)); n != 1 {
			t.Errorf("%d flare messages after a second flare check-in, want 1", n)
		}
		if n := len(messages(t, s, l.ID, scheduler.KindAlertFlare)); n != 1 {
			t.Errorf("%d therapist flare alerts, want 1", n)
		}
		// Across the next week boundary, with both programs' weeks turning
		// over the same day: one summary.
		s.Clock.Set(flareStart.AddDays(14).In(time.UTC, 0))
		sweep(t, s)
		sweep(t, s)
		weekly := messages(t, s, l.ID, scheduler.KindWeekly)
		if len(weekly) != 1 {
			t.Fatalf("%d weekly summaries, want 1", len(weekly))
		}
		for _, want := range []string{"Walk", "Knee to chest"} {
			if !strings.Contains(weekly[0].Body, want) {
				t.Errorf("the weekly summary does not name %s: %s", want, weekly[0].Body)
			}
		}
	})
}

func assign(t *testing.T, s *testserver.Server, patientID int64, prog *programs.Program, start programs.Date) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"program": prog.ID, "start": start.String()})
	s.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", patientID), s.TokenA, string(body), 201, nil)
}

// messages are the patient's (or their therapist's) outbox messages of a kind.
func messages(t *testing.T, s *testserver.Server, patientID int64, kind string) []notify.Message {
	t.Helper()
	rs, err := s.Store.Reminders(t.Context(), patientID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Message
	for _, r := range rs {
		if r.Kind == kind {
			var m notify.Message
			json.Unmarshal(r.Payload, &m)
			out = append(out, m)
		}
	}
	if strings.HasPrefix(kind, "alert_") {
		all, err := s.Store.ClaimDue(t.Context(), s.Clock.Now().Add(time.Hour), time.Second, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range all {
			if r.Kind == kind && r.TherapistID != 0 {
				var m notify.Message
				json.Unmarshal(r.Payload, &m)
				out = append(out, m)
			}
		}
	}
	return out
}

// An admin adds a therapist on /admin/therapists of the running server and
// is shown a working one-time link.
func TestAdminAddsTherapist(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn)
		admin := s.SignIn(s.A)
		if p := admin.Get("/admin/therapists"); p.Code != http.StatusOK {
			t.Fatalf("admin page: %d", p.Code)
		}
		p := admin.Post("/admin/therapists", url.Values{"email": {"new@example.org"}, "name": {"New"}})
		if p.Code != http.StatusOK {
			t.Fatalf("adding a therapist: %d\n%s", p.Code, p.Body)
		}
		link := regexp.MustCompile(`/setup/[A-Za-z0-9_-]+`).FindString(p.Body)
		if link == "" {
			t.Fatalf("no setup link on the page:\n%s", p.Body)
		}
		b := s.NewBrowser()
		if p := b.Post(link, url.Values{"password": {"another passphrase"}, "confirm": {"another passphrase"}}); p.Code != http.StatusSeeOther {
			t.Errorf("the new therapist's link: %d", p.Code)
		}
		if p := b.Get("/"); !strings.Contains(p.Body, "new@example.org") {
			t.Errorf("the new therapist is not signed in:\n%s", p.Body)
		}
		// Not for a therapist who is no admin.
		if p := s.SignIn(s.B).Post("/admin/therapists", url.Values{"email": {"x@example.org"}}); p.Code != http.StatusForbidden {
			t.Errorf("a therapist who is no admin adding one: %d", p.Code)
		}
	})
}

// The engine's review events reach the therapist once each, as English
// alerts with their numbers: a threshold learned from a flare (old and new
// ceiling), and a threshold below one granule. Re-plans and a second flare
// check-in add no copy.
func TestReviewAlerts(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60),
			Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" }})
		l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
		walkedWeekOne(t, s, l)
		// Wednesday of week 2: the 9-minute walk done, then a flare.
		s.Clock.Set(flareDay.In(time.UTC, 12*60))
		sweep(t, s)
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		sweep(t, s)
		learned := messages(t, s, l.ID, clinic.KindAlertThreshold)
		if len(learned) != 1 {
			t.Fatalf("%d threshold alerts, want 1", len(learned))
		}
		if m := learned[0]; m.Title != "Flare threshold learned: R" ||
			!strings.Contains(m.Body, "Walk: threshold 9 minutes, ceiling 8 minutes (before: none)") || !strings.Contains(m.Body, "Wednesday 25 Nov") {
			t.Errorf("threshold alert %+v", m)
		}
		// A patient who manages 1 minute, for whom the therapist sets a
		// threshold of 1 minute: no granule fits below it.
		low := s.Patient(`{"name":"S","timezone":"UTC"}`)
		asg := s.Assign(low.ID, `{"program":"walking","start":"`+flareStart.String()+`","baseline":{"walk":1}}`)
		if _, err := s.Daemon.Clinic.Override(t.Context(), s.A.ID, asg, []programs.Overriding{
			{Kind: programs.ThresholdOverride, Activity: "walk", Value: 1}}); err != nil {
			t.Fatal(err)
		}
		sweep(t, s)
		tiny := messages(t, s, low.ID, clinic.KindAlertTinyThreshold)
		if len(tiny) != 1 || !strings.Contains(tiny[0].Body, "Walk: threshold 1 minute, now 1 minute every other session") {
			t.Errorf("tiny-threshold alerts %+v", tiny)
		}
	})
}

// An event a plan projects for a coming day is told when that day comes: a
// flare the patient is still in when asked on its seventh day becomes
// persistent on its fourteenth, which the plans from the seventh day on
// already show.
func TestProjectedEventIsToldWhenItComes(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60),
			Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" }})
		l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
		s.Clock.Set(flareStart.In(time.UTC, 12*60))
		s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
		for d := 1; d <= 16; d++ {
			s.Clock.Set(flareStart.AddDays(d).In(time.UTC, 12*60))
			if d == 7 {
				s.JSON("POST", checkinPath(s, l), "", `{"kind":"still_in_flare","yes":true}`, 201, nil)
			}
			sweep(t, s)
		}
		if n := len(messages(t, s, l.ID, scheduler.KindAlertPersistent)); n != 1 {
			t.Errorf("%d persistent-flare alerts, want 1", n)
		}
	})
}

// A patient who holds a learned ceiling for 4 flare-free counted weeks: the
// therapist is told, once, that they may be ready to test it.
func TestCeilingReadyAlert(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60),
			Config: func(c *config.Config) { c.SMTP.Host, c.SMTP.From = "127.0.0.1", "pacer@example.org" }})
		l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
		walkedWeekOne(t, s, l)
		// Week 2's 9-minute walks, a flare on Wednesday (threshold 9, ceiling
		// 8), then every walk through the four weeks held at 8.
		ready := flareStart.AddDays(49) // the review after weeks 4 to 7
		for d := flareStart.AddDays(7); d <= ready; d = d.AddDays(1) {
			s.Clock.Set(d.In(time.UTC, 20*60))
			if wd := d.Weekday(); wd != time.Thursday && wd != time.Sunday {
				s.JSON("POST", checkinPath(s, l), "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
			}
			if d == flareDay {
				s.JSON("POST", checkinPath(s, l), "", `{"kind":"flare"}`, 201, nil)
			}
		}
		sweep(t, s)
		alerts := messages(t, s, l.ID, clinic.KindAlertCeiling)
		if len(alerts) != 1 {
			t.Fatalf("%d ceiling alerts, want 1", len(alerts))
		}
		if m := alerts[0]; !strings.Contains(m.Body, "for 4 weeks without a flare-up: Walk: 8 minutes (threshold 9 minutes)") {
			t.Errorf("ceiling alert %+v", m)
		}
	})
}

// A session may be logged up to two days after its day; later, the plan has
// counted it as not done, and the check-in is refused with what to know.
func TestSessionLoggedLate(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: flareStart.In(time.UTC, 6*60)})
		l := s.AddPatient("R", "r@example.org", "UTC", "walking", flareStart)
		s.Clock.Set(flareStart.AddDays(4).In(time.UTC, 9*60)) // Friday
		var answer struct{ Error string }
		s.JSON("POST", checkinPath(s, l), "", fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":"%s"}`, flareStart.AddDays(1)), 400, &answer)
		if !strings.Contains(answer.Error, "a session can be logged up to 2 days after its day") {
			t.Errorf("error %q", answer.Error)
		}
		s.JSON("POST", checkinPath(s, l), "", fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":"%s"}`, flareStart.AddDays(2)), 201, nil)
		xs, err := s.Store.Sessions(t.Context(), l.ID, flareStart, flareStart.AddDays(4))
		if err != nil {
			t.Fatal(err)
		}
		want := map[programs.Date]programs.Status{flareStart: programs.Missed, flareStart.AddDays(1): programs.Missed,
			flareStart.AddDays(2): programs.Done, flareStart.AddDays(4): programs.Planned}
		for _, x := range xs {
			if w, ok := want[x.Date]; ok && x.Status != w {
				t.Errorf("%s: %s, want %s", x.Date, x.Status, w)
			}
		}
	})
}
