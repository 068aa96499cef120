package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-ical"

	"pacer/internal/testkit"
	"pacer/programs"
)

// calEvent is a calendar event as the test reads it.
type calEvent struct {
	UID, Summary, Description, URL, Status, Start string
	Sequence                                      int
	Alarm                                         bool
}

func calEvents(t *testing.T, e *env, feedURL string) map[string]calEvent {
	t.Helper()
	code, body, _ := e.Do("GET", feedURL, "", "")
	if code != http.StatusOK {
		t.Fatalf("feed: %d", code)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]calEvent{}
	for _, ev := range cal.Events() {
		text := func(p string) string { v, _ := ev.Props.Text(p); return v }
		seq, _ := strconv.Atoi(ev.Props.Get(ical.PropSequence).Value)
		c := calEvent{UID: text(ical.PropUID), Summary: text(ical.PropSummary), Description: text(ical.PropDescription),
			Status: text(ical.PropStatus), Start: ev.Props.Get(ical.PropDateTimeStart).Value, Sequence: seq,
			Alarm: len(ev.Children) > 0}
		if p := ev.Props.Get(ical.PropURL); p != nil {
			c.URL = p.Value
		}
		out[c.UID] = c
	}
	return out
}

var (
	groupUID = regexp.MustCompile(`^session-\d+-\d+-\d+-\d+@pacer$`)
	groupURL = regexp.MustCompile(`/g/[A-Za-z0-9_-]{54}$`)
)

// Same-time sessions of one program are one calendar event: one alarm for
// four stretches at 19:00. Its UID holds while its members do; its SEQUENCE
// rises when any of them changes; its link records those sessions only.
func TestMergedEventsForSameTimeSessions(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		l := e.AddPatient("S", "", "Europe/Berlin", "stretching", monday)
		e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", l.ID), e.TokenA,
			`{"program":"walking","start":"2026-11-23","schedule":{"walk":{"days":["daily"],"times":["19:00"]}}}`, 201, nil)
		evs := calEvents(t, e, l.FeedURL)
		byStart := map[string][]calEvent{}
		for _, ev := range evs {
			byStart[ev.Start] = append(byStart[ev.Start], ev)
		}
		// Each day at 19:00 (18:00 UTC): the stretches as one event, and
		// the walk, another program's, as its own.
		tuesday := byStart["20261124T180000Z"]
		if len(tuesday) != 2 {
			t.Fatalf("%d events on Tuesday at 19:00, want the stretches and the walk: %+v", len(tuesday), tuesday)
		}
		var group calEvent
		for _, ev := range tuesday {
			if groupUID.MatchString(ev.UID) {
				group = ev
			} else if !strings.HasPrefix(ev.Summary, "Walk · ") {
				t.Errorf("another event at 19:00: %+v", ev)
			}
		}
		if group.UID == "" {
			t.Fatalf("no merged event on Tuesday: %+v", tuesday)
		}
		if !strings.HasPrefix(group.Summary, "Stretches · 4 exercises, ") || !group.Alarm || group.Status != "CONFIRMED" ||
			!groupURL.MatchString(group.URL) || !strings.Contains(group.Description, "Check in: "+group.URL) {
			t.Errorf("the merged event: %+v", group)
		}
		for _, name := range []string{"• Knee to chest: 3 × 15 seconds", "• Figure-4 stretch", "• Back-of-thigh stretch", "• Knees to the side"} {
			if !strings.Contains(group.Description, name) {
				t.Errorf("the merged event's description lacks %q:\n%s", name, group.Description)
			}
		}
		if strings.Contains(group.Description+group.URL, l.CheckinURL) {
			t.Error("the merged event carries the check-in link")
		}

		// The group's page shows the four, and records them.
		path := strings.TrimPrefix(group.URL, e.URL)
		b := newBrowser(e)
		p := b.send("GET", path, nil)
		p.want(t, "the group's page", http.StatusOK, "Your sessions", "Knee to chest", "Figure-4 stretch", "You can record this session from its day on")
		if strings.Contains(p.body, `name="kind"`) || strings.Contains(p.body, "/c/") {
			t.Error("the group's page offers more than its sessions")
		}
		// Tuesday is in the future: nothing to record yet.
		if strings.Contains(p.body, `value="done"`) {
			t.Error("a future group offers Done")
		}
		seq := group.Sequence

		// A flare changes every member's dose: the same event, a higher
		// SEQUENCE.
		e.JSON("POST", strings.TrimPrefix(l.CheckinURL, e.URL)+"/checkins", "", `{"kind":"flare"}`, 201, nil)
		after := calEvents(t, e, l.FeedURL)[group.UID]
		if after.UID == "" || after.Sequence <= seq || after.Summary == group.Summary && after.Description == group.Description {
			t.Errorf("after a flare: %+v (SEQUENCE was %d)", after, seq)
		}
		// A pause cancels them: still the same event, cancelled, higher.
		e.JSON("POST", strings.TrimPrefix(l.CheckinURL, e.URL)+"/checkins", "", `{"kind":"red_flag","answers":["fall_injury"]}`, 201, nil)
		paused := calEvents(t, e, l.FeedURL)[group.UID]
		if paused.Status != "CANCELLED" || paused.Sequence <= after.Sequence || paused.Alarm {
			t.Errorf("after a pause: %+v (SEQUENCE was %d)", paused, after.Sequence)
		}
	})
}

