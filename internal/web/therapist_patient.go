package web

// The therapist's patient page: the red-flag answers first when there are
// any, then a section per program (collapsible, its weeks past the current
// ones and its forms behind disclosures), then the forms that assign,
// set reminders, rotate links, export and erase. A message about an action
// is shown in the section where the action was (see backTo). The page reads
// stored plans; it never runs the engine.

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/programs"
)

type option struct {
	Value, Label string
	Selected     bool
}

type eventView struct {
	Date, Reason string
}

type activityWeekView struct {
	Name, Dose, Reason string
	Sessions           string // "3 of 5 sessions done", worded for the week's place in time
}

type weekView struct {
	tr
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
	ID                  int64
	Program, Start      string
	Description         string
	Active, Paused      bool
	Flare, RedFlag      bool
	Open                bool   // the section starts open
	Headline            string // the state in a sentence, for the section's summary
	PauseLine           string // why it is paused
	Activities          []option
	Loads               []loadChartView
	SignalsID           string
	SignalsSVG          template.HTML
	Signals             []signalRow
	Earlier             []weekView // weeks before the last two up to the current one
	Recent              []weekView // the week before the current one, and the current one
	Coming              []weekView // projected weeks
	Today               []whyLine  // what the patient's page says of today
	Schedule            scheduleForm
	Removable, Removed  bool
	EndConfirm, RmLabel string
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
	Headline    string // more than the status: why a red-flag pause, in a sentence
	Notice      string
	Error       string
	Where       string // the section the notice or error belongs to; "" is the top
	Today       string
	Zone        string
	RedFlags    redFlagsView
	Assignments []assignmentView
	Ended       []assignmentView
	Library     []option
	Assign      *assignFormView
	Channels    channelsFormView
	Kinds       []option
}

// Flash reports whether the notice or error belongs in section where.
func (v patientView) Flash(where string) bool {
	return v.Where == where && (v.Notice != "" || v.Error != "")
}

// whereOK is a section id a redirect may name.
var whereOK = regexp.MustCompile(`^(assignment-[0-9]+|red-flags|assign|channels|links|data)$`)

func assignmentWhere(id int64) string { return fmt.Sprintf("assignment-%d", id) }

func (a *auth) patientPage(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	q := r.URL.Query()
	var in *assignInput
	if prog, ok := a.Library.Get(q.Get("program")); ok {
		in = &assignInput{Program: prog}
	}
	v, err := a.patientView(r, t, p, in)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	if key := q.Get("done"); key != "" && v.c.Has("th.notice."+key) {
		v.Notice = v.T("th.notice." + key)
		if where := q.Get("at"); whereOK.MatchString(where) {
			v.Where = where
		}
		v.openAt()
	}
	if in != nil && v.Where == "" {
		v.Where = "assign"
	}
	a.render(w, r, http.StatusOK, "therapist_patient.html", v)
}

// openAt opens the program section the message belongs to; a message
// about a program the page does not show (it has ended) goes to the top.
func (v *patientView) openAt() {
	if !strings.HasPrefix(v.Where, "assignment-") {
		return
	}
	for i := range v.Assignments {
		if assignmentWhere(v.Assignments[i].ID) == v.Where {
			v.Assignments[i].Open = true
			return
		}
	}
	v.Where = ""
}

// renderPatientProblem re-renders the patient page with what to fix, in
// section where; in is the assign form as sent, when it was that form.
func (a *auth) renderPatientProblem(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, where string, in *assignInput, problem string) {
	a.renderPatient(w, r, t, p, http.StatusUnprocessableEntity, where, in, problem)
}

// renderPatient renders the patient page with the assign form as sent (in),
// and a problem to fix if any, in section where.
func (a *auth) renderPatient(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, status int, where string, in *assignInput, problem string) {
	v, err := a.patientView(r, t, p, in)
	if err != nil {
		a.pageError(w, r, err)
		return
	}
	v.Error, v.Where = problem, where
	v.openAt()
	a.render(w, r, status, "therapist_patient.html", v)
}

