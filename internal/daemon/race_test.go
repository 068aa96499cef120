package daemon_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
	"pacer/scheduler"
)

// raceNow is a Monday evening; every patient here started walking three
// weeks before, on Mondays, Tuesdays, Wednesdays, Fridays and Saturdays.
var (
	raceNow   = time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	raceStart = programs.MakeDate(2026, 11, 2)
)

// pastWalks are eight walks a patient logs at once, some of them late: a
// session may be logged up to two days after its day (progression.md), so
// they fall on Saturday (a walk day), Sunday (none planned) and Monday
// (today). The first of a walk day is its planned walk; the others are extra
// walks, stored as sessions too.
func pastWalks() []programs.Date {
	today := programs.DateOf(raceNow)
	return []programs.Date{today - 2, today - 2, today - 1, today - 1, today, today, today - 2, today - 1}
}

// racePatient adds a patient with an email (so that sessions have
// reminders) and the walking program.
func racePatient(s *testserver.Server, name string) (testserver.Links, int64) {
	l := s.AddPatient(name, strings.ToLower(name)+"@example.org", "UTC", "walking", raceStart)
	return l, s.Assignments(l.ID)[0]
}

func checkinPath(s *testserver.Server, l testserver.Links) string {
	return strings.TrimPrefix(l.CheckinURL, s.URL) + "/checkins"
}

// burst posts every request at once, with the other patients' check-ins,
// and returns the statuses of the first len(reqs).
func burst(s *testserver.Server, reqs []req, others []testserver.Links) []int {
	s.Clock.Add(time.Second) // each link's rate limit refills, as between real bursts
	codes := make([]int, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		wg.Go(func() {
			<-start
			codes[i], _, _ = s.Do(r.method, r.path, r.token, r.body)
		})
	}
	for i, o := range others {
		wg.Go(func() {
			<-start
			s.Do("POST", checkinPath(s, o), "", fmt.Sprintf(`{"kind":"daily","pain":%d}`, i%10))
		})
	}
	close(start)
	wg.Wait()
	return codes
}

type req struct{ method, path, token, body string }

// Race: a red flag and eight session check-ins for one patient posted at
// once, while 50 other patients check in. Every trial must end paused (no
// session from today on planned, no pending session reminder, every coming
// event CANCELLED in the feed) with every acknowledged session check-in
// stored as done; and a therapist's resume racing check-ins must end
// resumed.
func TestRedFlagRace(t *testing.T) {
	const trials = 50
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn, testserver.Options{Start: raceNow})
		others := make([]testserver.Links, 50)
		for i := range others {
			others[i], _ = racePatient(s, fmt.Sprintf("Other%d", i))
		}
		today := programs.DateOf(raceNow)
		walks := pastWalks()
		for trial := range trials {
			l, asg := racePatient(s, fmt.Sprintf("Racer%d", trial))
			path := checkinPath(s, l)
			reqs := []req{{"POST", path, "", `{"kind":"red_flag","answers":["bladder_bowel"]}`}}
			for _, d := range walks {
				reqs = append(reqs, req{"POST", path, "", fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":"%s"}`, d)})
			}
			codes := burst(s, reqs, others)
			if codes[0] != http.StatusCreated {
				t.Fatalf("trial %d: the red flag answered %d", trial, codes[0])
			}
			first := codes[1:]
			checkPaused(t, s, l, asg, today, fmt.Sprintf("trial %d", trial))
			checkDone(t, s, asg, walks, first, fmt.Sprintf("trial %d", trial))

			// The therapist resumes while the patient logs the next walks.
			more := []req{{"POST", fmt.Sprintf("/api/v1/assignments/%d/resume", asg), s.TokenA, ""}}
			later := pastWalks()
			for _, d := range later {
				more = append(more, req{"POST", path, "", fmt.Sprintf(`{"kind":"session","activity":"walk","status":"done","date":"%s"}`, d)})
			}
			codes = burst(s, more, others)
			if codes[0] != http.StatusOK {
				t.Fatalf("trial %d: the resume answered %d", trial, codes[0])
			}
			checkResumed(t, s, l, asg, today, fmt.Sprintf("trial %d", trial))
			// The same days again: both rounds' walks are stored done.
			checkDone(t, s, asg, append(walks, later...), append(first, codes[1:]...), fmt.Sprintf("trial %d (resume)", trial))
		}
	})
}

