package web

// The patient's check-in page, /c/{token}, made for a person in pain with
// little energy: today first, one "Done all" for the sessions of one time of
// day, a recorded session folded away with an undo, yesterday and the day
// before loggable, pain as eleven buttons that show what was logged, the
// weekly questions and "still in a flare-up?" only when they are due, and the
// way so far with a flare-up drawn as a normal part of it. After a post the
// page comes back to where the patient was (an anchor), with what was saved
// said there. The page's other parts are pages of their own
// (patientsetup.go, patientredflag.go, handout.go); the manifest and the
// service worker let the page install to the home screen and receive Web
// Push. Every form posts without JavaScript; checkin.js only adds Web Push.
//
// Everything shown is read from what the last re-plan stored (the sessions,
// the plan's header and decisions): a page load never runs the engine.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// patientRoutes registers the check-in page and the pages and forms around
// it, its manifest and the service worker.
func (s *Server) patientRoutes(mux *http.ServeMux) {
	pp := s.patientUI
	mux.HandleFunc("GET /c/{token}", pp.page)
	mux.HandleFunc("POST /c/{token}/done", pp.doneAll)
	mux.HandleFunc("POST /c/{token}/undo", pp.undo)
	mux.HandleFunc("GET /c/{token}/weekly", pp.weeklyPage)
	mux.HandleFunc("GET /c/{token}/warning-signs", pp.redFlagPage)
	mux.HandleFunc("GET /c/{token}/reminders", pp.remindersPage)
	mux.HandleFunc("POST /c/{token}/settings", pp.postSettings)
	mux.HandleFunc("POST /c/{token}/ntfy", pp.postNtfy)
	mux.HandleFunc("POST /c/{token}/telegram", pp.postTelegram)
	mux.HandleFunc("GET /c/{token}/calendar", pp.calendarPage)
	mux.HandleFunc("GET /c/{token}/handout", pp.handout)
	mux.HandleFunc("POST /c/{token}/rotate", pp.rotate)
	mux.HandleFunc("GET /c/{token}/manifest.webmanifest", pp.manifest)
	mux.HandleFunc("GET /sw.js", pp.serviceWorker)
}

type patientPages struct {
	*Server
	tmpl *patientTemplates
}

// patientTemplates are the patient's pages (templates/patient_*.html),
// parsed together so that they share their head, foot and parts.
type patientTemplates struct {
	t     *template.Template
	paths map[string]string // static file name → its hashed URL
}

// mustPatientTemplates parses the patient's pages; like mustPages, it
// panics on an error, which is a broken build that every page test catches.
func mustPatientTemplates(p *pages) *patientTemplates {
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			if u, ok := p.paths[name]; ok {
				return u, nil
			}
			return "", fmt.Errorf("no static file %q", name)
		},
	}
	names, err := fs.Glob(templateFiles, "templates/patient_*.html")
	if err != nil || len(names) == 0 {
		panic(fmt.Sprintf("web: patient templates: %v", err))
	}
	t, err := template.New("patient").Funcs(funcs).ParseFS(templateFiles, names...)
	if err != nil {
		panic(fmt.Sprintf("web: patient templates: %v", err))
	}
	return &patientTemplates{t: t, paths: p.paths}
}

// render executes one of the patient's pages.
func (pt *patientTemplates) render(w http.ResponseWriter, status int, name string, v any) error {
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, name, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the client went away
	return nil
}

// show renders a page, or answers 500 when it cannot.
func (pp *patientPages) show(w http.ResponseWriter, r *http.Request, status int, name string, v any) {
	if err := pp.tmpl.render(w, status, name, v); err != nil {
		pp.internal(w, r, err)
	}
}

// pageBase is what every patient page has: its language, its links and the
// clinic's contact.
type pageBase struct {
	cat     *i18n.Catalog
	Lang    string
	Title   string
	Base    string // /c/{token}; empty on pages not reached with the check-in link
	Contact string // the clinic's contact (clinic.contact), if set
	// Notice is what was just saved, shown at NoticeAt: the anchor of the
	// part of the page the patient acted in ("top" for the page's top).
	Notice, NoticeAt string
}

