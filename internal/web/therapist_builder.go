package web

// The program builder: a page where a therapist composes a program of their
// own from the library's activities and new ones (a name, a unit, a dose,
// instructions) without writing YAML, then sets its doses, days and times,
// previews its plan and assigns it, as with a library program. The programs
// package builds and validates the program (programs.Compose), with the
// limits every program has; the clinic assigns it as an inline program. The
// page keeps everything in its form: a step back, a preview or one more new
// activity posts the whole composition again, and nothing is stored until
// it is assigned.

import (
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

type builderView struct {
	tr
	Therapist     store.Therapist
	Patient       store.Patient
	Assigning     bool // the second step: doses, days and times
	Name          string
	Description   string
	Templates     []builderTemplate
	New           []newActivityView
	Chosen        []string // the second step: the activities' names
	Assign        *assignFormView
	Error         string
	MaxActivities int
}

type builderTemplate struct {
	ID, Name, Description string
	Open                  bool
	Activities            []builderActivity
}

type builderActivity struct {
	Value, ElemID, Name, Summary string
	Checked                      bool
}

type newActivityView struct {
	Index, Number                    int
	Name, Dose, Goal, Instructions   string
	Kinds, Units                     []option
	Blank                            bool
	NameID, DoseID, GoalID, InstrID  string
	KindID, UnitID, LegendID, HintID string
}

// builderInput is the composition as the form sends it.
type builderInput struct {
	Name, Description string
	Lib               []string // "template/activity"
	New               []newActivity
}

type newActivity struct {
	Name, Kind, Unit, Dose, Goal, Instructions string
}

func (n newActivity) blank() bool {
	return strings.TrimSpace(n.Name+n.Dose+n.Goal+n.Instructions) == ""
}

// readBuilder reads the composition from a form.
func readBuilder(f url.Values) builderInput {
	in := builderInput{Name: f.Get("name"), Description: f.Get("description"), Lib: f["lib"]}
	for i := range programs.MaxActivities {
		k := "new." + strconv.Itoa(i) + "."
		n := newActivity{Name: f.Get(k + "name"), Kind: f.Get(k + "kind"), Unit: f.Get(k + "unit"), Dose: f.Get(k + "dose"),
			Goal: f.Get(k + "goal"), Instructions: f.Get(k + "instructions")}
		if !n.blank() {
			in.New = append(in.New, n)
		}
	}
	return in
}

// hidden carries the composition through the second step's form.
func (in builderInput) hidden() []hiddenField {
	out := []hiddenField{{"name", in.Name}, {"description", in.Description}}
	for _, l := range in.Lib {
		out = append(out, hiddenField{"lib", l})
	}
	for i, n := range in.New {
		k := "new." + strconv.Itoa(i) + "."
		out = append(out, hiddenField{k + "name", n.Name}, hiddenField{k + "kind", n.Kind}, hiddenField{k + "unit", n.Unit},
			hiddenField{k + "dose", n.Dose}, hiddenField{k + "goal", n.Goal}, hiddenField{k + "instructions", n.Instructions})
	}
	return out
}

// newDefaultTime is when a new activity is scheduled until the therapist
// says otherwise on the second step: every day at 18:00.
const newDefaultTime = 18 * 60

// compose builds the program (programs.Compose): the library's activities
// as they are, each new one every day at 18:00, fixed at its dose unless it
// has a goal (then it starts at 80 % of the dose and rises towards the goal).
func (a *auth) compose(in builderInput) (*programs.Program, error) {
	var acts []programs.Activity
	for _, l := range in.Lib {
		tmpl, id, _ := strings.Cut(l, "/")
		prog, ok := a.Library.Get(tmpl)
		var act *programs.Activity
		if ok {
			act, ok = prog.Activity(id)
		}
		if !ok {
			return nil, clinic.Problemf("%q is not an activity of the library; choose again", l)
		}
		acts = append(acts, programs.TakeActivity(prog, *act))
	}
	for i, n := range in.New {
		what := strings.TrimSpace(n.Name)
		if what == "" {
			what = "new activity " + strconv.Itoa(i+1)
		}
		dose, err := strconv.Atoi(strings.TrimSpace(n.Dose))
		if err != nil {
			return nil, clinic.Problemf("%s: the dose must be a whole number, not %q", what, n.Dose)
		}
		act := programs.Activity{Name: n.Name, Kind: programs.Kind(n.Kind), Unit: programs.Unit(n.Unit), Baseline: dose,
			Instructions: n.Instructions, Schedule: programs.Schedule{Days: slices.Clone(everyDay), Times: []programs.Clock{newDefaultTime}}}
		if g := strings.TrimSpace(n.Goal); g != "" {
			if act.Goal, err = strconv.Atoi(g); err != nil {
				return nil, clinic.Problemf("%s: the goal must be a whole number, not %q", what, n.Goal)
			}
		} else {
			act.Goal, act.StartPercent = dose, 100
		}
		acts = append(acts, act)
	}
	prog, err := programs.Compose(programs.Composition{Name: in.Name, Description: in.Description, Activities: acts})
	if err != nil {
		return nil, clinic.Problemf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return prog, nil
}

var everyDay = []time.Weekday{0, 1, 2, 3, 4, 5, 6}

func (a *auth) builderPage(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok {
		return
	}
	a.renderBuilder(w, r, t, p, http.StatusOK, builderInput{}, "")
}

func (a *auth) builderForm(w http.ResponseWriter, r *http.Request, t store.Therapist) {
	p, ok := a.ownPatient(w, r, t)
	if !ok || !parseFormUpTo(w, r, maxProgramBody) {
		return
	}
	f := r.PostForm
	in := readBuilder(f)
	action := f.Get("action")
	switch {
	case action == "add":
		in.New = append(in.New, newActivity{})
		a.renderBuilder(w, r, t, p, http.StatusOK, in, "")
		return
	case strings.HasPrefix(action, "remove."):
		if i, err := strconv.Atoi(strings.TrimPrefix(action, "remove.")); err == nil && i >= 0 && i < len(in.New) {
			in.New = slices.Delete(in.New, i, i+1)
		}
		a.renderBuilder(w, r, t, p, http.StatusOK, in, "")
		return
	case action == "back":
		a.renderBuilder(w, r, t, p, http.StatusOK, in, "")
		return
	}
	prog, err := a.compose(in)
	if err != nil {
		a.renderBuilder(w, r, t, p, http.StatusUnprocessableEntity, in, err.Error())
		return
	}
	render := func(status int, ai *assignInput, problem string) {
		a.renderBuilderAssign(w, r, t, p, status, in, ai, problem)
	}
	if action == "continue" {
		render(http.StatusOK, &assignInput{Program: prog, Hidden: in.hidden()}, "")
		return
	}
	a.assignOrPreview(w, r, t, p, &assignInput{Program: prog, Form: f, Hidden: in.hidden()}, render)
}

// renderBuilder shows the first step: the program's name, the library's
// activities to choose from, and new activities (one blank one more).
func (a *auth) renderBuilder(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, status int, in builderInput, problem string) {
	tx := therapistTr()
	v := builderView{tr: tx, Therapist: t, Patient: p, Name: in.Name, Description: in.Description, Error: problem,
		MaxActivities: programs.MaxActivities}
	for _, prog := range a.Library.All() {
		bt := builderTemplate{ID: prog.ID, Name: prog.NameIn(tx.lang()), Description: prog.DescriptionIn(tx.lang())}
		for _, act := range prog.Activities {
			value := prog.ID + "/" + act.ID
			on := slices.Contains(in.Lib, value)
			bt.Open = bt.Open || on
			taken := programs.TakeActivity(prog, act) // as the composed program will have it
			base := taken.StartDose(programs.DefaultRules(), act.Baseline)
			bt.Activities = append(bt.Activities, builderActivity{Value: value, ElemID: "lib-" + prog.ID + "--" + act.ID, Name: act.NameIn(tx.lang()), Checked: on,
				Summary: tx.T("th.builder.summary", "amount", amountIn(tx.c, act.Unit, base, act.Sets),
					"goal", amountIn(tx.c, act.Unit, act.Goal, act.Sets),
					"text", scheduleWords(tx, act.Schedule.Days, act.Schedule.PerWeek, act.Schedule.Times))})
		}
		v.Templates = append(v.Templates, bt)
	}
	news := in.New
	if len(news) == 0 || !news[len(news)-1].blank() {
		if len(news) < programs.MaxActivities {
			news = append(news, newActivity{})
		}
	}
	for i, n := range news {
		nv := newActivityView{Index: i, Number: i + 1, Name: n.Name, Dose: n.Dose, Goal: n.Goal, Instructions: n.Instructions, Blank: n.blank()}
		k := "new-" + strconv.Itoa(i) + "-"
		nv.NameID, nv.DoseID, nv.GoalID, nv.InstrID = k+"name", k+"dose", k+"goal", k+"instructions"
		nv.KindID, nv.UnitID, nv.LegendID, nv.HintID = k+"kind", k+"unit", k+"legend", k+"hint"
		for _, kind := range []programs.Kind{programs.Mobility, programs.Stretch, programs.Strength, programs.Aerobic, programs.Relaxation} {
			nv.Kinds = append(nv.Kinds, option{string(kind), tx.T("th.kind." + string(kind)), string(kind) == n.Kind})
		}
		for _, u := range []programs.Unit{programs.Reps, programs.Seconds, programs.Minutes} {
			nv.Units = append(nv.Units, option{string(u), tx.T("th.chart.unit." + string(u)), string(u) == n.Unit})
		}
		v.New = append(v.New, nv)
	}
	a.render(w, r, status, "therapist_builder.html", v)
}

// renderBuilderAssign shows the second step: the composed program's assign
// form (doses, days and times, preview, assign), carrying the composition.
func (a *auth) renderBuilderAssign(w http.ResponseWriter, r *http.Request, t store.Therapist, p store.Patient, status int,
	in builderInput, ai *assignInput, problem string) {
	tx := therapistTr()
	v := builderView{tr: tx, Therapist: t, Patient: p, Assigning: true, Name: ai.Program.NameIn(tx.lang()), Description: ai.Program.DescriptionIn(tx.lang()),
		Error: problem, MaxActivities: programs.MaxActivities}
	for _, act := range ai.Program.Activities {
		v.Chosen = append(v.Chosen, act.NameIn(tx.lang()))
	}
	var err error
	if v.Assign, err = a.assignFormView(r.Context(), tx, p, ai, "/patients/"+strconv.FormatInt(p.ID, 10)+"/build"); err != nil {
		a.pageError(w, r, err)
		return
	}
	a.render(w, r, status, "therapist_builder.html", v)
}