func checkPaused(t *testing.T, s *testserver.Server, l testserver.Links, asg int64, today programs.Date, what string) {
	t.Helper()
	var plan struct {
		Paused bool                `json:"paused"`
		Pause  programs.PauseCause `json:"pause"`
	}
	s.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", asg), s.TokenA, "", http.StatusOK, &plan)
	if !plan.Paused || plan.Pause != programs.PausedByRedFlag {
		t.Errorf("%s: the plan is not paused by the red flag: %+v", what, plan)
	}
	xs, err := s.Store.Sessions(t.Context(), l.ID, today, today.AddDays(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if x.Status == programs.Planned {
			t.Errorf("%s: session %s still planned after the red flag", what, x.Date)
		}
	}
	rs, err := s.Store.Reminders(t.Context(), l.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if (r.Kind == scheduler.KindSession || r.Kind == scheduler.KindNudge) && r.Status == store.ReminderPending {
			t.Errorf("%s: a %s reminder is still pending after the red flag (due %s)", what, r.Kind, r.DueAt)
		}
	}
	code, body, _ := s.Do("GET", l.FeedURL, "", "")
	if code != http.StatusOK {
		t.Fatalf("%s: feed %d", what, code)
	}
	for _, ev := range feedEvents(t, body) {
		if !ev.start.Before(raceNow) && ev.props["STATUS"] != "CANCELLED" {
			t.Errorf("%s: the event of %s is %s in the feed after the red flag", what, ev.start, ev.props["STATUS"])
		}
	}
}

func checkResumed(t *testing.T, s *testserver.Server, l testserver.Links, asg int64, today programs.Date, what string) {
	t.Helper()
	var plan struct {
		Paused bool `json:"paused"`
	}
	s.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", asg), s.TokenA, "", http.StatusOK, &plan)
	if plan.Paused {
		t.Errorf("%s: the plan is still paused after the resume", what)
	}
	xs, err := s.Store.Sessions(t.Context(), l.ID, today.AddDays(1), today.AddDays(7))
	if err != nil {
		t.Fatal(err)
	}
	planned := 0
	for _, x := range xs {
		if x.Status == programs.Planned {
			planned++
		}
	}
	if planned == 0 {
		t.Errorf("%s: no session planned in the week after the resume", what)
	}
	rs, err := s.Store.Reminders(t.Context(), l.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, r := range rs {
		if r.Kind == scheduler.KindSession && r.Status == store.ReminderPending {
			pending++
		}
	}
	if pending == 0 {
		t.Errorf("%s: no session reminder pending after the resume", what)
	}
}

// checkDone checks that every session check-in the server acknowledged is
// stored as done: a day has as many done sessions (planned or extra) as it
// had acknowledged check-ins.
func checkDone(t *testing.T, s *testserver.Server, asg int64, dates []programs.Date, codes []int, what string) {
	t.Helper()
	xs, err := s.Store.AssignmentSessions(t.Context(), asg)
	if err != nil {
		t.Fatal(err)
	}
	done := map[programs.Date]int{}
	for _, x := range xs {
		if x.Status == programs.Done {
			done[x.Date]++
		}
	}
	acked := map[programs.Date]int{}
	for i, d := range dates {
		if codes[i] != http.StatusCreated {
			t.Errorf("%s: the check-in of %s answered %d", what, d, codes[i])
			continue
		}
		acked[d]++
	}
	for d, n := range acked {
		if done[d] < n {
			t.Errorf("%s: %d walks of %s acknowledged, %d stored done", what, n, d, done[d])
		}
	}
}