// T is a catalogue message without arguments, for the templates.
func (v *pageBase) T(id string) string { return v.cat.Text(id, nil) }

// Tf is a catalogue message with arguments given as name, value pairs.
func (v *pageBase) Tf(id string, kv ...any) string {
	args := i18n.Args{}
	for i := 0; i+1 < len(kv); i += 2 {
		args[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return v.cat.Text(id, args)
}

// NoticeHere reports whether the notice belongs at anchor.
func (v *pageBase) NoticeHere(anchor string) bool { return v.Notice != "" && v.NoticeAt == anchor }

func (pp *patientPages) base(r *http.Request, cat *i18n.Catalog, titleID string) pageBase {
	b := pageBase{cat: cat, Lang: string(cat.Lang()), Contact: pp.ClinicContact}
	if tok := r.PathValue("token"); tok != "" && strings.HasPrefix(r.URL.Path, "/c/") {
		b.Base = "/c/" + url.PathEscape(tok)
	}
	if titleID != "" {
		b.Title = cat.Text(titleID, nil)
	}
	return b
}

// patientAndCatalog resolves the page's check-in link and the patient's
// catalogue, answering the request itself when it cannot.
func (pp *patientPages) patientAndCatalog(w http.ResponseWriter, r *http.Request) (store.Patient, *i18n.Catalog, bool) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return p, nil, false
	}
	cat, err := pp.patientCatalog(r, p)
	if err != nil {
		pp.internal(w, r, err)
		return p, nil, false
	}
	return p, cat, true
}

// patientCatalog is the catalogue of the patient's language.
func (pp *patientPages) patientCatalog(r *http.Request, p store.Patient) (*i18n.Catalog, error) {
	set, err := pp.Store.NotifySettings(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	return i18n.For(i18n.Parse(set.Language)), nil
}

// checkinView is what the check-in page renders.
type checkinView struct {
	pageBase
	TodayLabel string
	// RedFlag is the guidance of a red-flag pause, at the top of the page.
	RedFlag *redFlagBox
	Paused  bool
	// Today are today's sessions by time of day; Earlier the days before
	// that may still be logged, newest first.
	Today   []slotView
	Earlier []dayView
	NoPlan  bool // no active program yet
	Pain    painView
	// FlareAsk asks "still in a flare-up?" today; InFlare offers "settled",
	// else "I'm in a flare-up" is offered.
	FlareAsk, InFlare bool
	FlareSince        string
	// Settled: the patient said the flare has settled; it ends after today.
	Settled   bool
	WeeklyDue bool
	Progress  progressView
	Why       []whyLine
	Week      []weekSession
}

// slotView is the sessions of one day at one time: one card with one "Done
// all" for what is not logged yet.
type slotView struct {
	*pageBase        // the page's, for its words and links
	Anchor    string // the card's id, which posts come back to
	Time      string
	Label     string // the card's heading: the time, or "Yesterday, 19:00"
	Date      string
	Pending   []int64 // the sessions not logged yet, for "Done all"
	Items     []sessionView
}

// sessionView is one session on the page.
type sessionView struct {
	ID                           int64
	Assignment                   int64
	Activity, Name, Instructions string
	Date, Time, Amount, Unit     string
	// Recorded is what was logged ("done", "partly done: 5 minutes"); empty
	// while it is still to be logged.
	Recorded string
	Status   string
	order    int // its activity's place in its program, which orders a card
}

// dayView is an earlier day whose sessions may still be logged.
type dayView struct {
	Anchor, Label string
	Open          bool // sessions wait to be logged: shown unfolded
	Pending       int
	Slots         []slotView
}

// painView is the daily pain question: eleven buttons, the logged one
// marked.
type painView struct {
	Scale  []int
	Logged int // -1: none logged today
}

// IsLogged reports whether n is the pain logged today.
func (p painView) IsLogged(n int) bool { return p.Logged == n }

// whyLine is an activity's dose today and why.
type whyLine struct{ Activity, Name, Amount, Reason string }

type weekSession struct {
	Day, Time, Name, Amount, Status string
	Tentative                       bool
}

var anchorPattern = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)

