package feed

import (
	"strconv"
	"strings"
	"time"

	"pacer/internal/i18n"
	"pacer/programs"
)

// Event STATUS values.
const (
	Confirmed = "CONFIRMED" // a session of a decided week
	Tentative = "TENTATIVE" // a session of a projected week
	Cancelled = "CANCELLED" // a session removed by a step-back, a pause or a therapist edit
)

// Status is the STATUS of a session's event: Cancelled for a cancelled session,
// Tentative for one of a projected week, Confirmed otherwise (done, skipped and
// missed sessions stay in the calendar as they were planned).
func Status(s programs.Status, projected bool) string {
	switch {
	case s == programs.Cancelled:
		return Cancelled
	case projected:
		return Tentative
	}
	return Confirmed
}

// Title is an event's title in English: the name the caller chose (a
// discreet one such as "Walk" by default) and the dose, e.g. "Walk · 14 min",
// "Bridge · 2 × 8", "Knee to chest · 3 × 20 s". With one set the count is
// left out: "Bridge · 8 reps", "Knee to chest · 20 s".
func Title(name string, unit programs.Unit, dose, sets int) string {
	return TitleIn(i18n.For(i18n.English), name, unit, dose, sets)
}

// TitleIn is Title in c's language, e.g. "Spaziergang · 14 Min.".
func TitleIn(c *i18n.Catalog, name string, unit programs.Unit, dose, sets int) string {
	d := c.Short(unit, dose)
	if sets > 1 {
		if unit == programs.Reps {
			d = strconv.Itoa(dose)
		}
		d = c.Text("amount.sets", i18n.Args{"sets": sets, "amount": d})
	}
	return c.Text("feed.title", i18n.Args{"activity": strings.TrimSpace(name), "dose": d})
}

// Estimate of a reps or holds session, for its length in the calendar.
const (
	perRep      = 5 * time.Second  // one repetition at an easy pace
	perHold     = 10 * time.Second // getting into and out of a hold, on top of the hold itself
	betweenSets = 30 * time.Second // rest between two sets
	slot        = 5 * time.Minute  // estimates round up to this, and are never shorter
)

// Duration is how long a session's event lasts. A minutes dose lasts
// dose × sets minutes. Reps and holds are estimated: 5 s per repetition, or
// the hold plus 10 s to get into and out of it, per set, and 30 s of rest
// between sets; the estimate is rounded up to a whole 5 minutes and is at
// least 5 minutes, so "Bridge · 2 × 8" and "Knee to chest · 3 × 20 s" are
// 5-minute events. A dose that is not positive gives 5 minutes.
func Duration(unit programs.Unit, dose, sets int) time.Duration {
	if unit == programs.Minutes && dose > 0 {
		return time.Duration(dose) * time.Duration(max(sets, 1)) * time.Minute
	}
	return roundUp(estimate(unit, dose, sets))
}

// Dose is one session's amount, for GroupDuration.
type Dose struct {
	Unit       programs.Unit
	Dose, Sets int
}

// GroupDuration is how long a merged event of several sessions at one time
// lasts: the sessions one after the other, estimated as Duration does, and
// rounded up to a whole 5 minutes once, for the group ("Stretches · 4 ×
// 30 s" is 5 minutes, not 20).
func GroupDuration(ds []Dose) time.Duration {
	var d time.Duration
	for _, x := range ds {
		if x.Unit == programs.Minutes && x.Dose > 0 {
			d += time.Duration(x.Dose) * time.Duration(max(x.Sets, 1)) * time.Minute
			continue
		}
		d += estimate(x.Unit, x.Dose, x.Sets)
	}
	return roundUp(d)
}

// estimate is a reps or holds session's length before rounding.
func estimate(unit programs.Unit, dose, sets int) time.Duration {
	sets = max(sets, 1)
	if dose <= 0 {
		return slot
	}
	var d time.Duration
	switch unit {
	case programs.Minutes:
		return time.Duration(dose) * time.Duration(sets) * time.Minute
	case programs.Seconds:
		d = time.Duration(sets) * (time.Duration(dose)*time.Second + perHold)
	default: // programs.Reps
		d = time.Duration(sets) * time.Duration(dose) * perRep
	}
	return d + time.Duration(sets-1)*betweenSets
}

// roundUp rounds a length up to a whole slot, and to one slot at least.
func roundUp(d time.Duration) time.Duration { return max(slot, (d+slot-1)/slot*slot) }
