package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// serve --demo seeds a patient once, with four weeks of history in which
// every kind of decision the charts and pages show appears, and prints a
// sign-in link that works; a restart reuses the patient.
func TestDemo(t *testing.T) {
	s := testserver.New(t, testkit.SQLite(t))
	demo, err := s.Daemon.SeedDemo(t.Context(), "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if !demo.Seeded {
		t.Fatal("the first start did not seed the demo patient")
	}
	again, err := s.Daemon.SeedDemo(t.Context(), "Europe/Berlin")
	if err != nil || again.Seeded || again.Patient != demo.Patient || again.SetupURL == demo.SetupURL {
		t.Fatalf("a restart: %+v, %v; want the same patient and a fresh link", again, err)
	}

	codes := map[programs.Code]bool{}
	events := map[programs.Code]bool{}
	done, missed := 0, 0
	for _, a := range s.Assignments(demo.Patient.ID) {
		var plan struct {
			Weeks []struct {
				Decision   struct{ Code programs.Code }
				Events     []struct{ Code programs.Code }
				Signals    *programs.Signals
				Activities []struct {
					Decision struct{ Code programs.Code }
					Sessions []struct{ Status programs.Status }
				}
			}
		}
		s.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", a), "", "", 401, nil)
		code, body, _ := s.Do("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", a), demo.APIToken, "")
		if code != http.StatusOK {
			t.Fatalf("the demo token cannot read the plan: %d %s", code, body)
		}
		if err := jsonUnmarshal(body, &plan); err != nil {
			t.Fatal(err)
		}
		signals := 0
		for _, w := range plan.Weeks {
			if w.Signals != nil {
				signals++
			}
			for _, e := range w.Events {
				events[e.Code] = true
			}
			for _, aw := range w.Activities {
				codes[aw.Decision.Code] = true
				for _, x := range aw.Sessions {
					switch x.Status {
					case programs.Done, programs.Partial:
						done++
					case programs.Missed:
						missed++
					}
				}
			}
		}
		if signals < 3 {
			t.Errorf("assignment %d: weekly signals in %d weeks, want the past weeks'", a, signals)
		}
	}
	if done < 20 || missed < 3 {
		t.Errorf("%d sessions done and %d missed; the history should hold both", done, missed)
	}
	for _, c := range []programs.Code{programs.Start, programs.FlareResume} {
		if !codes[c] {
			t.Errorf("no %s decision in the demo's plans (%v)", c, codes)
		}
	}
	if !events[programs.FlareStepBack] {
		t.Errorf("no flare step-back in the demo's plans (%v)", events)
	}

	// The printed link signs the therapist in, and their patient page shows
	// the charts with data.
	b := s.NewBrowser()
	if p := b.Post(strings.TrimPrefix(demo.SetupURL, s.URL), url.Values{"password": {"a demo passphrase"}, "confirm": {"a demo passphrase"}}); p.Code != http.StatusSeeOther {
		t.Fatalf("the demo's sign-in link: %d", p.Code)
	}
	p := b.Get(fmt.Sprintf("/patients/%d", demo.Patient.ID))
	if p.Code != http.StatusOK || strings.Count(p.Body, "<svg") < 2 || !strings.Contains(p.Body, "Demo patient") {
		t.Errorf("the demo patient's page: %d, %d charts", p.Code, strings.Count(p.Body, "<svg"))
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
