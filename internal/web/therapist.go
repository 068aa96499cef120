package web

// The therapist's pages: the home page with each patient's status at a
// glance, the patient page (the plan week by week with its reasons, charts,
// and the forms that assign, pause, resume, override, rotate the feed token,
// set channels, export and erase), and the admins' page that adds therapists.
// Every form posts and redirects (or re-renders with what to fix); the
// actions share their validation with the JSON API (api.go, channels.go,
// export.go). Words come from the i18n catalogue (en.therapist.json).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// Status thresholds of the home page.
const (
	statusDays    = store.StatusDays // adherence and check-ins are judged over the last 7 days
	adherenceGate = 70               // percent of planned sessions done, as the digest's default
	chartWeeks    = 12               // the charts show the last 12 weeks up to the current one
	setupLinkTTL  = 72 * time.Hour
)

// therapistRoutes registers the therapist's pages. The home page itself is
// GET / in auth.go, which hands a signed-in therapist to therapistHome.
func (s *Server) therapistRoutes(mux *http.ServeMux) {
	// Only render, pageError and signedIn of auth are used here; its login
	// limiters stay with the sign-in pages.
	a := &auth{Server: s, pages: mustPages()}
	page := func(pattern string, h func(http.ResponseWriter, *http.Request, store.Therapist)) {
		mux.HandleFunc(pattern, a.signedInPage(h))
	}
	page("POST /patients", a.newPatient)
	page("GET /patients/{id}", a.patientPage)
	page("POST /patients/{id}/assignments", a.assignForm)
	page("POST /patients/{id}/feed-token", a.rotateForm)
	page("POST /patients/{id}/checkin-token", a.rotateCheckinForm)
	page("POST /patients/{id}/channels", a.channelsForm)
	page("GET /patients/{id}/export", a.exportDownload)
	page("POST /patients/{id}/erase", a.eraseForm)
	page("POST /assignments/{id}/pause", a.pauseForm)
	page("POST /assignments/{id}/resume", a.resumeForm)
	page("POST /assignments/{id}/override", a.overrideForm)
	page("GET /admin/therapists", a.adminPage)
	// Browsers ask for /favicon.ico whatever the page says: the app's icon.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.Redirect(w, r, a.pages.paths["icon-192.png"], http.StatusMovedPermanently)
	})
	page("POST /admin/therapists", a.addTherapist)
	page("POST /admin/therapists/{id}/disable", a.disableTherapist)
	page("POST /admin/therapists/{id}/enable", a.enableTherapist)
	page("POST /admin/therapists/{id}/setup-link", a.resetLink)
	page("POST /admin/therapists/{id}/move", a.movePatients)
}

// signedInPage sends a visitor to the login page and gives h the therapist.
func (a *auth) signedInPage(h func(http.ResponseWriter, *http.Request, store.Therapist)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok, failed := a.signedIn(w, r)
		if failed {
			return
		}
		if !ok {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r, t)
	}
}

// tr gives templates the catalogue: {{$.T "home.title"}}, or with arguments
// as name, value pairs: {{$.T "week.title" "week" 3}}.
type tr struct{ c *i18n.Catalog }

func (t tr) T(id string, kv ...any) string {
	args := i18n.Args{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			args[k] = kv[i+1]
		}
	}
	return t.c.Text(id, args)
}

// Therapist pages are in English: therapists have no language setting yet.
func therapistTr() tr { return tr{i18n.For(i18n.English)} }

// notFoundPage answers 404 for a patient or assignment that is not the
// therapist's, exactly as for one that does not exist.
func (a *auth) notFoundPage(w http.ResponseWriter, r *http.Request) {
	t := therapistTr()
	a.render(w, r, http.StatusNotFound, "message.html", messageData{
		Title: t.T("th.notfound.title"), Text: t.T("th.notfound.text"), Link: "/", LinkText: t.T("th.nav.home"),
	})
}

// notFoundOrPage maps ErrNotFound to the 404 page and anything else to 500.
func (a *auth) notFoundOrPage(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		a.notFoundPage(w, r)
		return
	}
	a.pageError(w, r, err)
}

// ownPatient loads the therapist's patient named by the path; false when it
// answered 404 or 500 itself.
func (a *auth) ownPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) (store.Patient, bool) {
	id, ok := pathID(r)
	if !ok {
		a.notFoundPage(w, r)
		return store.Patient{}, false
	}
	p, err := a.Store.Patient(r.Context(), t.ID, id)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return p, false
	}
	return p, true
}

// ownAssignment loads the therapist's assignment named by the path and its
// patient.
func (a *auth) ownAssignment(w http.ResponseWriter, r *http.Request, t store.Therapist) (store.Patient, store.Assignment, bool) {
	id, ok := pathID(r)
	if !ok {
		a.notFoundPage(w, r)
		return store.Patient{}, store.Assignment{}, false
	}
	as, err := a.Store.Assignment(r.Context(), t.ID, id)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return store.Patient{}, as, false
	}
	p, err := a.Store.Patient(r.Context(), t.ID, as.PatientID)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return p, as, false
	}
	return p, as, true
}

