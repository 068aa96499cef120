package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"pacer/internal/testkit"
)

// The API of the therapist's control of programs and of the red-flag review,
// on both stores: a preview stores nothing; a second copy of a program takes
// "again"; an assignment is removed only before any check-in; red-flag
// screens are read, acknowledged, and their items marked known and
// un-marked. Another therapist gets 404 for each.
func TestReviewAPI(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		l := e.Patient(`{"name":"Pat","timezone":"Europe/Berlin"}`)
		p := fmt.Sprintf("/api/v1/patients/%d", l.ID)
		body := `{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"schedule":{"walk":{"days":["mon","thu"],"times":["07:00"]}}}`

		// Preview: the plan JSON, nothing stored.
		var plan struct {
			Program string `json:"program"`
			Weeks   []struct {
				Activities []struct {
					Dose     int `json:"dose"`
					Sessions []struct {
						Time string `json:"time"`
					} `json:"sessions"`
				} `json:"activities"`
			} `json:"weeks"`
		}
		e.JSON("POST", p+"/assignments/preview", e.TokenA, body, 200, &plan)
		if plan.Program != "walking" || len(plan.Weeks) != 12 || plan.Weeks[0].Activities[0].Dose != 8 ||
			len(plan.Weeks[0].Activities[0].Sessions) != 2 || plan.Weeks[0].Activities[0].Sessions[0].Time != "07:00" {
			t.Errorf("preview %+v", plan)
		}
		if n := len(e.Assignments(l.ID)); n != 0 {
			t.Fatalf("a preview stored %d assignments", n)
		}
		code, b, _ := e.Do("POST", p+"/assignments/preview", e.TokenA, `{"program":"walking","baseline":{"walk":0}}`)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "baseline") {
			t.Errorf("a preview with a baseline of 0: %d %s", code, b)
		}
		if code, _, _ := e.Do("POST", p+"/assignments/preview", e.TokenB, body); code != http.StatusNotFound {
			t.Errorf("another therapist's preview: %d", code)
		}

		// A second copy takes "again".
		first := e.Assign(l.ID, body)
		code, b, _ = e.Do("POST", p+"/assignments", e.TokenA, body)
		if code != http.StatusConflict || !strings.Contains(string(b), `\"again\": true`) {
			t.Errorf("a second copy without again: %d %s", code, b)
		}
		second := e.Assign(l.ID, strings.Replace(body, `{"program"`, `{"again":true,"program"`, 1))

		// Remove: before any check-in only; another therapist's is 404.
		a2 := fmt.Sprintf("/api/v1/assignments/%d", second)
		if code, _, _ := e.Do("DELETE", a2, e.TokenB, ""); code != http.StatusNotFound {
			t.Errorf("another therapist's removal: %d", code)
		}
		feed := func() (live, cancelled int) {
			t.Helper()
			code, b, _ := e.Do("GET", l.FeedURL, "", "")
			if code != 200 {
				t.Fatalf("feed: %d", code)
			}
			for _, ev := range events(t, b) {
				if ev.Status == "CANCELLED" {
					cancelled++
				} else {
					live++
				}
			}
			return live, cancelled
		}
		liveBefore, _ := feed()
		var removed assignmentJSON
		e.JSON("DELETE", a2, e.TokenA, "", 200, &removed)
		if removed.Status != "removed" {
			t.Errorf("removed: %+v", removed)
		}
		// Its events stay in the calendar as cancelled, so clients drop them.
		if live, cancelled := feed(); live != liveBefore/2 || cancelled != liveBefore/2 {
			t.Errorf("the feed after removing one of two copies: %d live and %d cancelled events, had %d live", live, cancelled, liveBefore)
		}
		e.JSON("DELETE", a2, e.TokenA, "", 200, nil) // again: nothing changes
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["night_pain"]}`, 201, nil)
		code, b, _ = e.Do("DELETE", fmt.Sprintf("/api/v1/assignments/%d", first), e.TokenA, "")
		if code != http.StatusConflict || !strings.Contains(string(b), "end it instead") {
			t.Errorf("removing after a check-in: %d %s", code, b)
		}

		// The red-flag review.
		type review struct {
			Screens []struct {
				CheckInID int64     `json:"checkin_id"`
				Date      string    `json:"date"`
				Recorded  time.Time `json:"recorded_at"`
				Answers   []struct {
					Item    string `json:"item"`
					Urgency string `json:"urgency"`
				} `json:"answers"`
				Pausing        bool       `json:"pausing"`
				Urgency        string     `json:"urgency"`
				AcknowledgedAt *time.Time `json:"acknowledged_at"`
			} `json:"screens"`
			Known []struct {
				Item string `json:"item"`
			} `json:"known"`
			Unacknowledged int `json:"unacknowledged"`
		}
		var r review
		e.JSON("GET", p+"/red-flags", e.TokenA, "", 200, &r)
		if len(r.Screens) != 1 || r.Unacknowledged != 1 || !r.Screens[0].Pausing || r.Screens[0].Urgency != "soon" ||
			r.Screens[0].Answers[0].Item != "night_pain" || r.Screens[0].Date != "2026-11-23" || r.Screens[0].Recorded.IsZero() {
			t.Fatalf("the review: %+v", r)
		}
		id := r.Screens[0].CheckInID
		for _, req := range []struct{ method, path string }{
			{"GET", p + "/red-flags"}, {"POST", fmt.Sprintf("%s/red-flags/%d/acknowledge", p, id)},
			{"PUT", p + "/known-red-flags/night_pain"}, {"DELETE", p + "/known-red-flags/night_pain"},
		} {
			if code, _, _ := e.Do(req.method, req.path, e.TokenB, ""); code != http.StatusNotFound {
				t.Errorf("another therapist's %s %s: %d", req.method, req.path, code)
			}
		}
		if code, _, _ := e.Do("POST", fmt.Sprintf("%s/red-flags/%d/acknowledge", p, id+1000), e.TokenA, ""); code != http.StatusNotFound {
			t.Errorf("acknowledging no screen: %d", code)
		}
		e.JSON("POST", fmt.Sprintf("%s/red-flags/%d/acknowledge", p, id), e.TokenA, "", 200, &r)
		if r.Unacknowledged != 0 || r.Screens[0].AcknowledgedAt == nil {
			t.Errorf("after acknowledging: %+v", r)
		}
		code, b, _ = e.Do("PUT", p+"/known-red-flags/headache", e.TokenA, "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), "night_pain") {
			t.Errorf("marking an unknown item: %d %s", code, b)
		}
		e.JSON("PUT", p+"/known-red-flags/night_pain", e.TokenA, "", 200, &r)
		if len(r.Known) != 1 || r.Known[0].Item != "night_pain" {
			t.Errorf("after marking: %+v", r.Known)
		}
		e.JSON("PUT", p+"/known-red-flags/night_pain", e.TokenA, "", 200, &r) // again: still one
		if len(r.Known) != 1 {
			t.Errorf("marking twice: %+v", r.Known)
		}
		e.JSON("DELETE", p+"/known-red-flags/night_pain", e.TokenA, "", 200, &r)
		if len(r.Known) != 0 {
			t.Errorf("after un-marking: %+v", r.Known)
		}
	})
}
