package web

// The therapist's control of programs: assign one from the library or from
// the builder (with a plan preview first, the same days and times for every
// activity if wanted, and an explicit confirmation before a program the
// patient has already), change an active program's days and times, end it
// (its history stays) or remove it (only before any check-in). Every write
// goes through the clinic.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/programs"
)

// assignInput is an assign form as sent, or as first shown (Form nil).
type assignInput struct {
	Program *programs.Program
	Form    url.Values
	// Hidden are fields the form carries along (the builder's composition).
	Hidden  []hiddenField
	Preview *previewView
	// Duplicate is set when assigning was refused as a duplicate.
	Duplicate bool
}

type hiddenField struct{ Name, Value string }

// assignActivity is one activity's fields on the assign form.
type assignActivity struct {
	ID, Name, Unit            string
	Baseline, Threshold, Goal string
	Days                      []option
	Times                     string
	PerWeek                   int
}

type assignFormView struct {
	Action      string // where it posts
	Program     string
	Name        string
	Description string
	Hidden      []hiddenField
	Start       string
	// Duplicate warns that the patient has the program already; Again is
	// the confirmation to assign a second copy.
	Duplicate  string
	Again      bool
	Same       sameSchedule
	Activities []assignActivity
	Preview    *previewView
}

// assignFormView is the assign form for in.Program, with its defaults or,
// on a re-render, what was sent.
func (a *auth) assignFormView(ctx context.Context, tx tr, p store.Patient, in *assignInput, action string) (*assignFormView, error) {
	prog, form := in.Program, in.Form
	today := a.today(p).String()
	f := &assignFormView{Action: action, Program: prog.ID, Name: prog.NameIn(tx.lang()), Description: prog.DescriptionIn(tx.lang()),
		Hidden: in.Hidden, Start: today, Preview: in.Preview}
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
	f.Again = form != nil && form.Get("again") != ""
	old, dup, err := a.Clinic.Assigned(ctx, p, prog)
	if err != nil {
		return nil, err
	}
	if dup {
		f.Duplicate = tx.T("th.assign.duplicate", "text", prog.NameIn(tx.lang()), "day", tx.c.Day(old.Start))
	}
	for i, act := range prog.Activities {
		var times []string
		for _, c := range act.Schedule.Times {
			times = append(times, c.String())
		}
		aa := assignActivity{ID: act.ID, Name: act.NameIn(tx.lang()), Unit: tx.T("th.chart.unit." + string(act.Unit)), PerWeek: act.Schedule.PerWeek,
			Baseline: get("baseline."+act.ID, num(act.Baseline)), Threshold: get("threshold."+act.ID, num(act.Threshold)),
			Goal: get("goal."+act.ID, num(act.Goal)), Times: get("times."+act.ID, strings.Join(times, ", "))}
		aa.Days = dayOptions(tx, func(name string) bool {
			if form != nil {
				return slices.Contains(form["days."+act.ID], name)
			}
			return slices.ContainsFunc(act.Schedule.Days, func(d time.Weekday) bool { return programs.DayName(d) == name })
		})
		f.Activities = append(f.Activities, aa)
		if i == 0 {
			f.Same = sameSchedule{Days: aa.Days, Times: aa.Times}
		}
	}
	if form != nil {
		f.Same = sameSchedule{On: form.Get("same") != "", Times: form.Get("same.times"),
			Days: dayOptions(tx, func(n string) bool { return slices.Contains(form["same.days"], n) })}
	}
	return f, nil
}

// assignParams reads the assign form into the API's parameters: every
// number given, and a schedule only where the days or times differ from the
// program's.
func assignParams(prog *programs.Program, f url.Values) (store.Params, error) {
	params := store.Params{Baseline: map[string]int{}, Threshold: map[string]int{}, Goal: map[string]int{},
		Schedule: map[string]store.ScheduleOverride{}}
	scheds := readSchedules(prog, f)
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
		so := scheds[act.ID]
		defDays, defTimes, _ := effectiveSchedule(act, store.Params{})
		slices.Sort(defDays)
		if slices.Equal(so.Days, defDays) && slices.Equal(so.Times, defTimes) {
			continue
		}
		params.Schedule[act.ID] = so
	}
	return params, nil
}