// backTo redirects to the patient page with a notice key (notice.<key>).
func backTo(w http.ResponseWriter, r *http.Request, patientID int64, notice string) {
	http.Redirect(w, r, fmt.Sprintf("/patients/%d?done=%s", patientID, notice), http.StatusSeeOther)
}

// Status at a glance.

// Status keys; each is a catalogue message status.<key> and a CSS class.
const (
	statusNone    = "none"     // no active program
	statusRedFlag = "red_flag" // paused by a red flag
	statusPaused  = "paused"   // paused by the therapist
	statusFlare   = "flare"    // in a flare-up
	statusQuiet   = "quiet"    // no check-in in the last 7 days
	statusLow     = "low"      // under 70% of the last 7 days' sessions done
	statusOnTrack = "on_track"
)

// activePlan is an active assignment's plan as stored, with its wording
// and the patient's check-ins (the signals chart needs them).
type activePlan struct {
	a        store.Assignment
	plan     *programs.Plan
	reasons  *clinic.Reasons
	checkIns []programs.CheckIn
}

// patientStatus is the home page's status of a patient, most urgent first:
// a red-flag pause, the therapist's pause of every program, a flare, no
// check-ins in the last 7 days (once the program has run that long), fewer
// than 70% of the last 7 days' sessions done, else on track.
func patientStatus(st store.PatientStatus, today programs.Date) string {
	since := today.AddDays(-statusDays)
	switch {
	case len(st.Programs) == 0:
		return statusNone
	case st.RedFlag:
		return statusRedFlag
	case st.Paused:
		return statusPaused
	case st.InFlare:
		return statusFlare
	case st.FirstStart <= since && st.LastCheckIn < today.AddDays(-statusDays+1):
		return statusQuiet
	case st.Planned > 0 && st.Done*100 < st.Planned*adherenceGate:
		return statusLow
	}
	return statusOnTrack
}

// patientPlans reads the stored plans of the patient's active assignments
// and returns them with every assignment, ended ones too.
func (a *auth) patientPlans(ctx context.Context, p store.Patient) ([]store.Assignment, []activePlan, error) {
	as, err := a.Store.AllAssignments(ctx, p.ID)
	if err != nil {
		return nil, nil, err
	}
	all, err := a.Store.CheckInsOf(ctx, p.ID)
	if err != nil {
		return nil, nil, err
	}
	cat := therapistTr().c
	var plans []activePlan
	for _, x := range as {
		if x.Status != "active" {
			continue
		}
		sp, err := a.Store.Plan(ctx, x.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // not planned yet (just after an upgrade)
		} else if err != nil {
			return nil, nil, err
		}
		plan, err := a.Clinic.Plan(ctx, p, x)
		if err != nil {
			return nil, nil, err
		}
		var cs []programs.CheckIn
		for _, c := range all {
			if c.AssignmentID == 0 || c.AssignmentID == x.ID {
				cs = append(cs, c.CheckIn)
			}
		}
		plans = append(plans, activePlan{a: x, plan: plan, reasons: clinic.NewReasons(cat, x.Program, sp), checkIns: cs})
	}
	return as, plans, nil
}

// statusOf is one patient's status, as the home page shows it.
func (a *auth) statusOf(ctx context.Context, t store.Therapist, p store.Patient) (string, error) {
	today := a.today(p)
	sts, err := a.Store.PatientStatuses(ctx, t.ID)
	if err != nil {
		return "", err
	}
	for _, st := range sts {
		if st.Patient.ID == p.ID {
			return patientStatus(st, today), nil
		}
	}
	return statusNone, nil
}

// The home page.

type patientRow struct {
	ID       int64
	Name     string
	Status   string
	Programs string
}

type patientForm struct {
	Name, Email, Timezone string
	Discreet              bool
}

type homeView struct {
	tr
	Therapist store.Therapist
	Patients  []patientRow
	Counts    map[string]int
	Form      patientForm
	Error     string
	Notice    string
}

func (a *auth) therapistHome(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.renderHome(w, r, t, http.StatusOK, patientForm{Discreet: true}, "")
}

func (a *auth) renderHome(w http.ResponseWriter, r *http.Request, t store.Therapist, code int, form patientForm, problem string) {
	ctx := r.Context()
	v := homeView{tr: therapistTr(), Therapist: t, Form: form, Error: problem, Counts: map[string]int{}}
	if key := r.URL.Query().Get("done"); key != "" && v.c.Has("th.notice."+key) {
		v.Notice = v.T("th.notice." + key)
	}
	// One read of every patient's stored state, not a plan each.
	sts, err := a.Store.PatientStatuses(ctx, t.ID)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	for _, st := range sts {
		status := patientStatus(st, a.today(st.Patient))
		v.Counts[status]++
		v.Patients = append(v.Patients, patientRow{st.Patient.ID, st.Patient.Name, status, strings.Join(st.Programs, ", ")})
	}
	a.render(w, r, code, "therapist_home.html", v)
}

