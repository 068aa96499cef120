package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// wantPage checks a page's status and that its body says each text.
func wantPage(t *testing.T, what string, p testserver.Page, code int, texts ...string) {
	t.Helper()
	if p.Code != code {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, p.Code, code, p.Body)
	}
	for _, s := range texts {
		if !strings.Contains(p.Body, s) {
			t.Errorf("%s: the page does not say %q", what, s)
		}
	}
}

// wantRedirect checks a 303 to a location that starts with prefix.
func wantRedirect(t *testing.T, what string, p testserver.Page, prefix string) string {
	t.Helper()
	if p.Code != http.StatusSeeOther || !strings.HasPrefix(p.Hdr.Get("Location"), prefix) {
		t.Fatalf("%s: %d to %q, want 303 to %s…; body:\n%s", what, p.Code, p.Hdr.Get("Location"), prefix, p.Body)
	}
	return p.Hdr.Get("Location")
}

// assignmentsOf are all of a patient's assignments, ended and removed too.
func assignmentsOf(t *testing.T, e *env, patientID int64) []store.Assignment {
	t.Helper()
	as, err := e.Store.AllAssignments(t.Context(), patientID)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// form builds url.Values from name, value pairs.
func form(kv ...string) url.Values {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// The assign form's preview, "same days and times", duplicate warning, and
// the forms that change days and times, end and remove a program, on both
// stores; another therapist gets 404 for each.
func TestProgramControlForms(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := t.Context()
		ann, ben := e.SignIn(e.A), e.SignIn(e.B)
		l := e.AddPatient("Pat", "", "Europe/Berlin", "", 0)
		pURL := fmt.Sprintf("/patients/%d", l.ID)
		walking, _ := e.Daemon.Clinic.Library.Get("walking")

		wantPage(t, "the assign form", ann.Get(pURL+"?program=walking"), http.StatusOK,
			walking.Description, "Same days and times for every activity", `name="same.days"`, `value="preview"`, `value="assign"`)

		// A preview stores nothing and shows the plan the form gives.
		preview := form("program", "walking", "start", "2026-11-23", "baseline.walk", "10", "same", "yes",
			"same.days", "mon", "same.days", "wed", "same.days", "fri", "same.times", "07:00", "action", "preview")
		wantPage(t, "a preview", ann.Post(pURL+"/assignments", preview), http.StatusOK,
			"Plan preview", "Walk: starts at 8 minutes, Mon, Wed, Fri at 07:00.", "Nothing is saved until you assign",
			`<th scope="row">1 <span class="hint">23 Nov</span></th><td>8 min · 3×</td>`)
		if n := len(assignmentsOf(t, e, l.ID)); n != 0 {
			t.Fatalf("a preview stored %d assignments", n)
		}
		bad := form("program", "walking", "same", "yes", "same.days", "mon", "same.times", "25:00", "action", "preview")
		wantPage(t, "a preview with a bad time", ann.Post(pURL+"/assignments", bad), http.StatusUnprocessableEntity, `"25:00"`)

		// Assigned: back at the program's section, with its schedule.
		assign := form("program", "walking", "start", "2026-11-23", "baseline.walk", "10", "same", "yes",
			"same.days", "mon", "same.days", "wed", "same.days", "fri", "same.times", "07:00", "action", "assign")
		loc := wantRedirect(t, "assign", ann.Post(pURL+"/assignments", assign), pURL+"?done=assigned&at=assignment-")
		as := assignmentsOf(t, e, l.ID)
		if len(as) != 1 || strings.Join(as[0].Params.Schedule["walk"].Days, ",") != "fri,mon,wed" ||
			strings.Join(as[0].Params.Schedule["walk"].Times, ",") != "07:00" {
			t.Fatalf("assigned %+v", as)
		}
		first := as[0]
		aURL := fmt.Sprintf("/assignments/%d", first.ID)
		if want := fmt.Sprintf("#assignment-%d", first.ID); !strings.HasSuffix(loc, want) {
			t.Errorf("after assigning: %s, want the program's section %s", loc, want)
		}
		page := ann.Get(loc)
		wantPage(t, "the page after assigning", page, http.StatusOK, "The program was assigned")
		// The message is in the program's section, not at the top.
		section := page.Body[strings.Index(page.Body, fmt.Sprintf(`id="assignment-%d"`, first.ID)):]
		if !strings.Contains(section, "The program was assigned") || strings.Index(page.Body, "The program was assigned") < strings.Index(page.Body, `id="assignment-`) {
			t.Error("the message after assigning is not in the program's section")
		}

		// The same program again: a warning first, a refusal without the
		// confirmation, a second copy with it.
		wantPage(t, "the assign form of a program the patient has", ann.Get(pURL+"?program=walking"), http.StatusOK,
			"This patient has Walking already, since Monday 23 Nov", `name="again"`)
		wantPage(t, "a second copy, unconfirmed", ann.Post(pURL+"/assignments", assign), http.StatusConflict,
			"Nothing was assigned: the patient has Walking already")
		if n := len(assignmentsOf(t, e, l.ID)); n != 1 {
			t.Fatalf("an unconfirmed duplicate was stored: %d assignments", n)
		}
		again := form("again", "yes")
		for k, v := range assign {
			again[k] = v
		}
		wantRedirect(t, "a second copy, confirmed", ann.Post(pURL+"/assignments", again), pURL+"?done=assigned")
		as = assignmentsOf(t, e, l.ID)
		if len(as) != 2 {
			t.Fatalf("after a confirmed duplicate: %d assignments", len(as))
		}
		second := as[1]

		// Remove the second copy: no check-in yet. Its sessions are cancelled,
		// and it leaves the page.
		sURL := fmt.Sprintf("/assignments/%d", second.ID)
		wantPage(t, "remove, unconfirmed", ann.Post(sURL+"/remove", url.Values{}), http.StatusUnprocessableEntity, "tick the box")
		wantRedirect(t, "remove", ann.Post(sURL+"/remove", form("confirm", "yes")), pURL+"?done=removed")
		if a, _ := e.Store.Assignment(ctx, e.A.ID, second.ID); a.Status != clinic.StatusRemoved {
			t.Errorf("the removed assignment is %q", a.Status)
		}
		xs, _ := e.Store.AssignmentSessions(ctx, second.ID)
		for _, x := range xs {
			if x.Status != programs.Cancelled {
				t.Fatalf("a removed program's session is %s: %+v", x.Status, x)
			}
		}
		page = ann.Get(pURL)
		if n := strings.Count(page.Body, `class="assignment"`); n != 1 || strings.Contains(page.Body, "Ended programs") {
			t.Errorf("after removing, the page shows %d programs (and ended ones: %v)", n, strings.Contains(page.Body, "Ended programs"))
		}

		// Days and times: each activity's own, or the same for all.
		wantPage(t, "a bad time", ann.Post(aURL+"/schedule", form("days.walk", "tue", "times.walk", "25:00")),
			http.StatusUnprocessableEntity, `"25:00"`)
		wantRedirect(t, "new days and times", ann.Post(aURL+"/schedule", form("days.walk", "tue", "days.walk", "thu", "times.walk", "18:30")),
			pURL+fmt.Sprintf("?done=schedule&at=assignment-%d#assignment-%d", first.ID, first.ID))
		if a, _ := e.Store.Assignment(ctx, e.A.ID, first.ID); strings.Join(a.Params.Schedule["walk"].Days, ",") != "thu,tue" ||
			a.Params.Schedule["walk"].Times[0] != "18:30" {
			t.Errorf("the schedule after the change: %+v", a.Params.Schedule)
		}

		// A check-in: now it cannot be removed, only ended.
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"daily","pain":3}`, 201, nil)
		wantPage(t, "remove after a check-in", ann.Post(aURL+"/remove", form("confirm", "yes")), http.StatusConflict,
			"cannot be removed", "end it instead")
		wantPage(t, "end, unconfirmed", ann.Post(aURL+"/end", url.Values{}), http.StatusUnprocessableEntity, "tick the box")
		wantRedirect(t, "end", ann.Post(aURL+"/end", form("confirm", "yes")), pURL+"?done=ended")
		if a, _ := e.Store.Assignment(ctx, e.A.ID, first.ID); a.Status != clinic.StatusEnded {
			t.Errorf("the ended assignment is %q", a.Status)
		}
		wantPage(t, "after ending", ann.Get(pURL+"?done=ended"), http.StatusOK, "The program has ended", "Ended programs: Walking")
		wantPage(t, "days and times of an ended program", ann.Post(aURL+"/schedule", form("days.walk", "mon", "times.walk", "08:00")),
			http.StatusConflict, "has ended")

		// Another therapist: 404 for every form, and nothing changes.
		for _, r := range []struct {
			method, path string
			form         url.Values
		}{
			{"GET", pURL + "/build", nil}, {"POST", pURL + "/build", form("action", "continue")},
			{"POST", pURL + "/assignments", preview}, {"POST", pURL + "/assignments", assign},
			{"POST", aURL + "/schedule", form("days.walk", "mon", "times.walk", "08:00")},
			{"POST", aURL + "/end", form("confirm", "yes")}, {"POST", sURL + "/remove", form("confirm", "yes")},
		} {
			var p testserver.Page
			if r.method == "GET" {
				p = ben.Get(r.path)
			} else {
				p = ben.Post(r.path, r.form)
			}
			wantPage(t, "ben: "+r.method+" "+r.path, p, http.StatusNotFound)
		}
		if n := len(assignmentsOf(t, e, l.ID)); n != 2 {
			t.Errorf("another therapist's forms changed the assignments: %d", n)
		}
	})
}

// The program builder: the library's activities and new ones, checked by
// the programs package, previewed and assigned as an inline program.
func TestBuilderForm(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ann := e.SignIn(e.A)
		l := e.AddPatient("Pat", "", "Europe/Berlin", "", 0)
		bURL := fmt.Sprintf("/patients/%d/build", l.ID)

		wantPage(t, "the builder", ann.Get(bURL), http.StatusOK, "Build a program", `value="walking/walk"`,
			`value="core/side-plank-knees"`, "New activity 1", `name="new.0.instructions"`)
		if strings.Contains(strings.ToLower(ann.Get(bURL).Body), "yaml") {
			t.Error("the builder speaks of YAML")
		}
		newOne := form("name", "Knees", "lib", "walking/walk", "new.0.name", "Wall push-up", "new.0.kind", "strength",
			"new.0.unit", "reps", "new.0.dose", "6", "new.0.goal", "", "new.0.instructions", "Hands on the wall; slowly.")
		with := func(f url.Values, kv ...string) url.Values {
			out := url.Values{}
			for k, v := range f {
				out[k] = append([]string(nil), v...)
			}
			for i := 0; i+1 < len(kv); i += 2 {
				out.Del(kv[i])
			}
			for i := 0; i+1 < len(kv); i += 2 {
				out.Add(kv[i], kv[i+1])
			}
			return out
		}
		wantPage(t, "one more new activity", ann.Post(bURL, with(newOne, "action", "add")), http.StatusOK,
			`value="Wall push-up"`, "New activity 2")
		wantPage(t, "nothing chosen", ann.Post(bURL, form("name", "X", "action", "continue")), http.StatusUnprocessableEntity,
			"no activities")
		wantPage(t, "a dose that is no number", ann.Post(bURL, with(newOne, "new.0.dose", "six", "action", "continue")),
			http.StatusUnprocessableEntity, "Wall push-up: the dose must be a whole number")
		wantPage(t, "a hold off its granule", ann.Post(bURL, with(newOne, "new.0.unit", "seconds", "new.0.dose", "12", "action", "continue")),
			http.StatusUnprocessableEntity, "activity 2 (Wall push-up): baseline 12 is not a whole number of granules of 5")
		wantPage(t, "no program name", ann.Post(bURL, with(newOne, "name", "", "action", "continue")),
			http.StatusUnprocessableEntity, "the program: name must not be empty")
		many := with(newOne, "action", "continue")
		for i := 1; i < 12; i++ {
			k := "new." + strconv.Itoa(i) + "."
			many.Set(k+"name", "Extra "+strconv.Itoa(i))
			many.Set(k+"kind", "mobility")
			many.Set(k+"unit", "reps")
			many.Set(k+"dose", "5")
			many.Set(k+"instructions", "Gently.")
		}
		wantPage(t, "13 activities", ann.Post(bURL, many), http.StatusUnprocessableEntity, "a program has at most 12")
		huge := with(newOne, "new.0.instructions", strings.Repeat("x", 300<<10), "action", "continue")
		wantPage(t, "a form past the limit", ann.Post(bURL, huge), http.StatusRequestEntityTooLarge)

		step2 := ann.Post(bURL, with(newOne, "action", "continue"))
		wantPage(t, "the second step", step2, http.StatusOK, "Step 2 of 2", "Walk, Wall push-up",
			`type="hidden" name="new.0.name" value="Wall push-up"`, `name="baseline.wall-push-up"`, `value="back"`)
		wantPage(t, "back to the first step", ann.Post(bURL, with(newOne, "action", "back")), http.StatusOK,
			"Step 1 of 2", `value="Wall push-up"`, `id="lib-walking--walk" name="lib" type="checkbox" value="walking/walk" checked`)
		wantPage(t, "the builder's preview", ann.Post(bURL, with(newOne, "action", "preview", "start", "2026-11-23",
			"days.walk", "mon", "times.walk", "07:30", "times.wall-push-up", "18:00",
			"days.wall-push-up", "mon", "days.wall-push-up", "tue", "days.wall-push-up", "wed", "days.wall-push-up", "thu",
			"days.wall-push-up", "fri", "days.wall-push-up", "sat", "days.wall-push-up", "sun")), http.StatusOK,
			"Plan preview", "Wall push-up: starts at 6 reps, every day at 18:00. It stays there: that is its goal.", "Walk: starts at 8 minutes, Mon at 07:30.")
		if n := len(assignmentsOf(t, e, l.ID)); n != 0 {
			t.Fatalf("the builder stored %d assignments before assigning", n)
		}
		wantRedirect(t, "assign the composed program", ann.Post(bURL, with(newOne, "action", "assign", "start", "2026-11-23",
			"same", "yes", "same.days", "tue", "same.times", "09:00")), fmt.Sprintf("/patients/%d?done=assigned", l.ID))
		as := assignmentsOf(t, e, l.ID)
		if len(as) != 1 || as[0].ProgramID != "custom-knees" || as[0].Program.Name != "Knees" {
			t.Fatalf("assigned %+v", as)
		}
		act, ok := as[0].Program.Activity("wall-push-up")
		if !ok || act.Unit != programs.Reps || act.Baseline != 6 || act.Goal != 6 || act.StartPercent != 100 ||
			act.Instructions != "Hands on the wall; slowly." {
			t.Errorf("the new activity as stored: %+v", act)
		}
		if so := as[0].Params.Schedule["wall-push-up"]; strings.Join(so.Days, ",") != "tue" || so.Times[0] != "09:00" {
			t.Errorf("its schedule: %+v", as[0].Params.Schedule)
		}
		// The same composition again is the same program: a duplicate.
		wantPage(t, "the same composition again", ann.Post(bURL, with(newOne, "action", "assign", "same", "yes",
			"same.days", "tue", "same.times", "09:00")), http.StatusConflict,
			"the patient has Knees already")
	})
}

// The red-flag review on the patient page: the answers with their urgency
// and time, an acknowledgement, items marked known and reviewed and
// un-marked, on both stores; another therapist gets 404.
func TestRedFlagReviewForms(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := t.Context()
		ann, ben := e.SignIn(e.A), e.SignIn(e.B)
		l := e.AddPatient("Pat", "", "Europe/Berlin", "walking", programs.MakeDate(2026, 11, 23))
		pURL := fmt.Sprintf("/patients/%d", l.ID)
		checkin := func(body string) {
			t.Helper()
			e.JSON("POST", l.CheckinURL+"/checkins", "", body, 201, nil)
		}
		status := func() programs.PauseCause {
			t.Helper()
			id := e.Assignments(l.ID)[0]
			sp, err := e.Store.Plan(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return sp.Header.Pause
		}
		checkin(`{"kind":"red_flag","answers":["weight_loss_cancer"]}`)
		at := recordedAt(t, e, l.ID, programs.RedFlagCheckIn)
		wantPage(t, "home", ann.Get("/"), http.StatusOK, "Paused: red flag", "1 red-flag answer to acknowledge")
		page := ann.Get(pURL)
		wantPage(t, "the patient page", page, http.StatusOK, "Paused by a red flag (see a doctor today): "+english.Text("redflag.q.weight_loss_cancer", nil),
			"Answered "+clinic.RedFlagWhen(english, programs.DateOf(e.Clock.Now()), at.In(berlinZone(t))), "It paused the plan.", ">Acknowledge<")
		var screen int64
		cs, _ := e.Store.CheckInsOf(ctx, l.ID)
		for _, c := range cs {
			if c.CheckIn.Kind == programs.RedFlagCheckIn {
				screen = c.ID
			}
		}
		ack := fmt.Sprintf("%s/red-flags/%d/acknowledge", pURL, screen)
		wantPage(t, "ben acknowledges", ben.Post(ack, url.Values{}), http.StatusNotFound)
		wantPage(t, "acknowledging a check-in that is no red flag", ann.Post(fmt.Sprintf("%s/red-flags/%d/acknowledge", pURL, cs[0].ID+100), url.Values{}), http.StatusNotFound)
		wantPage(t, "acknowledging a malformed id", ann.Post(pURL+"/red-flags/x/acknowledge", url.Values{}), http.StatusNotFound)
		wantRedirect(t, "acknowledge", ann.Post(ack, url.Values{}), pURL+"?done=acknowledged&at=red-flags#red-flags")
		wantPage(t, "after acknowledging", ann.Get(pURL), http.StatusOK, "Acknowledged by Dr a@example.org on")
		if strings.Contains(ann.Get("/").Body, "to acknowledge") {
			t.Error("home still counts the acknowledged answer")
		}
		if status() != programs.PausedByRedFlag {
			t.Error("acknowledging changed the pause")
		}

		// Known and reviewed: the same answer no longer pauses.
		wantPage(t, "marking an unknown item", ann.Post(pURL+"/known-red-flags", form("item", "headache")),
			http.StatusUnprocessableEntity, `"headache" is not a question of the red-flag screen`)
		wantPage(t, "marking no item", ann.Post(pURL+"/known-red-flags", form("item", "")),
			http.StatusUnprocessableEntity, "choose an item of the red-flag screen")
		wantPage(t, "ben marks", ben.Post(pURL+"/known-red-flags", form("item", "weight_loss_cancer")), http.StatusNotFound)
		wantRedirect(t, "mark", ann.Post(pURL+"/known-red-flags", form("item", "weight_loss_cancer")), pURL+"?done=marked&at=red-flags")
		e.JSON("POST", fmt.Sprintf("/api/v1/assignments/%d/resume", e.Assignments(l.ID)[0]), e.TokenA, "", 200, nil)
		e.Clock.Add(time.Hour)
		checkin(`{"kind":"red_flag","answers":["weight_loss_cancer"]}`)
		if p := status(); p != "" {
			t.Fatalf("a known answer paused the plan: %q", p)
		}
		wantPage(t, "a known answer", ann.Get(pURL), http.StatusOK, "known and reviewed then", "It did not pause the plan")
		// Worse than when reviewed: it pauses.
		checkin(`{"kind":"red_flag","answers":["weight_loss_cancer"],"worse":["weight_loss_cancer"]}`)
		if p := status(); p != programs.PausedByRedFlag {
			t.Fatalf("a worse answer did not pause: %q", p)
		}
		wantPage(t, "a worse answer", ann.Get(pURL), http.StatusOK, "said to be worse")
		e.JSON("POST", fmt.Sprintf("/api/v1/assignments/%d/resume", e.Assignments(l.ID)[0]), e.TokenA, "", 200, nil)

		// Un-marked: it pauses again, and the screen it covered stays covered.
		unmark := pURL + "/known-red-flags/weight_loss_cancer/unmark"
		wantPage(t, "ben un-marks", ben.Post(unmark, url.Values{}), http.StatusNotFound)
		wantRedirect(t, "un-mark", ann.Post(unmark, url.Values{}), pURL+"?done=unmarked&at=red-flags")
		if p := status(); p != "" {
			t.Fatalf("un-marking paused the plan after the fact: %q", p)
		}
		e.Clock.Add(time.Hour)
		checkin(`{"kind":"red_flag","answers":["weight_loss_cancer"]}`)
		if p := status(); p != programs.PausedByRedFlag {
			t.Fatalf("after un-marking, the answer did not pause: %q", p)
		}
		wantPage(t, "ben's view of the page", ben.Get(pURL), http.StatusNotFound)
	})
}

func berlinZone(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
