package programs

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	p := &Program{ID: "x", Name: "x", Rules: DefaultRules(), Activities: []Activity{
		{ID: "plank-hold", Name: "W", Kind: Aerobic, Unit: Minutes, Sets: 1, Granule: 1, Baseline: 4, Goal: 4, Step: 1, Schedule: Schedule{PerWeek: 1, Times: []Clock{0, 1}}},
	}}
	start := MakeDate(2026, 1, 1)
	as := Assignment{Program: p, Start: start, Location: time.UTC, Weeks: 4, Threshold: map[string]int{"plank-hold": 5}}
	var cs []CheckIn
	for _, d := range []int{0, 0, 0, 2, 2, 9, 9, 9} {
		cs = append(cs, CheckIn{Date: start.AddDays(d), Kind: SessionCheckIn, Activity: "plank-hold", Status: Done})
	}
	cs = append(cs, CheckIn{Date: start.AddDays(14), Kind: StillInFlareCheckIn, Yes: ptr(true)})
	plan, _ := Compute(as, cs, nil, start.AddDays(14).In(time.UTC, 0))
	for _, w := range plan.Weeks {
		aw := w.Activities[0]
		t.Logf("week %d dose %d %s %+v", w.Week, aw.Dose, aw.Decision.Code, aw.Decision.Facts)
		for _, x := range aw.Sessions {
			t.Logf("   %s %s %d %s extra=%v cause=%d actual=%d", x.Date, x.Time, x.Dose, x.Status, x.Extra, x.Cause, x.Actual)
		}
		for _, e := range w.Events {
			t.Logf("   event %s %s %+v", e.Date, e.Code, e.Facts)
		}
	}
}