func (a *auth) newPatient(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if !parseForm(w, r) {
		return
	}
	f := r.PostForm
	form := patientForm{Name: f.Get("name"), Email: f.Get("email"), Timezone: strings.TrimSpace(f.Get("timezone")),
		Discreet: f.Get("discreet") != ""}
	p, err := a.Clinic.AddPatient(r.Context(), t.ID, clinic.NewPatient{Name: form.Name, Email: form.Email,
		Timezone: form.Timezone, Discreet: form.Discreet})
	var bi *clinic.Problem
	switch {
	case errors.As(err, &bi):
		a.renderHome(w, r, t, http.StatusUnprocessableEntity, form, bi.Msg)
		return
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	backTo(w, r, p.ID, "created")
}

// The patient page.

type option struct {
	Value, Label string
	Selected     bool
}

type eventView struct {
	Date, Reason string
}

type activityWeekView struct {
	Name, Dose, Reason string
	Done, Planned      int
}

type weekView struct {
	Week               int
	Start              string
	Current, Projected bool
	Activities         []activityWeekView
	Events             []eventView
	Signals            *programs.Signals
}

type loadChartView struct {
	ID, Caption, Unit string
	SVG               template.HTML
	Weeks             []loadWeek
}

type signalRow struct {
	Week                       int
	Pain, Function, Confidence string
}

type assignmentView struct {
	ID             int64
	Program, Start string
	Active, Paused bool
	Flare, RedFlag bool
	Activities     []option
	Loads          []loadChartView
	SignalsID      string
	SignalsSVG     template.HTML
	Signals        []signalRow
	Weeks          []weekView
	Today          []whyLine // what the patient's page says of today
}

// assignActivity is one activity's fields on the assign form.
type assignActivity struct {
	ID, Name, Unit            string
	Baseline, Threshold, Goal string
	Days                      []option
	Times                     string
	PerWeek                   int
}

type assignFormView struct {
	Program    string
	Name       string
	Start      string
	Activities []assignActivity
}

type channelsFormView struct {
	Email, NtfyTopic, NtfyServer, PushoverUser, TelegramChat, Webhook string
	QuietStart, QuietEnd                                              string
	QuietDrop                                                         bool
	Lead, Nudge                                                       int
	Languages                                                         []option
	WebPush                                                           int
}

type patientView struct {
	tr
	Therapist   store.Therapist
	Patient     store.Patient
	Links       clinic.Links
	Webcal      template.URL // html/template refuses the webcal: scheme otherwise
	Status      string
	Notice      string
	Error       string
	Today       string
	Assignments []assignmentView
	Ended       []assignmentView
	Library     []option
	Assign      *assignFormView
	Channels    channelsFormView
	Kinds       []option
}

func (a *auth) patientPage(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	v, err := a.patientView(r, t, p, r.URL.Query().Get("program"), nil)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	if key := r.URL.Query().Get("done"); key != "" && v.c.Has("th.notice."+key) {
		v.Notice = v.T("th.notice." + key)
	}
	a.render(w, r, http.StatusOK, "therapist_patient.html", v)
}

// renderPatientProblem re-renders the patient page with what to fix.
func (a *auth) renderPatientProblem(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, program string, form url.Values, problem string) {
	v, err := a.patientView(r, t, p, program, form)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	v.Error = problem
	a.render(w, r, http.StatusUnprocessableEntity, "therapist_patient.html", v)
}

// patientView builds the patient page; program opens the assign form for a
// library program, filled from form when it is a re-render.
func (a *auth) patientView(r *http.Request, t store.Therapist, p store.Patient, program string, form url.Values) (patientView, error) {
	ctx := r.Context()
	tx := therapistTr()
	v := patientView{tr: tx, Therapist: t, Patient: p, Links: a.Clinic.Links(p), Today: a.today(p).String()}
	v.Webcal = template.URL(v.Links.WebcalURL)
	as, plans, err := a.patientPlans(ctx, p)
	if err != nil {
		return v, err
	}
	if v.Status, err = a.statusOf(ctx, t, p); err != nil {
		return v, err
	}
	today := a.today(p)
	coming, err := a.Store.Sessions(ctx, p.ID, today, today.AddDays(7))
	if err != nil {
		return v, err
	}
	for _, ap := range plans {
		av := a.assignmentView(tx, ap)
		av.Today = whyToday(ap.reasons, ap.a, today, coming)
		v.Assignments = append(v.Assignments, av)
	}
	for _, x := range as {
		if x.Status != "active" {
			v.Ended = append(v.Ended, assignmentView{ID: x.ID, Program: x.ProgramID, Start: x.Start.String()})
		}
	}
	for _, prog := range a.Library.All() {
		v.Library = append(v.Library, option{prog.ID, prog.Name, prog.ID == program})
	}
	if prog, ok := a.Library.Get(program); ok {
		v.Assign = assignForm(prog, v.Today, form)
	}
	for _, k := range []programs.OverrideKind{programs.DoseOverride, programs.ThresholdOverride, programs.GoalOverride} {
		v.Kinds = append(v.Kinds, option{Value: string(k), Label: tx.T("th.override.kind." + string(k))})
	}
	v.Channels, err = a.channelsFormView(ctx, p)
	return v, err
}

func (a *auth) assignmentView(tx tr, ap activePlan) assignmentView {
	plan, prog, rs := ap.plan, ap.a.Program, ap.reasons
	v := assignmentView{ID: ap.a.ID, Program: prog.Name, Start: ap.a.Start.String(), Active: true,
		Paused: plan.Paused, Flare: plan.InFlare, RedFlag: plan.Pause == programs.PausedByRedFlag}
	names := map[string]string{}
	units := map[string]programs.Unit{}
	for _, act := range prog.Activities {
		names[act.ID], units[act.ID] = act.Name, act.Unit
		v.Activities = append(v.Activities, option{Value: act.ID, Label: act.Name})
	}
	// Weeks up to the current one feed the charts; the list shows them all.
	var shown []programs.Week
	for _, w := range plan.Weeks {
		if w.Start <= plan.Now {
			shown = append(shown, w)
		}
		wv := weekView{Week: w.Week, Start: w.Start.String(), Projected: w.Projected,
			Current: w.Start <= plan.Now && plan.Now < w.Start.AddDays(7), Signals: w.Signals}
		for _, aw := range w.Activities {
			done, planned := sessionCounts(aw)
			dose := tx.c.Amount(aw.Unit, aw.Dose)
			if aw.Sets > 1 {
				dose = tx.T("amount.sets", "sets", aw.Sets, "amount", dose)
			}
			wv.Activities = append(wv.Activities, activityWeekView{names[aw.ID], dose, rs.Week(w.Week, aw.ID), done, planned})
		}
		for _, e := range w.Events {
			wv.Events = append(wv.Events, eventView{e.Date.String(), rs.Event(e)})
		}
		v.Weeks = append(v.Weeks, wv)
	}
	if len(shown) > chartWeeks {
		shown = shown[len(shown)-chartWeeks:]
	}
	week := func(n int) string { return tx.T("th.chart.week_short", "week", n) }
	for _, act := range prog.Activities {
		var lw []loadWeek
		for _, w := range shown {
			for _, aw := range w.Activities {
				if aw.ID == act.ID {
					planned, done := weekLoad(aw)
					lw = append(lw, loadWeek{w.Week, planned, done})
				}
			}
		}
		id := fmt.Sprintf("load-%d-%s", ap.a.ID, act.ID)
		unit := tx.T("th.chart.unit." + string(act.Unit))
		title := tx.T("th.chart.load.title", "activity", act.Name)
		desc := tx.T("th.chart.load.desc", "activity", act.Name, "text", unit, "n", len(lw))
		svg := loadChart(id, chartText{Title: title, Desc: desc, Week: week,
			Series: []string{tx.T("th.chart.planned"), tx.T("th.chart.done")}}, unit, lw)
		v.Loads = append(v.Loads, loadChartView{ID: id, Caption: title, Unit: unit, SVG: svg, Weeks: lw})
	}
	sw := signalWeeks(shown, ap.checkIns)
	v.SignalsID = fmt.Sprintf("signals-%d", ap.a.ID)
	v.SignalsSVG = signalsChart(v.SignalsID, chartText{Title: tx.T("th.chart.signals.title"),
		Desc: tx.T("th.chart.signals.desc", "n", len(sw)), Week: week,
		Series: []string{tx.T("th.chart.pain"), tx.T("th.chart.function"), tx.T("th.chart.confidence")}}, sw)
	for _, s := range sw {
		v.Signals = append(v.Signals, signalRow{s.Week, score(s.Pain), score(s.Function), score(s.Confidence)})
	}
	return v
}

// sessionCounts is how many of a week's planned sessions were done (fully or
// in part) and how many were planned; cancelled and extra ones do not count.
func sessionCounts(aw programs.ActivityWeek) (done, planned int) {
	for _, x := range aw.Sessions {
		if x.Status == programs.Cancelled || x.Extra {
			continue
		}
		planned++
		if x.Status == programs.Done || x.Status == programs.Partial {
			done++
		}
	}
	return done, planned
}

// weekLoad is a week's planned and completed load of one activity in its
// unit: dose times sets over the sessions. A done session without a logged
// dose counts as its planned dose; an extra session counts as done only.
func weekLoad(aw programs.ActivityWeek) (planned, done int) {
	sets := max(aw.Sets, 1)
	for _, x := range aw.Sessions {
		if x.Status == programs.Cancelled {
			continue
		}
		if !x.Extra {
			planned += x.Dose * sets
		}
		switch {
		case x.Actual > 0 && (x.Status == programs.Done || x.Status == programs.Partial):
			done += x.Actual * sets
		case x.Status == programs.Done:
			done += x.Dose * sets
		}
	}
	return planned, done
}

// signalWeeks averages the pain logged in each week (daily and session
// check-ins) and takes the weekly check's function and confidence.
func signalWeeks(weeks []programs.Week, cs []programs.CheckIn) []signalWeek {
	out := make([]signalWeek, len(weeks))
	for i, w := range weeks {
		sum, n := 0, 0
		for _, c := range cs {
			if c.Pain != nil && c.Date >= w.Start && c.Date < w.Start.AddDays(7) {
				sum, n = sum+*c.Pain, n+1
			}
		}
		s := signalWeek{Week: w.Week, Pain: -1, Function: -1, Confidence: -1}
		if n > 0 {
			s.Pain = float64(sum) / float64(n)
		}
		if w.Signals != nil {
			s.Function, s.Confidence = float64(w.Signals.Function), float64(w.Signals.Confidence)
		}
		out[i] = s
	}
	return out
}

func score(v float64) string {
	switch {
	case v < 0:
		return "–"
	case v == float64(int(v)):
		return strconv.Itoa(int(v))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// assignForm is the assign form for prog, with its defaults or, on a
// re-render, what was sent.
func assignForm(prog *programs.Program, today string, form url.Values) *assignFormView {
	f := &assignFormView{Program: prog.ID, Name: prog.Name, Start: today}
	get := func(key, def string) string {
		if form != nil {
			return form.Get(key)
		}
		return def
	}
	num := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	f.Start = get("start", today)
	for _, act := range prog.Activities {
		var times []string
		for _, c := range act.Schedule.Times {
			times = append(times, c.String())
		}
		aa := assignActivity{ID: act.ID, Name: act.Name, Unit: string(act.Unit), PerWeek: act.Schedule.PerWeek,
			Baseline: get("baseline."+act.ID, num(act.Baseline)), Threshold: get("threshold."+act.ID, num(act.Threshold)),
			Goal: get("goal."+act.ID, num(act.Goal)), Times: get("times."+act.ID, strings.Join(times, ", "))}
		for _, d := range weekdays {
			name := programs.DayName(d)
			on := slices.Contains(act.Schedule.Days, d)
			if form != nil {
				on = slices.Contains(form["days."+act.ID], name)
			}
			aa.Days = append(aa.Days, option{Value: name, Label: d.String(), Selected: on})
		}
		f.Activities = append(f.Activities, aa)
	}
	return f
}

// assignParams reads the assign form into the API's parameters: every
// number given, and a schedule only where the days or times differ from the
// program's.
func assignParams(prog *programs.Program, f url.Values) (store.Params, error) {
	params := store.Params{Baseline: map[string]int{}, Threshold: map[string]int{}, Goal: map[string]int{},
		Schedule: map[string]store.ScheduleOverride{}}
	for _, act := range prog.Activities {
		for _, field := range []struct {
			key string
			m   map[string]int
		}{{"baseline", params.Baseline}, {"threshold", params.Threshold}, {"goal", params.Goal}} {
			text := strings.TrimSpace(f.Get(field.key + "." + act.ID))
			if text == "" {
				continue
			}
			n, err := strconv.Atoi(text)
			if err != nil {
				return params, clinic.Problemf("%s for %s: %q is not a whole number", field.key, act.Name, text)
			}
			field.m[act.ID] = n
		}
		days := f["days."+act.ID]
		times := strings.FieldsFunc(f.Get("times."+act.ID), func(r rune) bool { return r == ',' || r == ' ' })
		var defDays, defTimes []string
		for _, d := range act.Schedule.Days {
			defDays = append(defDays, programs.DayName(d))
		}
		for _, c := range act.Schedule.Times {
			defTimes = append(defTimes, c.String())
		}
		slices.Sort(days)
		slices.Sort(defDays)
		if slices.Equal(days, defDays) && slices.Equal(times, defTimes) {
			continue
		}
		so := store.ScheduleOverride{Days: days, Times: times}
		if len(days) == 0 {
			so.PerWeek = act.Schedule.PerWeek
		}
		params.Schedule[act.ID] = so
	}
	return params, nil
}

func (a *auth) assignForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	f := r.PostForm
	prog, ok := a.Library.Get(f.Get("program"))
	if !ok {
		a.renderPatientProblem(w, r, t, p, "", nil, therapistTr().T("th.assign.no_program"))
		return
	}
	params, err := assignParams(prog, f)
	var start programs.Date
	if text := strings.TrimSpace(f.Get("start")); err == nil && text != "" {
		if start, err = parseDate(text); err != nil {
			err = clinic.Problemf("start: %v", err)
		}
	}
	if err == nil {
		_, err = a.Clinic.Assign(r.Context(), t.ID, p.ID, clinic.Assignment{Program: prog, Start: start, Params: params})
	}
	var bi *clinic.Problem
	switch {
	case errors.As(err, &bi):
		a.renderPatientProblem(w, r, t, p, prog.ID, f, bi.Msg)
		return
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	backTo(w, r, p.ID, "assigned")
}

func (a *auth) pauseForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.overridePage(w, r, t, func(p store.Patient, _ url.Values) ([]programs.Overriding, string, error) {
		return []programs.Overriding{{Date: a.today(p), Kind: programs.PauseOverride}}, "paused", nil
	})
}

func (a *auth) resumeForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.overridePage(w, r, t, func(p store.Patient, _ url.Values) ([]programs.Overriding, string, error) {
		return []programs.Overriding{{Date: a.today(p), Kind: programs.ResumeOverride}}, "resumed", nil
	})
}

func (a *auth) overrideForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.overridePage(w, r, t, func(p store.Patient, f url.Values) ([]programs.Overriding, string, error) {
		kind := programs.OverrideKind(f.Get("kind"))
		if kind != programs.DoseOverride && kind != programs.ThresholdOverride && kind != programs.GoalOverride {
			return nil, "", clinic.Problemf("choose what to change: dose, threshold or goal")
		}
		value, err := strconv.Atoi(strings.TrimSpace(f.Get("value")))
		if err != nil {
			return nil, "", clinic.Problemf("the new value must be a whole number")
		}
		from := a.today(p)
		if text := strings.TrimSpace(f.Get("from")); text != "" {
			if from, err = parseDate(text); err != nil {
				return nil, "", clinic.Problemf("from: %v", err)
			}
		}
		return []programs.Overriding{{Date: from, Kind: kind, Activity: f.Get("activity"), Value: value}}, "overridden", nil
	})
}

