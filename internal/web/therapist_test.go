package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/programs"
)

// signedIn adds a therapist (an admin if admin) with a password set through
// the setup link, and returns a browser signed in as them.
func signedIn(t *testing.T, e *env, email string, admin bool) *browser {
	t.Helper()
	th, err := e.Store.CreateTherapist(t.Context(), email, "Dr "+email, admin)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := store.NewToken()
	if err := e.Store.CreateSetupToken(t.Context(), th.ID, store.HashToken(tok), e.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(e)
	const pw = "a long passphrase"
	b.send("POST", "/setup/"+tok, url.Values{"password": {pw}, "confirm": {pw}}).want(t, "setup", http.StatusSeeOther)
	if b.cookie == nil {
		t.Fatal("no session after setup")
	}
	return b
}

// redirectedTo checks a 303 and returns its Location.
func (p page) redirectedTo(t *testing.T, what, prefix string) string {
	t.Helper()
	p.want(t, what, http.StatusSeeOther)
	loc := p.hdr.Get("Location")
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("%s: redirect to %q, want %s…", what, loc, prefix)
	}
	return loc
}

func TestTherapistPages(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, _ := mailedEnv(t, dsn) // an SMTP server is configured: email channels are allowed
		ctx := t.Context()
		ann := signedIn(t, e, "ann.t@example.org", false)
		ben := signedIn(t, e, "ben.t@example.org", false)

		// A visitor is sent to sign in.
		newBrowser(e).send("GET", "/patients/1", nil).redirectedTo(t, "a visitor", "/login")

		// A new patient, from the home page's form.
		ann.send("POST", "/patients", url.Values{"name": {"Pat"}, "timezone": {"Mars/Base"}}).
			want(t, "a bad time zone", http.StatusUnprocessableEntity, `timezone "Mars/Base" is not a known IANA time zone`)
		loc := ann.send("POST", "/patients", url.Values{"name": {"Pat"}, "email": {"pat@example.org"},
			"timezone": {"Europe/Berlin"}, "discreet": {"yes"}}).redirectedTo(t, "new patient", "/patients/")
		id, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(loc, "?")[0], "/patients/"), 10, 64)
		ben.send("POST", "/patients", url.Values{"name": {"Bobby"}, "timezone": {"Europe/Berlin"}}).
			redirectedTo(t, "ben's patient", "/patients/")
		patientURL := fmt.Sprintf("/patients/%d", id)

		home := ann.send("GET", "/", nil)
		home.want(t, "home", http.StatusOK, "Signed in as", "Your patients", `href="`+patientURL+`"`, "Pat", "No program")
		if strings.Contains(home.body, "Bobby") {
			t.Error("home lists another therapist's patient")
		}

		// Assign: choose a program, then fill in its form.
		ann.send("GET", patientURL+"?program=walking", nil).want(t, "the assign form", http.StatusOK,
			`name="baseline.walk"`, `<label for="baseline-walk">`, `name="days.walk"`, `value="07:30"`)
		form := url.Values{"program": {"walking"}, "start": {"2026-11-23"}, "baseline.walk": {"10"}, "threshold.walk": {"20"},
			"goal.walk": {"30"}, "days.walk": {"mon", "wed", "fri"}, "times.walk": {"18:00"}}
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("times.walk", "25:99")
		ann.send("POST", patientURL+"/assignments", bad).want(t, "a bad time", http.StatusUnprocessableEntity, "25:99")
		ann.send("POST", patientURL+"/assignments", form).redirectedTo(t, "assign", patientURL+"?done=assigned")
		as, err := e.Store.Assignments(ctx, id)
		if err != nil || len(as) != 1 {
			t.Fatalf("assignments %v, %v; want 1", as, err)
		}
		asg := as[0]
		if params := asg.Params; params.Baseline["walk"] != 10 || params.Threshold["walk"] != 20 ||
			strings.Join(params.Schedule["walk"].Days, ",") != "fri,mon,wed" || params.Schedule["walk"].Times[0] != "18:00" {
			t.Errorf("stored parameters %+v", asg.Params)
		}
		if asg.Program == nil || asg.Program.ID != "walking" {
			t.Errorf("stored program %+v, want the walking snapshot", asg.Program)
		}

		// A week of check-ins through the patient's link, then the page a week on.
		p, _ := e.Store.Patient(ctx, e.therapistOf(t, "ann.t@example.org"), id)
		links := e.Daemon.Clinic.Links(p)
		e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"session","activity":"walk","status":"done","dose":8,"pain":3}`, 201, nil)
		e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"weekly","function":6,"symptoms":4,"confidence":7}`, 201, nil)
		e.Clock.Set(e.Clock.Now().Add(8 * 24 * time.Hour))
		// The daemon's hourly review has re-planned the week since.
		if _, err := e.Daemon.Jobs.Reviewer.Sweep(ctx, func(store.Patient, time.Time) bool { return true }); err != nil {
			t.Fatal(err)
		}
		// Sessions last 12 hours: sign in again.
		login(t, ann, "ann.t@example.org", "a long passphrase")
		login(t, ben, "ben.t@example.org", "a long passphrase")
		pg := ann.send("GET", patientURL, nil)
		// The page words the stored plan's decisions as the catalogue does.
		plan, err := e.Daemon.Clinic.Plan(ctx, p, asg)
		if err != nil {
			t.Fatal(err)
		}
		pg.want(t, "the patient page", http.StatusOK, "Walking", "The plan, week by week", "Week 1 · from 2026-11-23",
			english.Reason(asg.Program, plan.Weeks[0].Activities[0].Decision), english.Reason(asg.Program, plan.Weeks[1].Activities[0].Decision),
			`<svg class="chart"`, `role="img"`, `<title id="load-`, `<desc id="load-`, "<table>", "<caption",
			"Walk: planned and completed per week", "Pain, function and confidence per week",
			`<label for="value-`, `<label for="erase-confirm">`)
		for _, bad := range []string{"<script", "<style", " style=", "onclick=", "javascript:"} {
			if strings.Contains(strings.ToLower(pg.body), bad) {
				t.Errorf("the patient page holds %q", bad)
			}
		}
		// The signals table has week 1's numbers.
		if !strings.Contains(pg.body, `<th scope="row">1</th><td>3</td><td>6</td><td>7</td>`) {
			t.Errorf("the signals table lacks week 1 (pain 3, function 6, confidence 7):\n%s", pg.body)
		}

		// Pause and resume.
		aURL := fmt.Sprintf("/assignments/%d", asg.ID)
		ann.send("POST", aURL+"/pause", url.Values{}).redirectedTo(t, "pause", patientURL+"?done=paused")
		ann.send("GET", "/", nil).want(t, "home, paused", http.StatusOK, `status-paused`)
		if plan, err := e.Daemon.Clinic.Plan(ctx, p, asg); err != nil || !plan.Paused || plan.Pause != programs.PausedByTherapist {
			t.Errorf("the plan is not paused by the therapist: %v", err)
		}
		ann.send("POST", aURL+"/resume", url.Values{}).redirectedTo(t, "resume", patientURL+"?done=resumed")
		if plan, err := e.Daemon.Clinic.Plan(ctx, p, asg); err != nil || plan.Paused {
			t.Errorf("the plan is still paused: %v", err)
		}

		// Override a dose; a dose the program cannot take is said plainly.
		ann.send("POST", aURL+"/override", url.Values{"activity": {"nope"}, "kind": {"dose"}, "value": {"12"}}).
			want(t, "an unknown activity", http.StatusUnprocessableEntity, `unknown activity "nope"`)
		ann.send("POST", aURL+"/override", url.Values{"activity": {"walk"}, "kind": {"dose"}, "value": {"12"}}).
			redirectedTo(t, "override", patientURL+"?done=overridden")
		ovs, _ := e.Store.Overrides(ctx, asg.ID)
		if n := len(ovs); n != 3 || ovs[2].Kind != programs.DoseOverride || ovs[2].Value != 12 || ovs[2].Activity != "walk" {
			t.Errorf("overrides %+v", ovs)
		}

		// Channels.
		ann.send("POST", patientURL+"/channels", url.Values{"email": {"pat@example.org"}, "webhook": {"https://hooks.example/r"},
			"quiet_start": {"22:00"}, "quiet_end": {"07:00"}, "lead_minutes": {"10"}, "nudge_hours": {"3"}, "language": {"de"}}).
			redirectedTo(t, "channels", patientURL+"?done=channels")
		chs, _ := e.Store.Channels(ctx, id)
		set, _ := e.Store.NotifySettings(ctx, id)
		if len(chs) != 2 || set.Language != "de" || set.QuietStart != 22*60 || set.LeadMinutes != 10 {
			t.Errorf("channels %d, settings %+v", len(chs), set)
		}
		ann.send("GET", patientURL, nil).want(t, "the channels form", http.StatusOK, `value="https://hooks.example/r"`, `value="22:00"`)

		// Rotate the feed token: the old feed link stops working.
		if code, _, _ := e.Do("GET", links.FeedURL, "", ""); code != 200 {
			t.Fatalf("feed: %d", code)
		}
		ann.send("POST", patientURL+"/feed-token", url.Values{}).redirectedTo(t, "rotate", patientURL+"?done=rotated")
		if code, _, _ := e.Do("GET", links.FeedURL, "", ""); code != 404 {
			t.Errorf("the old feed link answers %d after rotation", code)
		}

		// Another therapist gets 404 for all of it.
		for _, r := range []struct {
			method, path string
			form         url.Values
		}{
			{"GET", patientURL, nil}, {"GET", patientURL + "/export", nil},
			{"POST", patientURL + "/assignments", form}, {"POST", aURL + "/pause", url.Values{}},
			{"POST", aURL + "/resume", url.Values{}}, {"POST", aURL + "/override", url.Values{"activity": {"walk"}, "kind": {"dose"}, "value": {"9"}}},
			{"POST", patientURL + "/feed-token", url.Values{}}, {"POST", patientURL + "/channels", url.Values{"quiet_start": {"21:00"}, "quiet_end": {"07:00"}}},
			{"POST", patientURL + "/erase", url.Values{"confirm": {"yes"}}},
		} {
			ben.send(r.method, r.path, r.form).want(t, "ben: "+r.method+" "+r.path, http.StatusNotFound)
		}
		if ovs2, _ := e.Store.Overrides(ctx, asg.ID); len(ovs2) != len(ovs) {
			t.Error("another therapist's override was stored")
		}

		// A red flag shows at a glance.
		e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["leg_weakness"]}`, 201, nil)
		ann.send("GET", "/", nil).want(t, "home, red flag", http.StatusOK, "status-red_flag", "Paused: red flag")

		// Export downloads what the API exports.
		ex := ann.send("GET", patientURL+"/export", nil)
		ex.want(t, "export", http.StatusOK, `"name": "Pat"`)
		if cd := ex.hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
			t.Errorf("export Content-Disposition %q", cd)
		}

		// Erasure asks for confirmation.
		ann.send("POST", patientURL+"/erase", url.Values{}).want(t, "erase unconfirmed", http.StatusUnprocessableEntity, "Nothing was deleted")
		if _, err := e.Store.Patient(ctx, p.TherapistID, id); err != nil {
			t.Fatal("an unconfirmed erasure deleted the patient")
		}
		ann.send("POST", patientURL+"/erase", url.Values{"confirm": {"yes"}}).redirectedTo(t, "erase", "/?done=erased")
		ann.send("GET", patientURL, nil).want(t, "an erased patient", http.StatusNotFound)
		ann.send("GET", "/?done=erased", nil).want(t, "home after erasure", http.StatusOK, "were erased", "You have no patients yet")
	})
}

// therapistOf returns the id of the therapist with the email.
func (e *env) therapistOf(t *testing.T, email string) int64 {
	th, err := e.Store.TherapistByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return th.ID
}

func TestAdminAddsTherapists(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		plain := signedIn(t, e, "plain@example.org", false)
		plain.send("GET", "/admin/therapists", nil).want(t, "a therapist on the admin page", http.StatusForbidden, "Administrators only")
		plain.send("POST", "/admin/therapists", url.Values{"email": {"x@example.org"}}).want(t, "a therapist adding one", http.StatusForbidden)
		if _, err := e.Store.TherapistByEmail(t.Context(), "x@example.org"); err == nil {
			t.Fatal("a non-admin added a therapist")
		}
		newBrowser(e).send("GET", "/admin/therapists", nil).redirectedTo(t, "a visitor", "/login")

		admin := signedIn(t, e, "boss@example.org", true)
		admin.send("GET", "/", nil).want(t, "an admin's home", http.StatusOK, `href="/admin/therapists"`)
		admin.send("GET", "/admin/therapists", nil).want(t, "the admin page", http.StatusOK, `<label for="email">`)
		admin.send("POST", "/admin/therapists", url.Values{"email": {"not an email"}}).want(t, "a bad email", http.StatusUnprocessableEntity, "whole email address")
		p := admin.send("POST", "/admin/therapists", url.Values{"email": {"new@example.org"}, "name": {"New"}})
		p.want(t, "adding", http.StatusOK, "Added new@example.org", e.URL+"/setup/")
		i := strings.Index(p.body, e.URL+"/setup/")
		link := strings.TrimPrefix(p.body[i:i+len(e.URL)+len("/setup/")+43], e.URL)
		newBrowser(e).send("GET", link, nil).want(t, "the new setup link", http.StatusOK, "Choose a password", "new@example.org")
		admin.send("POST", "/admin/therapists", url.Values{"email": {"NEW@example.org"}}).want(t, "a taken email", http.StatusUnprocessableEntity, "already exists")
	})
}

// The home and patient pages tell a red-flag pause from the therapist's own
// pause, from the stored plan: a red flag stays one through a dose change
// and a week's review, until the therapist resumes; a pause after that is
// the therapist's.
func TestStatusOfPauses(t *testing.T) {
	e := sqliteEnv(t)
	ctx := t.Context()
	ann := signedIn(t, e, "ann.t@example.org", false)
	loc := ann.send("POST", "/patients", url.Values{"name": {"Pat"}, "timezone": {"Europe/Berlin"}}).
		redirectedTo(t, "new patient", "/patients/")
	patientURL := strings.Split(loc, "?")[0]
	id, _ := strconv.ParseInt(strings.TrimPrefix(patientURL, "/patients/"), 10, 64)
	ann.send("POST", patientURL+"/assignments", url.Values{"program": {"walking"}, "start": {"2026-11-23"},
		"baseline.walk": {"10"}, "days.walk": {"daily"}, "times.walk": {"18:00"}}).redirectedTo(t, "assign", patientURL+"?done=assigned")
	as, err := e.Store.Assignments(ctx, id)
	if err != nil || len(as) != 1 {
		t.Fatalf("assignments %v, %v", as, err)
	}
	aURL := fmt.Sprintf("/assignments/%d", as[0].ID)
	p, err := e.Store.Patient(ctx, e.therapistOf(t, "ann.t@example.org"), id)
	if err != nil {
		t.Fatal(err)
	}
	checkins := e.Daemon.Clinic.Links(p).CheckinURL + "/checkins"
	status := func(what, want string) {
		t.Helper()
		for _, path := range []string{"/", patientURL} {
			pg := ann.send("GET", path, nil)
			pg.want(t, what+": GET "+path, http.StatusOK, `status status-`+want+`"`)
			for _, other := range []string{statusRedFlag, statusPaused} {
				if other != want && strings.Contains(pg.body, `status-`+other+`"`) {
					t.Errorf("%s: GET %s shows status %s, want %s", what, path, other, want)
				}
			}
		}
	}
	weekOn := func() {
		t.Helper()
		e.Clock.Add(7 * 24 * time.Hour)
		if _, err := e.Daemon.Jobs.Reviewer.Sweep(ctx, func(store.Patient, time.Time) bool { return true }); err != nil {
			t.Fatal(err)
		}
		login(t, ann, "ann.t@example.org", "a long passphrase")
	}

	e.JSON("POST", checkins, "", `{"kind":"red_flag","answers":["night_pain"]}`, 201, nil)
	status("a red flag", statusRedFlag)
	ann.send("POST", aURL+"/override", url.Values{"activity": {"walk"}, "kind": {"dose"}, "value": {"6"}}).
		redirectedTo(t, "override", patientURL+"?done=overridden")
	status("a red flag, then a dose change", statusRedFlag)
	weekOn()
	status("a red flag, a week's review later", statusRedFlag)
	ann.send("POST", aURL+"/resume", url.Values{}).redirectedTo(t, "resume", patientURL+"?done=resumed")
	ann.send("POST", aURL+"/pause", url.Values{}).redirectedTo(t, "pause", patientURL+"?done=paused")
	status("a red flag, resumed and paused again by the therapist", statusPaused)
	weekOn()
	status("the therapist's pause, a week's review later", statusPaused)
}