// page renders the check-in page.
func (pp *patientPages) page(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	v, err := pp.view(r, p)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	q := r.URL.Query()
	at := q.Get("at")
	if !anchorPattern.MatchString(at) {
		at = "top"
	}
	v.NoticeAt = at
	switch q.Get("saved") {
	case "":
	case "flare":
		v.Notice, v.NoticeAt = v.T("page.saved.flare"), "flare"
	case "settled":
		v.Notice, v.NoticeAt = v.T("page.saved.settled"), "flare"
	case "still_in_flare":
		v.Notice, v.NoticeAt = v.T("page.saved.still"), "flare"
	case "daily":
		v.Notice, v.NoticeAt = v.T("page.pain.saved"), "pain"
	case "rotated":
		v.Notice, v.NoticeAt = v.T("page.rotate.done"), "top"
	case "undo":
		v.Notice = v.T("page.session.undone")
	case "red_flag":
		v.NoticeAt = "top"
		switch {
		case v.RedFlag != nil:
			// the guidance at the top says it all
		case q.Get("known") != "":
			v.Notice = v.T("page.redflag.known_only")
		default:
			v.Notice = v.T("page.redflag.none")
		}
	default:
		v.Notice = v.T("page.saved")
	}
	pp.show(w, r, http.StatusOK, "checkin", v)
}

// planned is what the page reads of the patient's active programs: each
// with its stored plan worded in the patient's language.
type plannedProgram struct {
	a  store.Assignment
	sp store.Plan
	rs *clinic.Reasons
}