// assignRender shows the assign form again: with a preview, or with what to
// fix.
type assignRender func(status int, in *assignInput, problem string)

// assignOrPreview previews or assigns prog as the form f says (action
// "preview" or "assign"): a preview re-renders the form with the plan, an
// assignment goes back to the patient page at the new program.
func (a *auth) assignOrPreview(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient,
	in *assignInput, render assignRender) {
	f, prog := in.Form, in.Program
	params, err := assignParams(prog, f)
	var start programs.Date
	if text := strings.TrimSpace(f.Get("start")); err == nil && text != "" {
		if start, err = parseDate(text); err != nil {
			err = clinic.Problemf("start: %v", err)
		}
	}
	as := clinic.Assignment{Program: prog, Start: start, Params: params, Again: f.Get("again") != ""}
	if err == nil && f.Get("action") == "preview" {
		var plan *programs.Plan
		if plan, err = a.Clinic.Preview(r.Context(), t.ID, p.ID, as); err == nil {
			sched, _ := clinic.Schedules(params.Schedule) // checked by Preview
			in.Preview = previewOf(therapistTr(), prog, sched, plan)
			render(http.StatusOK, in, "")
			return
		}
	}
	var asg store.Assignment
	if err == nil {
		asg, err = a.Clinic.Assign(r.Context(), t.ID, p.ID, as)
	}
	var (
		bi  *clinic.Problem
		dup *clinic.Duplicate
	)
	switch {
	case errors.As(err, &dup):
		in.Duplicate = true
		render(http.StatusConflict, in, therapistTr().T("th.assign.duplicate_refused", "text", prog.NameIn(therapistTr().lang())))
		return
	case errors.As(err, &bi):
		render(http.StatusUnprocessableEntity, in, bi.Msg)
		return
	case err != nil:
		a.pageError(w, r, err)
		return
	}
	backTo(w, r, p.ID, "assigned", assignmentWhere(asg.ID))
}

// assignForm assigns a library program from the patient page's form.
func (a *auth) assignForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	prog, ok := a.Library.Get(r.PostForm.Get("program"))
	if !ok {
		a.renderPatientProblem(w, r, t, p, "assign", nil, therapistTr().T("th.assign.no_program"))
		return
	}
	a.assignOrPreview(w, r, t, p, &assignInput{Program: prog, Form: r.PostForm}, func(status int, in *assignInput, problem string) {
		a.renderPatient(w, r, t, p, status, "assign", in, problem)
	})
}

// The plan preview.

type previewView struct {
	Lines   []string // per activity: how it starts and where it goes
	Columns []string // the activities' names
	Rows    []previewRow
}

type previewRow struct {
	Week  int
	Start string
	Doses []string // per activity: dose and sessions that week
}

