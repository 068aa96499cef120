package programs

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// benchProgram has five activities of every unit, scheduled in both ways.
const benchProgram = `
id: bench
name: Five activities
activities:
  - {id: walk, name: Walk, kind: aerobic, unit: minutes, baseline: 20, goal: 60, schedule: {days: [mon, tue, wed, fri, sat], times: ["07:30"]}, instructions: Walk.}
  - {id: stretch, name: Stretch, kind: stretch, unit: seconds, sets: 3, baseline: 30, goal: 60, schedule: {days: [daily], times: ["19:00"]}, instructions: Hold.}
  - {id: bridge, name: Bridge, kind: strength, unit: reps, sets: 2, baseline: 10, goal: 20, schedule: {per_week: 3, times: ["18:00"]}, instructions: Lift.}
  - {id: rock, name: Knee rocks, kind: mobility, unit: reps, baseline: 10, goal: 20, schedule: {days: [daily], times: ["07:00", "21:00"]}, instructions: Rock.}
  - {id: breathe, name: Breathing, kind: relaxation, unit: minutes, baseline: 5, goal: 15, schedule: {days: [mon, thu], times: ["20:00"]}, instructions: Breathe.}
`

// yearOfCheckIns logs a year of mostly-done sessions with daily pain, two
// flares and their settling, and weekly signals.
func yearOfCheckIns(p *Program, start Date, rng *rand.Rand) []CheckIn {
	var cs []CheckIn
	for d := range 365 {
		date := start.AddDays(d)
		for _, a := range p.Activities {
			if rng.IntN(10) < 8 {
				cs = append(cs, CheckIn{Date: date, Kind: SessionCheckIn, Activity: a.ID, Status: Done})
			}
		}
		pain := 2 + rng.IntN(4)
		cs = append(cs, CheckIn{Date: date, Kind: DailyCheckIn, Pain: &pain})
		if d%7 == 6 {
			f, s, c := 5+rng.IntN(4), 3+rng.IntN(4), 5+rng.IntN(4)
			cs = append(cs, CheckIn{Date: date, Kind: WeeklyCheckIn, Function: &f, Symptoms: &s, Confidence: &c})
		}
		if d == 100 || d == 250 {
			cs = append(cs, CheckIn{Date: date, Kind: FlareCheckIn}, CheckIn{Date: date.AddDays(4), Kind: SettledCheckIn})
		}
	}
	return cs
}

// BenchmarkPlan is one plan of a 5-activity, 26-week program against a year
// of check-ins (the plan's 26 weeks are judged; the rest is pain history).
func BenchmarkPlan(b *testing.B) {
	p, err := Parse("bench.yaml", []byte(benchProgram))
	if err != nil {
		b.Fatal(err)
	}
	start := MakeDate(2026, 1, 5)
	loc, _ := time.LoadLocation("Europe/Berlin")
	cs := yearOfCheckIns(p, start.AddDays(-182), rand.New(rand.NewPCG(1, 2)))
	as := Assignment{Program: p, Start: start, Location: loc, Weeks: 26}
	now := start.AddDays(26*7-1).In(loc, 12*60)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(as, cs, nil, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWeeklyReview100k is the weekly review sweep through the engine
// alone: 100,000 assignments of the built-in templates, each with its own
// check-in history, re-planned on all cores. One op is the whole sweep.
func BenchmarkWeeklyReview100k(b *testing.B) {
	const n = 100_000
	lib, err := LoadLibrary()
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	type job struct {
		as  Assignment
		cs  []CheckIn
		now time.Time
	}
	rng := rand.New(rand.NewPCG(3, 4))
	// 1,000 distinct histories shared round-robin keep set-up memory modest.
	histories := make([]job, 1000)
	for i := range histories {
		p := lib.All()[i%len(lib.All())]
		start := MakeDate(2026, 1, 5).AddDays(rng.IntN(60))
		weeks := 4 + rng.IntN(12)
		var cs []CheckIn
		for d := range weeks * 7 {
			for _, a := range p.Activities {
				if rng.IntN(10) < 7 {
					cs = append(cs, CheckIn{Date: start.AddDays(d), Kind: SessionCheckIn, Activity: a.ID, Status: Done})
				}
			}
			if rng.IntN(60) == 0 {
				cs = append(cs, CheckIn{Date: start.AddDays(d), Kind: FlareCheckIn})
			}
		}
		histories[i] = job{Assignment{Program: p, Start: start, Location: loc, Weeks: weeks + 8}, cs,
			start.AddDays(weeks*7).In(loc, 9*60)}
	}
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += workers {
					j := &histories[i%len(histories)]
					if _, err := Compute(j.as, j.cs, nil, j.now); err != nil {
						panic(fmt.Sprint(err))
					}
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/assignment")
}