// programsOf reads the patient's active assignments and their stored plans.
func (pp *patientPages) programsOf(r *http.Request, p store.Patient, cat *i18n.Catalog) ([]plannedProgram, error) {
	as, err := pp.Store.Assignments(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	var out []plannedProgram
	for _, a := range as {
		sp, err := pp.Store.Plan(r.Context(), a.ID)
		if errors.Is(err, store.ErrNotFound) {
			sp = store.Plan{} // not planned yet (just after an upgrade)
		} else if err != nil {
			return nil, err
		}
		out = append(out, plannedProgram{a: a, sp: sp, rs: clinic.NewReasons(cat, a.Program, sp)})
	}
	return out, nil
}

// lateDays is how many days back a session may still be logged: the most
// any active program allows (progression.md: 2).
func lateDays(progs []plannedProgram) int {
	n := 0
	for _, pr := range progs {
		n = max(n, pr.a.Program.Rules.LateLogDays)
	}
	return n
}

// view gathers the check-in page's data.
func (pp *patientPages) view(r *http.Request, p store.Patient) (*checkinView, error) {
	ctx := r.Context()
	cat, err := pp.patientCatalog(r, p)
	if err != nil {
		return nil, err
	}
	today := pp.today(p)
	v := &checkinView{pageBase: pp.base(r, cat, "page.title"), TodayLabel: cat.Day(today),
		Pain: painView{Scale: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Logged: -1}}
	progs, err := pp.programsOf(r, p, cat)
	if err != nil {
		return nil, err
	}
	v.NoPlan = len(progs) == 0
	late := lateDays(progs)
	first := today
	for _, pr := range progs {
		first = min(first, pr.a.Start)
	}
	from := min(max(first, today.AddDays(-progressWeeks*7)), today.AddDays(-late))
	sessions, err := pp.Store.Sessions(ctx, p.ID, from, today.AddDays(7))
	if err != nil {
		return nil, err
	}
	checkins, err := pp.Store.CheckInsOf(ctx, p.ID)
	if err != nil {
		return nil, err
	}

	var flareOn programs.Date
	for _, pr := range progs {
		h := pr.sp.Header
		v.Paused = v.Paused || h.Pause != ""
		if h.FlareOn != 0 && (flareOn == 0 || h.FlareOn < flareOn) {
			flareOn = h.FlareOn
		}
		v.FlareAsk = v.FlareAsk || (h.FlareOn != 0 && h.FlareAsk == today)
		v.Why = append(v.Why, whyToday(pr.rs, pr.a, today, sessions)...)
	}
	if flareOn != 0 {
		v.InFlare, v.FlareSince = true, cat.Day(flareOn)
	}
	if box, err := pp.redFlagBox(r, p, cat, progs); err != nil {
		return nil, err
	} else if box != nil {
		v.RedFlag = box
	}

	byID := map[int64]plannedProgram{}
	for _, pr := range progs {
		byID[pr.a.ID] = pr
	}
	var todays []sessionView
	earlier := map[programs.Date][]sessionView{}
	for _, x := range sessions {
		pr, active := byID[x.AssignmentID]
		if x.Status == programs.Cancelled || !active {
			continue
		}
		sv := sessionOf(cat, pr.a, x)
		switch {
		case x.Date == today:
			todays = append(todays, sv)
		case x.Date < today && x.Date >= today.AddDays(-pr.a.Program.Rules.LateLogDays):
			earlier[x.Date] = append(earlier[x.Date], sv)
		case x.Date > today:
			ws := weekSession{Day: cat.Day(x.Date), Time: x.Time.String(), Name: sv.Name, Amount: sv.Amount, Tentative: x.Projected}
			if x.Status != programs.Planned {
				ws.Status = cat.Text("page.status."+string(x.Status), nil)
			}
			v.Week = append(v.Week, ws)
		}
	}
	v.Today = slotsOf(&v.pageBase, todays)
	for d := today.AddDays(-1); d >= today.AddDays(-late); d-- {
		items := earlier[d]
		if len(items) == 0 {
			continue
		}
		label := cat.Day(d)
		if d == today.AddDays(-1) {
			label = cat.Text("page.earlier.yesterday", i18n.Args{"day": cat.Day(d)})
		}
		day := dayView{Anchor: "day-" + d.String(), Label: label, Slots: slotsOf(&v.pageBase, items)}
		for _, it := range items {
			if it.Recorded == "" {
				day.Pending++
			}
		}
		v.Earlier = append(v.Earlier, day)
	}

	for _, c := range checkins {
		switch ci := c.CheckIn; {
		case ci.Kind == programs.DailyCheckIn && ci.Date == today && ci.Pain != nil:
			v.Pain.Logged = *ci.Pain // the last one logged counts
		case flareOn != 0 && ci.Date >= flareOn && (ci.Kind == programs.SettledCheckIn ||
			(ci.Kind == programs.StillInFlareCheckIn && ci.Yes != nil && !*ci.Yes)):
			v.Settled, v.FlareAsk = true, false
		}
	}
	v.WeeklyDue = weeklyDue(progs, checkins, today)
	v.Progress = progressOf(cat, progs, sessions, today)
	return v, nil
}

// sessionOf is a stored session as the page shows it.
func sessionOf(cat *i18n.Catalog, a store.Assignment, x store.Session) sessionView {
	name, instr, order := x.Activity, "", len(a.Program.Activities)
	lang := string(cat.Lang())
	for i, act := range a.Program.Activities {
		if act.ID == x.Activity {
			name, instr, order = act.NameIn(lang), act.InstructionsIn(lang), i
		}
	}
	sv := sessionView{ID: x.ID, Assignment: x.AssignmentID, Activity: x.Activity, Name: name, Instructions: instr,
		Date: x.Date.String(), Time: x.Time.String(), Amount: amountIn(cat, x.Unit, x.Dose, x.Sets),
		Unit: cat.Text("page.unit."+string(x.Unit), nil), Status: string(x.Status), order: order}
	switch x.Status {
	case programs.Done, programs.Skipped:
		sv.Recorded = cat.Text("page.status."+string(x.Status), nil)
	case programs.Partial:
		sv.Recorded = cat.Text("page.session.partial_amount", i18n.Args{"amount": cat.Amount(x.Unit, x.Actual)})
	}
	return sv
}

// slotsOf groups a day's sessions by time, in time order.
func slotsOf(page *pageBase, items []sessionView) []slotView {
	var out []slotView
	for _, it := range items {
		i := slices.IndexFunc(out, func(s slotView) bool { return s.Time == it.Time })
		if i < 0 {
			out = append(out, slotView{pageBase: page, Anchor: "at-" + it.Date + "-" + strings.ReplaceAll(it.Time, ":", ""), Time: it.Time,
				Label: it.Time, Date: it.Date})
			i = len(out) - 1
		}
		out[i].Items = append(out[i].Items, it)
		if it.Recorded == "" {
			out[i].Pending = append(out[i].Pending, it.ID)
		}
	}
	slices.SortStableFunc(out, func(a, b slotView) int { return cmp.Compare(a.Time, b.Time) })
	for _, s := range out {
		slices.SortStableFunc(s.Items, func(a, b sessionView) int {
			return cmp.Or(cmp.Compare(a.Assignment, b.Assignment), cmp.Compare(a.order, b.order))
		})
	}
	return out
}

// weeklyDue reports whether the weekly questions are due: the oldest
// active program has run for six days or more, and none were answered in
// the last six days.
func weeklyDue(progs []plannedProgram, checkins []store.CheckIn, today programs.Date) bool {
	if len(progs) == 0 {
		return false
	}
	start := progs[0].a.Start
	for _, pr := range progs {
		start = min(start, pr.a.Start)
		if pr.sp.Header.Pause != "" {
			return false
		}
	}
	if today < start.AddDays(6) {
		return false
	}
	for _, c := range checkins {
		if c.CheckIn.Kind == programs.WeeklyCheckIn && c.CheckIn.Date > today.AddDays(-6) {
			return false
		}
	}
	return true
}

// whyToday is each activity's dose and its reason in the week holding
// today: the dose and reason of its next session from today on (a flare
// declared today gives the reason "the cut starts tomorrow", and from
// tomorrow the step-back's), else the week's decision; while paused, why.
func whyToday(rs *clinic.Reasons, a store.Assignment, today programs.Date, sessions []store.Session) []whyLine {
	if today < a.Start {
		return nil
	}
	week := int(today-a.Start)/7 + 1
	var out []whyLine
	for _, act := range a.Program.Activities {
		aw, ok := rs.ActivityWeek(week, act.ID)
		if !ok {
			continue
		}
		dose, sets, unit, reason := aw.Dose, aw.Sets, aw.Unit, rs.Week(week, act.ID)
		for _, x := range sessions {
			if x.AssignmentID == a.ID && x.Activity == act.ID && x.Week == week && x.Date >= today && x.Status != programs.Cancelled {
				dose, reason = x.Dose, rs.Session(x)
				break
			}
		}
		if rs.Header.Pause != "" {
			reason = rs.Cat.Text("page.why.paused", nil)
		}
		out = append(out, whyLine{Activity: act.ID, Name: rs.Name(act.ID), Amount: amountIn(rs.Cat, unit, dose, sets), Reason: reason})
	}
	return out
}

// amountIn renders a dose with its sets, e.g. "14 minutes", "2 × 8 reps".
func amountIn(cat *i18n.Catalog, u programs.Unit, dose, sets int) string {
	a := cat.Amount(u, dose)
	if sets > 1 {
		a = cat.Text("amount.sets", i18n.Args{"sets": sets, "amount": a})
	}
	return a
}

// patientBack is where a form's post returns to: the check-in page at the
// anchor the form named ("back"), with what was saved.
func patientBack(r *http.Request, saved string) string {
	back := "/c/" + url.PathEscape(r.PathValue("token")) + "?saved=" + url.QueryEscape(saved)
	if a := r.PostFormValue("back"); anchorPattern.MatchString(a) {
		back += "&at=" + a + "#" + a
	}
	return back
}

// doneAll records the sessions a "Done all" button names (session=ID…)
// done, in one check-in and one re-plan, and comes back to their card.
func (pp *patientPages) doneAll(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	var ins []clinic.CheckIn
	for _, raw := range r.PostForm["session"] {
		x, ok := pp.sessionOfPatient(w, r, p, raw)
		if !ok {
			return
		}
		t := x.Time
		ins = append(ins, clinic.CheckIn{CheckIn: programs.CheckIn{Date: x.Date, Kind: programs.SessionCheckIn,
			Activity: x.Activity, Time: &t, Status: programs.Done}, Assignment: x.AssignmentID})
	}
	if len(ins) == 0 {
		pp.formError(w, r, p, &clinic.Problem{Msg: "no session was named"})
		return
	}
	recs, err := pp.Clinic.CheckIns(r.Context(), p, ins)
	if err != nil {
		pp.formError(w, r, p, err)
		return
	}
	if pp.Metrics != nil {
		pp.Metrics.web.CheckIns.WithLabelValues(string(programs.SessionCheckIn)).Add(float64(len(recs)))
	}
	http.Redirect(w, r, patientBack(r, "session"), http.StatusSeeOther)
}

// undo takes back what was logged for one session (session=ID).
func (pp *patientPages) undo(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	if !parseForm(w, r) {
		return
	}
	x, ok := pp.sessionOfPatient(w, r, p, r.PostFormValue("session"))
	if !ok {
		return
	}
	t := x.Time
	if _, err := pp.Clinic.UndoSession(r.Context(), p, x.AssignmentID, x.Activity, x.Date, &t); err != nil {
		pp.formError(w, r, p, err)
		return
	}
	http.Redirect(w, r, patientBack(r, "undo"), http.StatusSeeOther)
}

// sessionOfPatient reads the session a form names by its id; another
// patient's, or none, is answered as a form error.
func (pp *patientPages) sessionOfPatient(w http.ResponseWriter, r *http.Request, p store.Patient, raw string) (store.Session, bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		pp.formError(w, r, p, &clinic.Problem{Msg: fmt.Sprintf("session must be a session's number, not %q", raw)})
		return store.Session{}, false
	}
	x, err := pp.Store.Session(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && x.PatientID != p.ID) {
		pp.formError(w, r, p, &clinic.Conflict{Msg: "this session is no longer in your plan"})
		return store.Session{}, false
	}
	if err != nil {
		pp.internal(w, r, err)
		return store.Session{}, false
	}
	return x, true
}