// previewOf words a plan computed for the preview: each activity's start,
// its days and times (the therapist's schedule where given, else the
// program's), and its path to its goal over the weeks shown; and a row per
// week.
func previewOf(tx tr, prog *programs.Program, sched map[string]programs.Schedule, plan *programs.Plan) *previewView {
	v := &previewView{}
	for _, act := range prog.Activities {
		v.Columns = append(v.Columns, act.NameIn(tx.lang()))
	}
	for _, w := range plan.Weeks {
		t := w.Start.In(time.UTC, 12*60)
		row := previewRow{Week: w.Week, Start: tx.T("th.date.short", "day", t.Day(), "month", tx.T("page.month."+strconv.Itoa(int(t.Month()))))}
		for _, aw := range w.Activities {
			n := 0
			for _, x := range aw.Sessions {
				if x.Status != programs.Cancelled && !x.Extra {
					n++
				}
			}
			row.Doses = append(row.Doses, tx.T("th.preview.cell", "amount", shortIn(tx, aw.Unit, aw.Dose, aw.Sets), "n", n))
		}
		v.Rows = append(v.Rows, row)
	}
	for i, act := range prog.Activities {
		var first, last *programs.ActivityWeek
		reached := 0
		for _, w := range plan.Weeks {
			if i >= len(w.Activities) {
				continue
			}
			aw := &w.Activities[i]
			if first == nil {
				first = aw
			}
			last = aw
			if reached == 0 && aw.Goal > 0 && aw.Dose >= aw.Goal {
				reached = w.Week
			}
		}
		if first == nil {
			continue
		}
		s, ok := sched[act.ID]
		if !ok {
			s = act.Schedule
		}
		line := tx.T("th.preview.starts", "activity", act.NameIn(tx.lang()), "amount", amountIn(tx.c, first.Unit, first.Dose, first.Sets),
			"text", scheduleWords(tx, s.Days, s.PerWeek, s.Times))
		switch {
		case reached > 0 && first.Dose >= first.Goal:
			line += " " + tx.T("th.preview.fixed")
		case reached > 0:
			line += " " + tx.T("th.preview.goal_in", "goal", amountIn(tx.c, first.Unit, first.Goal, first.Sets), "week", reached)
		default:
			line += " " + tx.T("th.preview.goal_not", "amount", amountIn(tx.c, last.Unit, last.Dose, last.Sets),
				"week", len(plan.Weeks), "goal", amountIn(tx.c, last.Unit, last.Goal, last.Sets))
		}
		v.Lines = append(v.Lines, line)
	}
	return v
}

// Changing an active program: days and times, end, remove.

// scheduleForm changes an active program's days and times.
func (a *auth) scheduleForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, as, ok := a.ownAssignment(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	err := a.Clinic.EditSchedule(r.Context(), t.ID, as.ID, readSchedules(as.Program, r.PostForm))
	if a.programProblem(w, r, t, p, as, err) {
		return
	}
	backTo(w, r, p.ID, "schedule", assignmentWhere(as.ID))
}

// endForm ends an active program; its history stays.
func (a *auth) endForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, as, ok := a.ownAssignment(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		a.renderPatientProblem(w, r, t, p, assignmentWhere(as.ID), nil, therapistTr().T("th.program.unconfirmed"))
		return
	}
	if a.programProblem(w, r, t, p, as, a.Clinic.EndAssignment(r.Context(), t.ID, as.ID)) {
		return
	}
	backTo(w, r, p.ID, "ended", "")
}

// removeForm removes a program assigned by mistake, before any check-in.
func (a *auth) removeForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, as, ok := a.ownAssignment(w, r, t)
	if !ok || !parseForm(w, r) {
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		a.renderPatientProblem(w, r, t, p, assignmentWhere(as.ID), nil, therapistTr().T("th.program.unconfirmed"))
		return
	}
	if a.programProblem(w, r, t, p, as, a.Clinic.RemoveAssignment(r.Context(), t.ID, as.ID)) {
		return
	}
	backTo(w, r, p.ID, "removed", "")
}

// programProblem shows err in the program's section and reports whether
// there was one.
func (a *auth) programProblem(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, as store.Assignment, err error) bool {
	var (
		bi *clinic.Problem
		c  *clinic.Conflict
	)
	switch {
	case err == nil:
		return false
	case errors.As(err, &bi):
		a.renderPatientProblem(w, r, t, p, assignmentWhere(as.ID), nil, bi.Msg)
	case errors.As(err, &c):
		a.renderPatient(w, r, t, p, http.StatusConflict, assignmentWhere(as.ID), nil, c.Msg)
	default:
		a.notFoundOrPage(w, r, err)
	}
	return true
}

// parseFormUpTo reads a form of at most limit bytes.
func parseFormUpTo(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d KB.", limit>>10))
			return false
		}
		plain(w, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		return false
	}
	return true
}

// shortIn renders a dose short, as a table cell has room for: "8 min",
// "2 × 6 reps".
func shortIn(tx tr, u programs.Unit, dose, sets int) string {
	a := tx.c.Short(u, dose)
	if sets > 1 {
		a = tx.T("amount.sets", "sets", sets, "amount", a)
	}
	return a
}