// overridePage applies the overrides a form describes to the path's
// assignment, through the API's validation.
func (a *auth) overridePage(w http.ResponseWriter, r *http.Request, t store.Therapist,
	read func(store.Patient, url.Values) ([]programs.Overriding, string, error)) {
	p, as, ok := a.ownAssignment(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	ovs, notice, err := read(p, r.PostForm)
	if err == nil {
		_, err = a.Clinic.Override(r.Context(), t.ID, as.ID, ovs)
	}
	var bi *clinic.Problem
	switch {
	case errors.As(err, &bi):
		a.renderPatientProblem(w, r, t, p, "", nil, bi.Msg)
		return
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	backTo(w, r, p.ID, notice)
}

func (a *auth) rotateForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	if _, err := a.Clinic.RotateFeedLink(r.Context(), t.ID, p.ID); err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	backTo(w, r, p.ID, "rotated")
}

// rotateCheckinForm replaces the patient's check-in link (and with it the
// calendar link the check-in page showed).
func (a *auth) rotateCheckinForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	if _, err := a.Clinic.RotateCheckinLink(r.Context(), t.ID, p.ID); err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	backTo(w, r, p.ID, "checkin_rotated")
}

// channelConfigs reads the first channel of each type the form edits.
func channelConfigs(chs []store.Channel) (map[string]map[string]string, int) {
	out := map[string]map[string]string{}
	webpush := 0
	for _, ch := range chs {
		if ch.Type == "webpush" {
			webpush++
			continue
		}
		if _, seen := out[ch.Type]; seen {
			continue
		}
		var cfg map[string]any
		if json.Unmarshal(ch.Config, &cfg) != nil {
			continue
		}
		m := map[string]string{}
		for k, v := range cfg {
			if s, ok := v.(string); ok {
				m[k] = s
			}
		}
		out[ch.Type] = m
	}
	return out, webpush
}