// errorView is a page that says a form could not be saved, in the
// patient's language, with the way back.
type errorView struct {
	pageBase
	Text, Detail, Back string
}

// formError answers a form post that failed with a page in the patient's
// language: what went wrong in their words, the technical detail (in
// English) small below, and the way back to where they were.
func (pp *patientPages) formError(w http.ResponseWriter, r *http.Request, p store.Patient, err error) {
	var (
		prob *clinic.Problem
		conf *clinic.Conflict
		lim  *clinic.Limited
	)
	status, id, detail := http.StatusBadRequest, "page.error.problem", ""
	switch {
	case errors.As(err, &prob):
		detail = prob.Msg
	case errors.As(err, &conf):
		status, id, detail = http.StatusConflict, "page.error.conflict", conf.Msg
	case errors.As(err, &lim):
		status, id = http.StatusTooManyRequests, "page.error.limited"
	case errors.Is(err, store.ErrNotFound):
		status, id = http.StatusNotFound, "page.error.conflict"
	default:
		pp.internal(w, r, err)
		return
	}
	cat, cerr := pp.patientCatalog(r, p)
	if cerr != nil {
		pp.internal(w, r, cerr)
		return
	}
	v := &errorView{pageBase: pp.base(r, cat, "page.error.title"), Text: cat.Text(id, nil), Detail: detail}
	v.Back = v.Base
	if a := r.PostFormValue("back"); anchorPattern.MatchString(a) {
		v.Back += "#" + a
	}
	pp.show(w, r, status, "error", v)
}

