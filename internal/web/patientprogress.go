package web

import (
	"slices"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

// progressWeeks is how many weeks the check-in page's way so far shows.
const progressWeeks = 12

// progressView is the patient's way so far: week by week, the minutes moved
// and the sessions done, with a flare-up shown as a normal part of the way
// (the plan eases off, then builds again) and nothing counted in a row: no
// streak to keep or lose.
type progressView struct {
	Week int // the current week of the oldest active program; 0: none
	Rows []progressRow
}

// progressRow is one week.
type progressRow struct {
	Week            int
	Current         bool
	Minutes         string // "62 min"; empty when nothing in the week is timed
	Sessions        string // "9 of 10 sessions"
	Flare, Paused   bool
	Bar             int // the minutes as a share of the most in a week shown, 0-100
	seconds, timed  int
	planned, doneOf int
}

// progressOf sums the stored sessions of the patient's active programs by
// week of the oldest one, up to progressWeeks weeks back: minutes moved
// (minutes, and holds in seconds), sessions done of planned, and whether a
// flare-up or a pause touched the week, read from the stored plans' events
// and decisions.
func progressOf(cat *i18n.Catalog, progs []plannedProgram, sessions []store.Session, today programs.Date) progressView {
	if len(progs) == 0 {
		return progressView{}
	}
	start := progs[0].a.Start
	for _, pr := range progs {
		start = min(start, pr.a.Start)
	}
	if today < start {
		return progressView{}
	}
	current := int(today-start)/7 + 1
	first := max(1, current-progressWeeks+1)
	rows := make([]progressRow, current-first+1)
	for i := range rows {
		rows[i].Week = first + i
	}
	row := func(d programs.Date) *progressRow {
		if d < start || d > today {
			return nil
		}
		w := int(d-start)/7 + 1
		if w < first {
			return nil
		}
		return &rows[w-first]
	}
	active := map[int64]bool{}
	for _, pr := range progs {
		active[pr.a.ID] = true
	}
	for _, x := range sessions {
		r := row(x.Date)
		if r == nil || !active[x.AssignmentID] || x.Status == programs.Cancelled {
			continue
		}
		if !x.Extra {
			r.planned++
		}
		if x.Status != programs.Done && x.Status != programs.Partial {
			continue
		}
		r.doneOf++
		switch x.Unit {
		case programs.Minutes:
			r.seconds += 60 * x.Actual
			r.timed++
		case programs.Seconds:
			r.seconds += x.Actual * max(x.Sets, 1)
			r.timed++
		}
	}
	// Flare-ups and pauses, from the stored plans: a flare runs from the
	// day it was declared to the day the plan eases back in or resumes
	// (today, while it lasts).
	for _, pr := range progs {
		evs := slices.Clone(pr.sp.Events)
		slices.SortStableFunc(evs, func(a, b store.PlanEvent) int { return int(a.Date - b.Date) })
		for i, e := range evs {
			if e.Code != programs.FlareStepBack {
				continue
			}
			from := e.Facts.Flare
			if from == 0 {
				from = e.Date
			}
			until := today
			for _, f := range evs[i+1:] {
				if f.Code == programs.FlareReentry || f.Code == programs.FlareResume {
					until = f.Date
					break
				}
			}
			if pr.sp.Header.FlareOn == 0 && until == today {
				until = min(today, from.AddDays(7))
			}
			for d := from; d <= until; d = d.AddDays(7) {
				if r := row(d); r != nil {
					r.Flare = true
				}
			}
			if r := row(until); r != nil {
				r.Flare = true
			}
		}
		for _, w := range pr.sp.Weeks {
			if w.Activity == "" && (w.Decision.Code == programs.PausedRedFlag || w.Decision.Code == programs.Paused) {
				if r := row(w.Start); r != nil {
					r.Paused = true
				}
			}
		}
	}
	most := 0
	for _, r := range rows {
		most = max(most, r.seconds)
	}
	for i := range rows {
		r := &rows[i]
		r.Current = r.Week == current
		if r.timed > 0 {
			r.Minutes = cat.Text("short.minutes", i18n.Args{"n": (r.seconds + 30) / 60})
		}
		if most > 0 {
			r.Bar = r.seconds * 100 / most
		}
		r.Sessions = cat.Text("page.progress.sessions", i18n.Args{"done": r.doneOf, "planned": r.planned})
	}
	slices.Reverse(rows) // this week first
	return progressView{Week: current, Rows: rows}
}