func (a *auth) channelsFormView(ctx context.Context, p store.Patient) (channelsFormView, error) {
	chs, err := a.Store.Channels(ctx, p.ID)
	if err != nil {
		return channelsFormView{}, err
	}
	set, err := a.Store.NotifySettings(ctx, p.ID)
	if err != nil {
		return channelsFormView{}, err
	}
	cfg, webpush := channelConfigs(chs)
	v := channelsFormView{Email: cfg["email"]["address"], NtfyTopic: cfg["ntfy"]["topic"], NtfyServer: cfg["ntfy"]["server"],
		PushoverUser: cfg["pushover"]["user_key"], TelegramChat: cfg["telegram"]["chat_id"], Webhook: cfg["webhook"]["url"],
		QuietStart: programs.Clock(set.QuietStart).String(), QuietEnd: programs.Clock(set.QuietEnd).String(),
		QuietDrop: set.QuietDrop, Lead: set.LeadMinutes, Nudge: set.NudgeHours, WebPush: webpush}
	lang := i18n.Parse(set.Language)
	for _, l := range i18n.Langs {
		v.Languages = append(v.Languages, option{string(l), therapistTr().T("th.language." + string(l)), l == lang})
	}
	return v, nil
}

// channelsBodyFrom turns the channels form into the API's body: one channel
// per filled field.
func channelsBodyFrom(f url.Values) (channelsBody, error) {
	in := channelsBody{Channels: []json.RawMessage{}}
	add := func(typ string, kv ...string) {
		cfg := map[string]string{"type": typ}
		for i := 0; i+1 < len(kv); i += 2 {
			if v := strings.TrimSpace(f.Get(kv[i+1])); v != "" {
				cfg[kv[i]] = v
			}
		}
		raw, _ := json.Marshal(cfg)
		in.Channels = append(in.Channels, raw)
	}
	if strings.TrimSpace(f.Get("email")) != "" {
		add("email", "address", "email")
	}
	if strings.TrimSpace(f.Get("ntfy_topic")) != "" {
		add("ntfy", "topic", "ntfy_topic", "server", "ntfy_server")
	}
	if strings.TrimSpace(f.Get("pushover_user")) != "" {
		add("pushover", "user_key", "pushover_user")
	}
	if strings.TrimSpace(f.Get("telegram_chat")) != "" {
		add("telegram", "chat_id", "telegram_chat")
	}
	if strings.TrimSpace(f.Get("webhook")) != "" {
		add("webhook", "url", "webhook")
	}
	in.QuietHours = &struct {
		Start string `json:"start"`
		End   string `json:"end"`
		Drop  bool   `json:"drop,omitempty"`
	}{f.Get("quiet_start"), f.Get("quiet_end"), f.Get("quiet_drop") != ""}
	for _, n := range []struct {
		key string
		dst **int
	}{{"lead_minutes", &in.LeadMinutes}, {"nudge_hours", &in.NudgeHours}} {
		text := strings.TrimSpace(f.Get(n.key))
		if text == "" {
			continue
		}
		v, err := strconv.Atoi(text)
		if err != nil {
			return in, clinic.Problemf("%s: %q is not a whole number", n.key, text)
		}
		*n.dst = &v
	}
	if l := f.Get("language"); l != "" {
		in.Language = &l
	}
	return in, nil
}