// invalidLink answers a check-in link that is not (or no longer) valid with
// a page in the browser's language, 404.
func (s *Server) invalidLink(w http.ResponseWriter, r *http.Request) {
	s.linkMessage(w, r, http.StatusNotFound, "link.invalid.title", "link.invalid.text")
}

// tooBusy answers a person's request over a limit with a page in the
// browser's language, 429.
func (s *Server) tooBusy(w http.ResponseWriter, r *http.Request) {
	s.linkMessage(w, r, http.StatusTooManyRequests, "page.busy.title", "page.busy.text")
}

// linkMessage answers with a page in the browser's language (the link
// names no patient whose language is known).
func (s *Server) linkMessage(w http.ResponseWriter, r *http.Request, status int, titleID, textID string) {
	cat := i18n.For(i18n.English)
	if l, ok := i18n.Lookup(r.Header.Get("Accept-Language")); ok {
		cat = i18n.For(l)
	}
	v := &errorView{pageBase: pageBase{cat: cat, Lang: string(cat.Lang()), Title: cat.Text(titleID, nil),
		Contact: s.ClinicContact}, Text: cat.Text(textID, nil)}
	if err := s.patientUI.tmpl.render(w, status, "error", v); err != nil {
		s.internal(w, r, err)
	}
}

// wantsHTML reports whether a request to a patient's endpoint comes from a
// page (a form, or a browser asking for a page) rather than a program.
func wantsHTML(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return true
	}
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// rotate gives the patient a new check-in link (and calendar link), after
// they shared theirs by mistake, and takes them to the new page, which says
// so once. The old links answer 404 from now on.
func (pp *patientPages) rotate(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	links, err := pp.Clinic.RotateCheckinLink(r.Context(), p.TherapistID, p.ID)
	if err != nil {
		pp.formError(w, r, p, err)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, links.CheckinURL+"?saved=rotated", http.StatusSeeOther)
}