// Status keys of the home page (web's statusRedFlag and statusPaused).
const (
	statusRedFlag = "red_flag"
	statusPaused  = "paused"
)

// The home page judges adherence over the 7 days before the plan's day by
// the sessions that were planned: cancelled ones (a pause) and today's do not
// count against the patient.
func TestHomeStatusCountsWhatWasPlanned(t *testing.T) {
	e := sqliteEnv(t)
	ctx := t.Context()
	// Therapist A, who owns the API's patients, signs in through a setup link.
	tok, _ := store.NewToken()
	if err := e.Store.CreateSetupToken(ctx, e.A.ID, store.HashToken(tok), e.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(e)
	b.send("POST", "/setup/"+tok, url.Values{"password": {"a long passphrase"}, "confirm": {"a long passphrase"}}).
		want(t, "setup", http.StatusSeeOther)

	l := e.Patient(`{"name":"Pat","timezone":"Europe/Berlin"}`)
	a := fmt.Sprintf("/api/v1/assignments/%d", e.Assign(l.ID,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["18:00"]}}}`))
	// Monday to Wednesday done, each logged that evening, Thursday missed;
	// paused on Friday, resumed on Monday: Friday to Sunday are cancelled.
	for _, day := range []int{23, 24, 25} {
		e.Clock.Set(time.Date(2026, 11, day, 19, 0, 0, 0, time.UTC))
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"session","activity":"walk","status":"done"}`, 201, nil)
	}
	e.Clock.Set(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC))
	e.JSON("POST", a+"/pause", e.TokenA, "", 200, nil)
	e.Clock.Set(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
	e.JSON("POST", a+"/resume", e.TokenA, "", 200, nil)
	login(t, b, "a@example.org", "a long passphrase") // the first session has expired

	// 3 of 4 planned is on track; counting the cancelled days (3 of 7) or
	// today's session (3 of 5) would make it low.
	home := b.send("GET", "/", nil)
	home.want(t, "home", http.StatusOK, `status status-on_track"`)
}
