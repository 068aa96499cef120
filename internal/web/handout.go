package web

// The printable handout, /c/{token}/handout: the patient's exercises as of
// today, each with its amount, its days and times and its instructions, and
// QR codes of the check-in page and the calendar, on one A4 page through
// the print style sheet (patient.css, @media print).

import (
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// handoutView is the handout.
type handoutView struct {
	pageBase
	AsOf   string
	Paused bool
	Items  []handoutItem
	// Common are the instructions every exercise shares (the stop rules),
	// said once rather than under each.
	Common                []string
	CheckinQR, CalendarQR template.HTML
}

// handoutItem is one exercise.
type handoutItem struct {
	Name, Amount, When string
	Lines              []string // the instructions, a line each
}

func (pp *patientPages) handout(w http.ResponseWriter, r *http.Request) {
	p, ok := pp.checkinPatient(w, r)
	if !ok {
		return
	}
	v, err := pp.handoutView(r, p)
	if err != nil {
		pp.internal(w, r, err)
		return
	}
	pp.show(w, r, http.StatusOK, "handout", v)
}

// handoutView reads the patient's exercises from the sessions of the coming
// week as the last re-plan stored them: each activity's next dose, and the
// days and times it is planned on.
func (pp *patientPages) handoutView(r *http.Request, p store.Patient) (*handoutView, error) {
	cat, err := pp.patientCatalog(r, p)
	if err != nil {
		return nil, err
	}
	today := pp.today(p)
	progs, err := pp.programsOf(r, p, cat)
	if err != nil {
		return nil, err
	}
	sessions, err := pp.Store.Sessions(r.Context(), p.ID, today, today.AddDays(7))
	if err != nil {
		return nil, err
	}
	links := pp.Clinic.Links(p)
	v := &handoutView{pageBase: pp.base(r, cat, "page.handout.title"),
		AsOf:       cat.Text("page.handout.as_of", i18n.Args{"day": cat.Day(today)}),
		CheckinQR:  qrSVG(links.CheckinURL, cat.Text("page.handout.qr_checkin", nil), "qr-checkin"),
		CalendarQR: qrSVG(links.FeedURL, cat.Text("page.handout.qr_calendar", nil), "qr-calendar")}
	for _, pr := range progs {
		v.Paused = v.Paused || pr.sp.Header.Pause != ""
		for _, act := range pr.a.Program.Activities {
			var (
				first *store.Session
				days  []int
				times []string
			)
			for i := range sessions {
				x := &sessions[i]
				if x.AssignmentID != pr.a.ID || x.Activity != act.ID || x.Status == programs.Cancelled || x.Extra {
					continue
				}
				if first == nil {
					first = x
				}
				if wd := int(x.Date.Weekday()); !slices.Contains(days, wd) {
					days = append(days, wd)
				}
				if t := x.Time.String(); !slices.Contains(times, t) {
					times = append(times, t)
				}
			}
			if first == nil {
				continue // nothing in the coming week: paused, or not on the plan now
			}
			slices.Sort(times)
			lang := string(cat.Lang())
			it := handoutItem{Name: act.NameIn(lang), Amount: amountIn(cat, first.Unit, first.Dose, first.Sets),
				When: whenIn(cat, days, times)}
			for _, l := range strings.Split(strings.TrimSpace(act.InstructionsIn(lang)), "\n") {
				if l = strings.TrimSpace(l); l != "" {
					it.Lines = append(it.Lines, l)
				}
			}
			v.Items = append(v.Items, it)
		}
	}
	v.Common = commonLines(v.Items)
	return v, nil
}

// commonLines takes the lines that two or more exercises share out of
// them, in the order they first come, and returns them.
func commonLines(items []handoutItem) []string {
	count := map[string]int{}
	for _, it := range items {
		seen := map[string]bool{}
		for _, l := range it.Lines {
			if !seen[l] {
				seen[l] = true
				count[l]++
			}
		}
	}
	var common []string
	for i := range items {
		kept := items[i].Lines[:0]
		for _, l := range items[i].Lines {
			if count[l] < 2 {
				kept = append(kept, l)
				continue
			}
			if !slices.Contains(common, l) {
				common = append(common, l)
			}
		}
		items[i].Lines = kept
	}
	return common
}

// whenIn words the days of the week (0 Sunday) and times an exercise is
// planned on: "Every day at 19:00", "Mon, Wed, Fri at 07:30".
func whenIn(cat *i18n.Catalog, days []int, times []string) string {
	at := strings.Join(times, ", ")
	if len(days) == 7 {
		return cat.Text("page.handout.daily", i18n.Args{"times": at})
	}
	// Monday first, as a week on the page reads.
	slices.SortFunc(days, func(a, b int) int { return (a+6)%7 - (b+6)%7 })
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = cat.Text("page.weekday_short."+strconv.Itoa(d), nil)
	}
	return cat.Text("page.handout.days", i18n.Args{"days": strings.Join(names, ", "), "times": at})
}
