package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/programs"
)

// Demo is what `pacer serve --demo` prints: a way into the therapist's pages,
// an API token, and the demo patient's links.
type Demo struct {
	Email    string // the demo therapist's
	SetupURL string // a one-time link to choose a password and sign in
	APIToken string
	Patient  clinic.Links
	Zone     string
	Seeded   bool // the patient was seeded now (false: an earlier start's is reused)
}

const (
	demoEmail   = "demo@pacer.invalid"
	demoPatient = "Demo patient"
	// demoWeeks of history: enough for every chart and most decisions.
	demoWeeks = 4
)

// SeedDemo makes sure the demo therapist (an admin) and the demo patient
// exist. The patient is seeded once, in zone, with the walking and stretching
// programs started four weeks ago and their history as a patient would log
// it: sessions done, partly done and missed, daily pain, one flare with its
// step-back and resume, and the weekly signals, so that every chart and
// decision shows. A restart reuses the patient. Each call gives a fresh
// sign-in link and API token.
func (d *Daemon) SeedDemo(ctx context.Context, zone string) (Demo, error) {
	st, c := d.Store, d.Clinic
	out := Demo{Email: demoEmail, Zone: zone}
	t, err := st.TherapistByEmail(ctx, demoEmail)
	if errors.Is(err, store.ErrNotFound) {
		t, err = st.CreateTherapist(ctx, demoEmail, "Demo therapist", true)
	}
	if err != nil {
		return out, err
	}
	setup, err := store.NewToken()
	if err != nil {
		return out, err
	}
	if err := st.CreateSetupToken(ctx, t.ID, store.HashToken(setup), c.Now().Add(72*time.Hour)); err != nil {
		return out, err
	}
	out.SetupURL = c.URL("/setup/" + setup)
	if out.APIToken, err = store.NewToken(); err != nil {
		return out, err
	}
	if err := st.CreateAPIToken(ctx, t.ID, "demo", store.HashToken(out.APIToken)); err != nil {
		return out, err
	}

	ps, err := st.Patients(ctx, t.ID)
	if err != nil {
		return out, err
	}
	for _, p := range ps {
		if p.Name == demoPatient {
			out.Patient, out.Zone = c.Links(p), p.Timezone
			return out, nil
		}
	}
	p, err := c.AddPatient(ctx, t.ID, clinic.NewPatient{Name: demoPatient, Timezone: zone, Discreet: true})
	if err != nil {
		return out, err
	}
	out.Patient, out.Seeded = c.Links(p), true
	loc, err := c.Zone(zone)
	if err != nil {
		return out, err
	}
	today := c.Today(p)
	start := today.AddDays(-7 * demoWeeks)
	// The history is lived day by day, each day's check-ins logged that
	// evening, through a clinic whose clock walks with it.
	var day programs.Date
	past := c.At(func() time.Time { return day.In(loc, 21*60) })
	day = start
	var progs []*programs.Program
	for _, id := range []string{"walking", "stretching"} {
		prog, ok := c.Library.Get(id)
		if !ok {
			return out, fmt.Errorf("no %s template", id)
		}
		if _, err := past.Assign(ctx, t.ID, p.ID, clinic.Assignment{Program: prog, Start: start}); err != nil {
			return out, err
		}
		progs = append(progs, prog)
	}
	for _, ci := range demoHistory(progs, start, today) {
		day = ci.Date
		if _, err := past.CheckIn(ctx, p, clinic.CheckIn{CheckIn: ci}); err != nil {
			return out, fmt.Errorf("demo check-in %s %s: %w", ci.Date, ci.Kind, err)
		}
	}
	// And today, as the server sees it.
	if err := c.Replan(ctx, p.ID); err != nil {
		return out, err
	}
	return out, nil
}

// demoHistory is four weeks of a believable patient, in the order they would
// be logged: most sessions done, some partly or not at all, pain that rises
// before a flare in the third week and eases after it settles, and the
// weekly signals at each week's end.
func demoHistory(progs []*programs.Program, start, today programs.Date) []programs.CheckIn {
	var out []programs.CheckIn
	num := func(n int) *int { return &n }
	flare, settled := start.AddDays(16), start.AddDays(20)
	for d := start; d < today; d = d.AddDays(1) {
		i := int(d - start)
		for _, prog := range progs {
			for k, a := range prog.Activities {
				on := len(a.Schedule.Days) == 0
				for _, wd := range a.Schedule.Days {
					on = on || wd == d.Weekday()
				}
				if !on {
					continue
				}
				switch (i + k) % 6 {
				case 4: // a missed session: nothing logged
					continue
				case 2:
					dose := a.StartDose(prog.Rules, a.Baseline) / 2
					if dose < a.Granule {
						dose = a.Granule
					}
					out = append(out, programs.CheckIn{Date: d, Kind: programs.SessionCheckIn, Activity: a.ID,
						Status: programs.Partial, Dose: num(dose - dose%a.Granule), Pain: num(4)})
				default:
					out = append(out, programs.CheckIn{Date: d, Kind: programs.SessionCheckIn, Activity: a.ID,
						Status: programs.Done, Pain: num(2 + i%3)})
				}
			}
		}
		pain := 3 + i%2
		switch {
		case d >= flare.AddDays(-2) && d < settled:
			pain = 6 + (i % 2)
		case d >= settled:
			pain = 2 + i%2
		}
		out = append(out, programs.CheckIn{Date: d, Kind: programs.DailyCheckIn, Pain: num(pain)})
		switch d {
		case flare:
			out = append(out, programs.CheckIn{Date: d, Kind: programs.FlareCheckIn})
		case settled:
			out = append(out, programs.CheckIn{Date: d, Kind: programs.SettledCheckIn})
		}
		if i%7 == 6 {
			w := i / 7
			out = append(out, programs.CheckIn{Date: d, Kind: programs.WeeklyCheckIn,
				Function: num(5 + w%3), Symptoms: num(5 - w%2), Confidence: num(5 + w)})
		}
	}
	return out
}