// patientView builds the patient page; in opens the assign form for a
// library program, filled from what was sent when it is a re-render.
func (a *auth) patientView(r *http.Request, t store.Therapist, p store.Patient, in *assignInput) (patientView, error) {
	ctx := r.Context()
	tx := therapistTr()
	v := patientView{tr: tx, Therapist: t, Patient: p, Links: a.Clinic.Links(p), Today: a.today(p).String(), Zone: p.Timezone}
	v.Webcal = template.URL(v.Links.WebcalURL)
	as, plans, err := a.patientPlans(ctx, p)
	if err != nil {
		return v, err
	}
	if v.Status, err = a.statusOf(ctx, t, p); err != nil {
		return v, err
	}
	loc, err := a.Clinic.Zone(p.Timezone)
	if err != nil {
		loc = time.UTC
	}
	review, err := a.Clinic.RedFlags(ctx, p)
	if err != nil {
		return v, err
	}
	if v.RedFlags, err = a.redFlagsView(ctx, tx, p.ID, review, loc); err != nil {
		return v, err
	}
	today := a.today(p)
	coming, err := a.Store.Sessions(ctx, p.ID, today, today.AddDays(7))
	if err != nil {
		return v, err
	}
	for _, ap := range plans {
		av := a.assignmentView(tx, ap, today)
		av.Today = whyToday(ap.reasons, ap.a, today, coming)
		av.Open = len(plans) == 1
		if av.RedFlag {
			av.PauseLine = redFlagPauseLine(tx, review, ap.plan, loc)
		}
		av.Headline = programHeadline(tx, av)
		v.Assignments = append(v.Assignments, av)
	}
	if v.Status == statusRedFlag && len(plans) > 0 {
		v.Headline = v.Assignments[0].PauseLine
		for _, av := range v.Assignments {
			if av.RedFlag {
				v.Headline = av.PauseLine
				break
			}
		}
	}
	for _, x := range as {
		if x.Status == clinic.StatusEnded {
			v.Ended = append(v.Ended, assignmentView{ID: x.ID, Program: x.Program.NameIn(tx.lang()), Start: x.Start.String()})
		}
	}
	for _, prog := range a.Library.All() {
		v.Library = append(v.Library, option{prog.ID, prog.NameIn(tx.lang()), in != nil && prog.ID == in.Program.ID})
	}
	if in != nil {
		if v.Assign, err = a.assignFormView(ctx, tx, p, in, fmt.Sprintf("/patients/%d/assignments", p.ID)); err != nil {
			return v, err
		}
	}
	for _, k := range []programs.OverrideKind{programs.DoseOverride, programs.ThresholdOverride, programs.GoalOverride} {
		v.Kinds = append(v.Kinds, option{Value: string(k), Label: tx.T("th.override.kind." + string(k))})
	}
	v.Channels, err = a.channelsFormView(ctx, p)
	return v, err
}

// programHeadline is a program section's summary line: its state, or what
// the patient does today.
func programHeadline(tx tr, av assignmentView) string {
	switch {
	case av.RedFlag:
		return tx.T("th.status.red_flag")
	case av.Paused:
		return tx.T("th.status.paused")
	case av.Flare:
		return tx.T("th.status.flare")
	}
	var parts []string
	for _, w := range av.Today {
		parts = append(parts, w.Name+" "+w.Amount)
	}
	if len(parts) == 0 {
		return ""
	}
	return tx.T("th.plan.today_short", "text", strings.Join(parts, ", "))
}

// redFlagPauseLine says why a plan is paused by a red flag: the answers of
// the screen that paused it, their urgency and when.
func redFlagPauseLine(tx tr, review clinic.RedFlagReview, plan *programs.Plan, loc *time.Location) string {
	for _, s := range review.Screens {
		if !s.Pausing || s.Date != plan.PausedOn || !slices.Equal(answerItems(s), plan.Answers) {
			continue
		}
		var texts []string
		for _, ans := range s.Answers {
			if !ans.Known {
				texts = append(texts, tx.T("redflag.q."+ans.Item))
			}
		}
		return tx.T("th.redflag.paused_line", "tier", tx.T("redflag.urgency_name."+string(s.Urgency)),
			"answers", strings.Join(texts, "; "), "when", clinic.RedFlagWhen(tx.c, s.Date, s.At.In(loc)))
	}
	return tx.T("th.redflag.paused_line_short", "tier", tx.T("redflag.urgency_name."+string(plan.Urgency)), "day", tx.c.Day(plan.PausedOn))
}