func (a *auth) channelsForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	in, err := channelsBodyFrom(r.PostForm)
	if err == nil {
		err = a.Clinic.SetSettings(r.Context(), p, in.settings())
	}
	var bi *clinic.Problem
	switch {
	case errors.As(err, &bi):
		a.renderPatientProblem(w, r, t, p, "", nil, bi.Msg)
		return
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	backTo(w, r, p.ID, "channels")
}

func (a *auth) exportDownload(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	id, ok := pathID(r)
	if !ok {
		a.notFoundPage(w, r)
		return
	}
	x, err := a.Clinic.Export(r.Context(), t.ID, id)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	writeExport(w, x)
}

func (a *auth) eraseForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		a.renderPatientProblem(w, r, t, p, "", nil, therapistTr().T("th.erase.unconfirmed"))
		return
	}
	if err := a.Clinic.Erase(r.Context(), t.ID, p.ID); err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/?done=erased", http.StatusSeeOther)
}

// The admins' page: the therapists, and adding, disabling and enabling
// them, sending a new setup link, moving their patients to another.

type adminView struct {
	tr
	Therapist  store.Therapist
	Therapists []therapistRow
	Others     bool // there is another therapist to move patients to
	Email      string
	Name       string
	Admin      bool
	Error      string
	Notice     string
	Link       string // a one-time setup link, shown once
	LinkNote   string
	Hours      int
}