// manifest is the web app manifest of a patient's page: it starts at their
// own /c/{token}, so the home-screen app opens their plan.
func (pp *patientPages) manifest(w http.ResponseWriter, r *http.Request) {
	_, cat, ok := pp.patientAndCatalog(w, r)
	if !ok {
		return
	}
	type icon struct {
		Src     string `json:"src"`
		Sizes   string `json:"sizes"`
		Type    string `json:"type"`
		Purpose string `json:"purpose,omitempty"`
	}
	m := struct {
		Name            string `json:"name"`
		ShortName       string `json:"short_name"`
		Lang            string `json:"lang"`
		StartURL        string `json:"start_url"`
		Scope           string `json:"scope"`
		Display         string `json:"display"`
		BackgroundColor string `json:"background_color"`
		ThemeColor      string `json:"theme_color"`
		Icons           []icon `json:"icons"`
	}{
		Name: cat.Text("page.manifest.name", nil), ShortName: "pacer", Lang: string(cat.Lang()),
		StartURL: "/c/" + r.PathValue("token"), Scope: "/c/", Display: "standalone",
		BackgroundColor: "#f6f7f9", ThemeColor: "#1d4ed8",
		Icons: []icon{
			{pp.tmpl.paths["icon-192.png"], "192x192", "image/png", "any"},
			{pp.tmpl.paths["icon-512.png"], "512x512", "image/png", "any maskable"},
		},
	}
	body, err := json.Marshal(m)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/manifest+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body) //nolint:errcheck // the client went away
}

// serviceWorker serves sw.js at a stable root path, so that it may control
// /c/ and /s/ (a worker's scope cannot reach above its own path), uncached
// so that a new release's worker is picked up.
func (pp *patientPages) serviceWorker(w http.ResponseWriter, r *http.Request) {
	body, err := staticFiles.ReadFile("static/sw.js")
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Service-Worker-Allowed", "/c/")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