func answerItems(s clinic.RedFlagScreen) []string {
	out := make([]string, len(s.Answers))
	for i, a := range s.Answers {
		out[i] = a.Item
	}
	return out
}

func (a *auth) assignmentView(tx tr, ap activePlan, today programs.Date) assignmentView {
	plan, prog, rs := ap.plan, ap.a.Program, ap.reasons
	v := assignmentView{ID: ap.a.ID, Program: prog.NameIn(tx.lang()), Description: prog.DescriptionIn(tx.lang()), Start: ap.a.Start.String(), Active: true,
		Paused: plan.Paused, Flare: plan.InFlare, RedFlag: plan.Pause == programs.PausedByRedFlag}
	names := map[string]string{}
	for _, act := range prog.Activities {
		names[act.ID] = rs.Name(act.ID)
		v.Activities = append(v.Activities, option{Value: act.ID, Label: names[act.ID]})
	}
	// Weeks up to the current one feed the charts; the list shows the last
	// two of them, the earlier ones and the projected ones behind disclosures.
	var shown []programs.Week
	var weeks []weekView
	for _, w := range plan.Weeks {
		if w.Start <= plan.Now {
			shown = append(shown, w)
		}
		current := w.Start <= plan.Now && plan.Now < w.Start.AddDays(7)
		wv := weekView{tr: tx, Week: w.Week, Start: w.Start.String(), Projected: w.Projected, Current: current, Signals: w.Signals}
		for _, aw := range w.Activities {
			dose := tx.c.Amount(aw.Unit, aw.Dose)
			if aw.Sets > 1 {
				dose = tx.T("amount.sets", "sets", aw.Sets, "amount", dose)
			}
			wv.Activities = append(wv.Activities, activityWeekView{names[aw.ID], dose, rs.Week(w.Week, aw.ID),
				sessionsLine(tx, aw, w, current, today)})
		}
		for _, e := range w.Events {
			wv.Events = append(wv.Events, eventView{e.Date.String(), rs.Event(e)})
		}
		weeks = append(weeks, wv)
	}
	cur := -1 // the current week, else the last that is not projected
	for i, wv := range weeks {
		if wv.Current || (!wv.Projected && !slices.ContainsFunc(weeks, func(w weekView) bool { return w.Current })) {
			cur = i
		}
	}
	for i, wv := range weeks {
		switch {
		case i > cur:
			v.Coming = append(v.Coming, wv)
		case i < cur-1:
			v.Earlier = append(v.Earlier, wv)
		default:
			v.Recent = append(v.Recent, wv)
		}
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
		title := tx.T("th.chart.load.title", "activity", names[act.ID])
		desc := tx.T("th.chart.load.desc", "activity", names[act.ID], "text", unit, "n", len(lw))
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
	v.Schedule = scheduleFormOf(tx, ap.a, nil)
	v.EndConfirm = tx.T("th.program.end_confirm", "text", v.Program)
	v.RmLabel = tx.T("th.program.remove_confirm", "text", v.Program)
	return v
}

// sessionsLine words a week's sessions of an activity for where the week
// is in time: done of planned for a past week, done so far and still to
// come for the current one, planned for a projected one (never "0 of 5
// done" for a week that has not happened).
func sessionsLine(tx tr, aw programs.ActivityWeek, w programs.Week, current bool, today programs.Date) string {
	done, planned, coming := 0, 0, 0
	for _, x := range aw.Sessions {
		if x.Status == programs.Cancelled || x.Extra {
			continue
		}
		planned++
		switch {
		case x.Status == programs.Done || x.Status == programs.Partial:
			done++
		case x.Date >= today && x.Status == programs.Planned:
			coming++
		}
	}
	switch {
	case w.Projected && !current:
		return tx.T("th.plan.sessions_planned", "planned", planned)
	case current && planned == coming:
		return tx.T("th.plan.sessions_coming", "n", coming)
	case current:
		return tx.T("th.plan.sessions_current", "done", done, "planned", planned-coming, "n", coming)
	}
	return tx.T("th.plan.sessions", "done", done, "planned", planned)
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

// The red-flag section.

type redFlagsView struct {
	Screens []screenView // the newest few
	Older   []screenView // the rest, behind a disclosure
	Known   []knownView  // items marked known and reviewed now
	Items   []option     // the items that can be marked
	Unacked int
}

type screenView struct {
	tr
	PatientID int64
	ID        int64
	When      string
	Tier      string // the urgency of the pausing answers, worded
	TierKey   string // its urgency, for the style
	Pausing   bool
	Answers   []answerView
	Ack       string // who acknowledged it and when; "" while not
}

type answerView struct {
	Item, Text, Tier, TierKey string
	Known, Worse, MarkedNow   bool
}

type knownView struct {
	Item, Text, Since string
}

// screensShown is how many red-flag screens show before "older answers".
const screensShown = 3

func (a *auth) redFlagsView(ctx context.Context, tx tr, patientID int64, review clinic.RedFlagReview, loc *time.Location) (redFlagsView, error) {
	v := redFlagsView{Unacked: review.Unacknowledged()}
	names := map[int64]string{}
	for i, s := range review.Screens {
		sv := screenView{tr: tx, PatientID: patientID, ID: s.CheckInID, When: clinic.RedFlagWhen(tx.c, s.Date, s.At.In(loc)), Pausing: s.Pausing,
			TierKey: string(s.Urgency)}
		if s.Pausing {
			sv.Tier = tx.T("redflag.urgency_name." + string(s.Urgency))
		}
		for _, ans := range s.Answers {
			sv.Answers = append(sv.Answers, answerView{Item: ans.Item, Text: tx.T("redflag.q." + ans.Item),
				Tier: tx.T("redflag.urgency_name." + string(ans.Urgency)), TierKey: string(ans.Urgency), Known: ans.Known,
				Worse: ans.Worse, MarkedNow: review.IsKnown(ans.Item)})
		}
		if s.Ack != nil {
			name, ok := names[s.Ack.TherapistID]
			if !ok && s.Ack.TherapistID != 0 {
				th, err := a.Store.Therapist(ctx, s.Ack.TherapistID)
				if err != nil {
					return v, err
				}
				name, names[s.Ack.TherapistID] = th.Name, th.Name
			}
			at := s.Ack.AcknowledgedAt.In(loc)
			sv.Ack = tx.T("th.redflag.acknowledged", "text", name, "when", tx.T("alert.red_flag.when",
				"day", tx.c.Day(programs.DateOf(at)), "time", at.Format("15:04")))
		}
		if i < screensShown {
			v.Screens = append(v.Screens, sv)
		} else {
			v.Older = append(v.Older, sv)
		}
	}
	for _, k := range review.Known {
		v.Known = append(v.Known, knownView{Item: k.Item, Text: tx.T("redflag.q." + k.Item), Since: tx.c.Day(k.Since)})
	}
	for _, f := range programs.RedFlags {
		if !review.IsKnown(f.ID) {
			v.Items = append(v.Items, option{Value: f.ID, Label: tx.T("redflag.q." + f.ID)})
		}
	}
	return v, nil
}

// The schedule form of an active program: days and times per activity, or
// the same for every activity.

// scheduleActivity is one activity's days and times on a form.
type scheduleActivity struct {
	ID, Name string
	Days     []option
	Times    string
	PerWeek  int
}

// sameSchedule is the "same days and times for every activity" fields.
type sameSchedule struct {
	On    bool
	Days  []option
	Times string
}

type scheduleForm struct {
	tr
	Prefix     string // of the form's element ids, unique on the page
	Same       sameSchedule
	Activities []scheduleActivity
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// dayOptions are the week's days as checkboxes, those in on ticked.
func dayOptions(tx tr, on func(name string) bool) []option {
	out := make([]option, len(weekdays))
	for i, d := range weekdays {
		name := programs.DayName(d)
		out[i] = option{Value: name, Label: tx.T("th.weekday." + strconv.Itoa(int(d))), Selected: on(name)}
	}
	return out
}

// effectiveSchedule is an activity's schedule in an assignment: the
// therapist's, else the program's.
func effectiveSchedule(act programs.Activity, params store.Params) (days []string, times []string, perWeek int) {
	if so, ok := params.Schedule[act.ID]; ok {
		days = so.Days
		if len(days) == 1 && days[0] == "daily" {
			days = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
		}
		return days, so.Times, so.PerWeek
	}
	for _, d := range act.Schedule.Days {
		days = append(days, programs.DayName(d))
	}
	for _, c := range act.Schedule.Times {
		times = append(times, c.String())
	}
	return days, times, act.Schedule.PerWeek
}

// scheduleFormOf is the days and times of an assignment's activities, or,
// on a re-render, what was sent (form).
func scheduleFormOf(tx tr, a store.Assignment, form url.Values) scheduleForm {
	f := scheduleForm{tr: tx, Prefix: fmt.Sprintf("s%d", a.ID)}
	for i, act := range a.Program.Activities {
		days, times, perWeek := effectiveSchedule(act, a.Params)
		sa := scheduleActivity{ID: act.ID, Name: act.NameIn(tx.lang()), Times: strings.Join(times, ", "), PerWeek: perWeek}
		if form != nil {
			days, sa.Times = form["days."+act.ID], form.Get("times."+act.ID)
		}
		sa.Days = dayOptions(tx, func(n string) bool { return slices.Contains(days, n) })
		f.Activities = append(f.Activities, sa)
		if i == 0 {
			f.Same = sameSchedule{Days: sa.Days, Times: sa.Times, On: len(a.Program.Activities) > 1}
		} else if f.Same.On && (!slices.Equal(sa.Days, f.Same.Days) || sa.Times != f.Same.Times) {
			f.Same.On = false
		}
	}
	if form != nil {
		f.Same = sameSchedule{On: form.Get("same") != "", Times: form.Get("same.times"),
			Days: dayOptions(tx, func(n string) bool { return slices.Contains(form["same.days"], n) })}
	}
	return f
}

// readSchedules reads the days and times a form gives each activity of
// prog: the "same for every activity" fields when ticked, else each
// activity's own.
func readSchedules(prog *programs.Program, f url.Values) map[string]store.ScheduleOverride {
	out := map[string]store.ScheduleOverride{}
	same := f.Get("same") != ""
	for _, act := range prog.Activities {
		days, times := f["days."+act.ID], splitTimes(f.Get("times."+act.ID))
		if same {
			days, times = f["same.days"], splitTimes(f.Get("same.times"))
		}
		so := store.ScheduleOverride{Days: slices.Clone(days), Times: times}
		slices.Sort(so.Days)
		if len(days) == 0 {
			so.PerWeek = act.Schedule.PerWeek
		}
		out[act.ID] = so
	}
	return out
}

func splitTimes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
}

// The days words of a schedule, e.g. "Mon, Wed, Fri at 07:30" or "3 times a
// week at 07:30".
func scheduleWords(tx tr, days []time.Weekday, perWeek int, times []programs.Clock) string {
	var ts []string
	for _, c := range times {
		ts = append(ts, c.String())
	}
	if perWeek > 0 {
		return tx.T("th.schedule.per_week", "n", perWeek, "time", strings.Join(ts, ", "))
	}
	if len(days) == 7 {
		return tx.T("th.schedule.daily", "time", strings.Join(ts, ", "))
	}
	var ds []string
	for _, d := range weekdays {
		if slices.Contains(days, d) {
			ds = append(ds, tx.T("th.weekday_short."+strconv.Itoa(int(d))))
		}
	}
	return tx.T("th.schedule.days", "text", strings.Join(ds, ", "), "time", strings.Join(ts, ", "))
}