type therapistRow struct {
	store.Therapist
	Disabled bool
	Self     bool
}

// admin lets only admins on; others get 403.
func (a *auth) admin(w http.ResponseWriter, r *http.Request, t store.Therapist) bool {
	if t.Admin {
		return true
	}
	tx := therapistTr()
	a.render(w, r, http.StatusForbidden, "message.html", messageData{
		Title: tx.T("th.admin.forbidden.title"), Text: tx.T("th.admin.forbidden.text"), Link: "/", LinkText: tx.T("th.nav.home"),
	})
	return false
}

// adminView reads the therapists for the page.
func (a *auth) adminView(r *http.Request, t store.Therapist) (adminView, error) {
	v := adminView{tr: therapistTr(), Therapist: t, Hours: int(setupLinkTTL.Hours())}
	ts, err := a.Store.Therapists(r.Context())
	if err != nil {
		return v, err
	}
	for _, x := range ts {
		v.Therapists = append(v.Therapists, therapistRow{Therapist: x, Disabled: !x.DisabledAt.IsZero(), Self: x.ID == t.ID})
	}
	v.Others = len(ts) > 1
	return v, nil
}

func (a *auth) renderAdmin(w http.ResponseWriter, r *http.Request, t store.Therapist, status int, edit func(v *adminView)) {
	v, err := a.adminView(r, t)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	if edit != nil {
		edit(&v)
	}
	if v.Link != "" {
		// The link is shown once, on this response; it is not stored
		// anywhere it could be shown again.
		w.Header().Set("Referrer-Policy", "no-referrer")
	}
	a.render(w, r, status, "therapist_admin.html", v)
}

