package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"pacer/internal/clinic"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/programs"
)

// patientWithData creates a patient of therapist A with a walking program, two
// check-ins and an override, and returns its links and assignment.
func patientWithData(t *testing.T, e *env, name string) (patientLinks, assignmentJSON) {
	t.Helper()
	var links patientLinks
	e.JSON("POST", "/api/v1/patients", e.TokenA, fmt.Sprintf(`{"name":%q,"email":"p@example.org","timezone":"Europe/Berlin"}`, name), 201, &links)
	var asg assignmentJSON
	e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), e.TokenA,
		`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":20}}`, 201, &asg)
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"daily","pain":3}`, 201, nil)
	e.JSON("POST", links.CheckinURL+"/checkins", "", `{"kind":"session","activity":"walk","status":"done","dose":8}`, 201, nil)
	e.JSON("PATCH", fmt.Sprintf("/api/v1/assignments/%d", asg.ID), e.TokenA, `{"from":"2026-11-30","dose":{"walk":9}}`, 200, nil)
	return links, asg
}

func exportOf(t *testing.T, e *env, id int64) clinic.Export {
	t.Helper()
	var x clinic.Export
	e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d/export", id), e.TokenA, "", 200, &x)
	x.ExportedAt = x.ExportedAt.UTC()
	return x
}

func TestExportAndErasure(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := t.Context()
		gone, goneAsg := patientWithData(t, e, "Gone")
		kept, _ := patientWithData(t, e, "Kept")

		code, body, h := e.Do("GET", fmt.Sprintf("/api/v1/patients/%d/export", gone.ID), e.TokenA, "")
		if code != 200 || h.Get("Content-Disposition") != fmt.Sprintf(`attachment; filename="pacer-patient-%d.json"`, gone.ID) ||
			h.Get("Cache-Control") != "no-store" {
			t.Fatalf("export: %d %v", code, h)
		}
		var x clinic.Export
		if err := json.Unmarshal(body, &x); err != nil {
			t.Fatal(err)
		}
		if x.Patient.ID != gone.ID || x.Patient.Name != "Gone" || x.Patient.Email != "p@example.org" || x.Patient.Timezone != "Europe/Berlin" {
			t.Errorf("patient %+v", x.Patient)
		}
		if len(x.Assignments) != 1 || x.Assignments[0].ID != goneAsg.ID || !strings.Contains(x.Assignments[0].Program, "id: walking") ||
			!strings.Contains(string(x.Assignments[0].Params), `"baseline"`) {
			t.Errorf("assignments %+v", x.Assignments)
		}
		if len(x.CheckIns) != 2 || x.CheckIns[0].Kind != programs.DailyCheckIn || *x.CheckIns[0].Pain != 3 ||
			x.CheckIns[1].AssignmentID != goneAsg.ID || x.CheckIns[1].Status != programs.Done {
			t.Errorf("check-ins %+v", x.CheckIns)
		}
		if len(x.Overrides) != 1 || x.Overrides[0].Kind != programs.DoseOverride || x.Overrides[0].Value != 9 {
			t.Errorf("overrides %+v", x.Overrides)
		}
		// The stored decisions come with their facts and their reasons in
		// the patient's language: week 1 starts walking at 80% of the
		// baseline of 10 minutes.
		var start *clinic.ExportWeek
		for i, w := range x.Weeks {
			if w.Week == 1 && w.Activity == "walk" {
				start = &x.Weeks[i]
			}
		}
		if len(x.Sessions) == 0 || start == nil || start.Code != programs.Start || start.Facts.Baseline != 10 ||
			start.Facts.Dose != 8 || !strings.Contains(start.Reason, "10 minutes") || strings.Contains(start.Reason, "{{") {
			t.Errorf("%d sessions, week 1's walk %+v in weeks %+v", len(x.Sessions), start, x.Weeks)
		}
		// The patient was created with an email: the email channel and the
		// default reminder settings come with the export.
		var ch0 map[string]string
		if len(x.Channels) == 1 {
			json.Unmarshal(x.Channels[0], &ch0)
		}
		if ch0["address"] != "p@example.org" ||
			x.NotifySettings.QuietStart.String() != "21:30" || x.NotifySettings.NudgeHours != 3 || x.Reminders == nil {
			t.Errorf("reminder data: channels %s, settings %+v, reminders %v", x.Channels, x.NotifySettings, x.Reminders)
		}
		done := map[int64]bool{}
		for _, s := range x.Sessions {
			done[s.ID] = s.Status == programs.Done
		}
		checked := 0
		for _, r := range x.Reminders {
			if done[r.SessionID] && r.Status == "skipped" {
				checked++
				if r.SkipReason != "checked_in" {
					t.Errorf("a reminder of a checked-in session skipped as %q", r.SkipReason)
				}
			}
		}
		if checked == 0 {
			t.Error("the checked-in session's reminders were not skipped")
		}
		// An export file travels: no capability token in it.
		for _, u := range []string{gone.FeedURL, gone.CheckinURL} {
			tok := u[strings.LastIndexByte(u, '/')+1:]
			tok = strings.TrimSuffix(tok, ".ics")
			if strings.Contains(string(body), tok) {
				t.Errorf("the export holds a token of %s", u)
			}
		}

		// Another therapist: 404 for both, and nothing changes.
		for _, method := range []string{"GET", "DELETE"} {
			path := fmt.Sprintf("/api/v1/patients/%d", gone.ID)
			if method == "GET" {
				path += "/export"
			}
			if code, body, _ := e.Do(method, path, e.TokenB, ""); code != 404 || !strings.Contains(string(body), "patient not found") {
				t.Errorf("%s %s as another therapist: %d %s", method, path, code, body)
			}
		}
		if again := exportOf(t, e, gone.ID); !reflect.DeepEqual(again.Sessions, x.Sessions) || len(again.CheckIns) != 2 {
			t.Error("another therapist's attempts changed the patient")
		}
		keptBefore := exportOf(t, e, kept.ID)

		code, body, _ = e.Do("DELETE", fmt.Sprintf("/api/v1/patients/%d", gone.ID), e.TokenA, "")
		if code != 204 || len(body) != 0 {
			t.Fatalf("erasure: %d %s", code, body)
		}
		for _, r := range []struct{ method, path, token string }{
			{"GET", fmt.Sprintf("/api/v1/patients/%d", gone.ID), e.TokenA},
			{"GET", fmt.Sprintf("/api/v1/patients/%d/export", gone.ID), e.TokenA},
			{"DELETE", fmt.Sprintf("/api/v1/patients/%d", gone.ID), e.TokenA},
			{"GET", fmt.Sprintf("/api/v1/assignments/%d/plan", goneAsg.ID), e.TokenA},
			{"GET", gone.FeedURL, ""},
			{"GET", gone.CheckinURL, ""},
		} {
			if code, _, _ := e.Do(r.method, r.path, r.token, ""); code != 404 {
				t.Errorf("%s %s after erasure: %d, want 404", r.method, r.path, code)
			}
		}
		th, err := e.Store.TherapistByAPIToken(ctx, store.HashToken(e.TokenA), e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.PatientData(ctx, th.ID, gone.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the store still has the patient: %v", err)
		}
		if xs, err := e.Store.Sessions(ctx, gone.ID, 0, 1<<20); err != nil || len(xs) != 0 {
			t.Errorf("%d sessions left (%v)", len(xs), err)
		}
		if cs, err := e.Store.CheckIns(ctx, gone.ID, goneAsg.ID); err != nil || len(cs) != 0 {
			t.Errorf("%d check-ins left (%v)", len(cs), err)
		}

		keptAfter := exportOf(t, e, kept.ID)
		keptAfter.ExportedAt = keptBefore.ExportedAt
		if !reflect.DeepEqual(keptAfter, keptBefore) {
			t.Errorf("the other patient changed:\n%+v\nwas\n%+v", keptAfter, keptBefore)
		}
		if code, _, _ := e.Do("GET", kept.FeedURL, "", ""); code != 200 {
			t.Errorf("the other patient's feed: %d", code)
		}
	})
}