// Today's group: each session on its own, or all at once.
func TestGroupLinkRecordsItsSessions(t *testing.T) {
	e := sqliteEnv(t)
	l := e.AddPatient("S", "", "Europe/Berlin", "stretching", monday)
	var today calEvent
	for _, ev := range calEvents(t, e, l.FeedURL) {
		if ev.Start == "20261123T180000Z" {
			today = ev
		}
	}
	path := strings.TrimPrefix(today.URL, e.URL)
	b := newBrowser(e)
	p := b.send("GET", path, nil)
	ids := regexp.MustCompile(`name="session" value="(\d+)"`).FindAllStringSubmatch(p.body, -1)
	if len(ids) != 4 {
		t.Fatalf("today's group offers %d sessions, want 4:\n%s", len(ids), p.body)
	}
	asg := onlyAssignment(t, e, l.ID)
	b.send("POST", path, url.Values{"session": {ids[0][1]}, "status": {"skipped"}}).redirectedTo(t, "one skipped", path+"?saved=1")
	if st := statuses(t, e, asg)["knee-to-chest 2026-11-23 19:00"]; st != programs.Skipped {
		t.Errorf("the first session after skipping it: %q", st)
	}
	p = b.send("GET", path+"?saved=1", nil)
	p.want(t, "after one", http.StatusOK, "Saved. Thank you.", "Done all 3")
	b.send("POST", path, url.Values{"status": {"done"}}).redirectedTo(t, "the rest", path+"?saved=1")
	st := statuses(t, e, asg)
	for _, a := range []string{"figure-four", "hamstring-strap", "trunk-rotation"} {
		if st[a+" 2026-11-23 19:00"] != programs.Done {
			t.Errorf("%s after Done all: %q", a, st[a+" 2026-11-23 19:00"])
		}
	}
	if st["knee-to-chest 2026-11-23 19:00"] != programs.Skipped {
		t.Error("Done all changed the skipped session")
	}
	// JSON, as a Done button posts: all done already.
	code, body, _ := e.Do("POST", today.URL, "", `{"status":"done"}`)
	if code != http.StatusConflict {
		t.Errorf("Done all again: %d %s, want 409", code, body)
	}
	// A session not in the group (another patient's) cannot be named
	// through this link.
	other := e.AddPatient("O", "", "Europe/Berlin", "walking", monday)
	theirs := statuses(t, e, onlyAssignment(t, e, other.ID))
	code, _, _ = e.Do("POST", today.URL, "", fmt.Sprintf(`{"status":"done","session":%d}`, 999999))
	if code != http.StatusConflict {
		t.Errorf("a session not in the group: %d, want 409", code)
	}
	if after := statuses(t, e, onlyAssignment(t, e, other.ID)); fmt.Sprint(after) != fmt.Sprint(theirs) {
		t.Error("the other patient's plan changed")
	}
}