func (a *auth) adminPage(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if !a.admin(w, r, t) {
		return
	}
	a.renderAdmin(w, r, t, http.StatusOK, nil)
}

func (a *auth) addTherapist(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	if !a.admin(w, r, t) || !parseForm(w, r) {
		return
	}
	tx := therapistTr()
	f := r.PostForm
	email, name, admin := strings.TrimSpace(f.Get("email")), strings.TrimSpace(f.Get("name")), f.Get("admin") != ""
	fail := func(msg string) {
		a.renderAdmin(w, r, t, http.StatusUnprocessableEntity, func(v *adminView) {
			v.Email, v.Name, v.Admin, v.Error = email, name, admin, msg
		})
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		fail(tx.T("th.admin.bad_email"))
		return
	}
	if err := programs.CheckText(name, false); err != nil || utf8.RuneCountInString(name) > 200 {
		fail(tx.T("th.admin.bad_name"))
		return
	}
	added, err := a.Store.CreateTherapist(r.Context(), email, name, admin)
	if errors.Is(err, store.ErrConflict) {
		fail(tx.T("th.admin.taken"))
		return
	}
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	link, err := a.setupLink(r, added)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	a.Log.Info("therapist added", "therapist_id", added.ID, "by", t.ID)
	a.renderAdmin(w, r, t, http.StatusOK, func(v *adminView) {
		v.Link, v.LinkNote = link, tx.T("th.admin.added", "text", added.Email, "n", v.Hours)
	})
}

// setupLink makes a one-time setup link for the therapist.
func (a *auth) setupLink(r *http.Request, t store.Therapist) (string, error) {
	tok, err := store.NewToken()
	if err != nil {
		return "", err
	}
	if err := a.Store.CreateSetupToken(r.Context(), t.ID, store.HashToken(tok), a.Now().Add(setupLinkTTL)); err != nil {
		return "", err
	}
	return a.url("/setup/" + tok), nil
}

// adminTarget is the therapist an admin action names in the path.
func (a *auth) adminTarget(w http.ResponseWriter, r *http.Request, t store.Therapist) (store.Therapist, bool) {
	if !a.admin(w, r, t) {
		return store.Therapist{}, false
	}
	id, ok := pathID(r)
	if !ok {
		a.notFoundPage(w, r)
		return store.Therapist{}, false
	}
	x, err := a.Store.Therapist(r.Context(), id)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return x, false
	}
	return x, true
}

func (a *auth) disableTherapist(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.setDisabled(w, r, t, true)
}

func (a *auth) enableTherapist(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	a.setDisabled(w, r, t, false)
}

func (a *auth) setDisabled(w http.ResponseWriter, r *http.Request, t store.Therapist, disabled bool) {
	x, ok := a.adminTarget(w, r, t)
	if !ok {
		return
	}
	tx := therapistTr()
	if x.ID == t.ID {
		a.renderAdmin(w, r, t, http.StatusUnprocessableEntity, func(v *adminView) { v.Error = tx.T("th.admin.self") })
		return
	}
	if err := a.Store.SetTherapistDisabled(r.Context(), x.ID, disabled); err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	key := "th.admin.done.enabled"
	if disabled {
		key = "th.admin.done.disabled"
	}
	a.Log.Info("therapist "+strings.TrimPrefix(key, "th.admin.done."), "therapist_id", x.ID, "by", t.ID)
	a.renderAdmin(w, r, t, http.StatusOK, func(v *adminView) { v.Notice = tx.T(key, "text", x.Email) })
}

// resetLink sends a therapist a new setup link: one whose link expired, or
// who forgot their password.
func (a *auth) resetLink(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	x, ok := a.adminTarget(w, r, t)
	if !ok {
		return
	}
	link, err := a.setupLink(r, x)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	a.Log.Info("setup link sent", "therapist_id", x.ID, "by", t.ID)
	tx := therapistTr()
	a.renderAdmin(w, r, t, http.StatusOK, func(v *adminView) {
		v.Link, v.LinkNote = link, tx.T("th.admin.reset_link", "text", x.Email, "n", v.Hours)
	})
}

// movePatients gives every patient of one therapist to another (one who
// leaves, or is disabled).
func (a *auth) movePatients(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	from, ok := a.adminTarget(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	toID, err := strconv.ParseInt(r.PostForm.Get("to"), 10, 64)
	if err != nil {
		a.notFoundPage(w, r)
		return
	}
	to, err := a.Store.Therapist(r.Context(), toID)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	n, err := a.Store.MovePatients(r.Context(), from.ID, to.ID)
	if err != nil {
		a.notFoundOrPage(w, r, err)
		return
	}
	a.Log.Info("patients moved", "from", from.ID, "to", to.ID, "patients", n, "by", t.ID)
	tx := therapistTr()
	a.renderAdmin(w, r, t, http.StatusOK, func(v *adminView) { v.Notice = tx.T("th.admin.done.moved", "n", n, "text", to.Email) })
}
