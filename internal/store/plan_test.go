package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"pacer/programs"
)

// What a re-plan stores of a plan besides its sessions comes back as it was
// written, and is rewritten only when it changed.
func TestPlanStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		if _, err := s.Plan(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("plan of an assignment never planned: %v, want ErrNotFound", err)
		}
		flare := a.Start.AddDays(9)
		want := Plan{
			Header: PlanHeader{AssignmentID: a.ID, PatientID: p.ID, RulesVersion: programs.RulesVersion, Now: a.Start.AddDays(10),
				Weeks: 2, Pause: programs.PausedByRedFlag, PausedOn: a.Start.AddDays(10), Answers: []string{"night_pain"},
				FlareOn: flare, Persistent: false},
			Weeks: []PlanWeek{
				{Week: 1, Start: a.Start, Decision: programs.Decision{Code: programs.Start, Activity: "walk",
					Facts: programs.Facts{Dose: 8, Percent: 80, Baseline: 10}}, Signals: &programs.Signals{Function: 6, Symptoms: 4, Confidence: 7}},
				{Week: 1, Activity: "walk", Start: a.Start, Decision: programs.Decision{Code: programs.Start, Activity: "walk",
					Facts: programs.Facts{Dose: 8, Percent: 80, Baseline: 10}}, Unit: programs.Minutes, Dose: 8, Sets: 1, Goal: 30,
					Threshold: 20, Ceiling: 18, Done: 4, Planned: 5},
				{Week: 2, Start: a.Start.AddDays(7), Projected: true, Decision: programs.Decision{Code: programs.Progress, Activity: "walk",
					Facts: programs.Facts{Dose: 9, Prev: 8, Done: 4, Planned: 5}}},
				{Week: 2, Activity: "walk", Start: a.Start.AddDays(7), Projected: true, Decision: programs.Decision{Code: programs.Progress,
					Activity: "walk", Facts: programs.Facts{Dose: 9, Prev: 8, Done: 4, Planned: 5}}, Unit: programs.Minutes, Dose: 9, Sets: 1,
					Goal: 30, Threshold: 9, Learned: true, Ceiling: 8, Done: 5, Planned: 5},
			},
			Events: []PlanEvent{{Week: 2, Seq: 1, Event: programs.Event{Date: flare, Code: programs.FlareStepBack,
				Facts: programs.Facts{Flare: flare, From: flare.AddDays(1), Doses: []programs.ActivityDose{{Activity: "walk", Dose: 4}}}}}},
		}
		x := plan(a.Start)
		x[0].Cause, x[0].Shown, x[0].Status, x[0].Actual, x[0].Pain = 1, "d1", programs.Done, 7, intp(3)
		at := time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC)
		save := func(xs []Session, p2 Plan) int {
			t.Helper()
			var n int
			if err := s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
				var err error
				n, err = tx.SavePlan(a.ID, xs, p2, nil, at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		save(x, want)
		got, err := s.Plan(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.Header.PlannedAt, want.Header.Digest = at, PlanDigest(x, want.Weeks, want.Events)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stored plan\n got %+v\nwant %+v", got, want)
		}
		stored, _ := s.AssignmentSessions(ctx, a.ID)
		if y := stored[0]; y.Cause != 1 || y.Shown != "d1" || y.Status != programs.Done || y.Actual != 7 || *y.Pain != 3 {
			t.Errorf("stored session %+v", y)
		}

		// A change of what a calendar shows (Shown) raises the revision; a
		// change of the record (status, actual, pain) does not.
		x[1].Shown, x[2].Status, x[2].Actual = "reworded", programs.Done, 10
		if n := save(x, want); n != 1 {
			t.Errorf("changed %d sessions, want 1 (only the reworded one)", n)
		}
		after, _ := s.AssignmentSessions(ctx, a.ID)
		byKey := map[sessionKey]Session{}
		for _, y := range after {
			byKey[keyOf(&y)] = y
		}
		if y := byKey[keyOf(&x[1])]; y.Revision != 1 {
			t.Errorf("reworded session revision %d, want 1", y.Revision)
		}
		if y := byKey[keyOf(&x[2])]; y.Revision != 0 || y.Status != programs.Done || y.Actual != 10 {
			t.Errorf("checked-in session %+v, want revision 0, done, 10", y)
		}

		// A session no longer in the plan is cancelled as dropped.
		save(x[1:], want)
		if y, _ := s.AssignmentSessions(ctx, a.ID); y[0].Status != programs.Cancelled || y[0].Cause != CauseDropped {
			t.Errorf("dropped session %+v", y[0])
		}
	})
}

// A database of the release before plans were stored (schema 3, with
// English decisions) migrates: the decisions go, sessions keep their rows
// and gain the new columns, and its patients are stale until re-planned.
func TestMigrateFromSentencesToFacts(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s := openStore(t, dsn)
		ms := must(migrations(s.Dialect()))
		for {
			done, err := s.migrateOne(ctx, ms[:3])
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		var aID int64
		if err := s.w.QueryRowContext(ctx, s.q(`INSERT INTO assignments (patient_id, program_id, program, start_date, params,
				status, created_at, updated_at) VALUES (?, 'walking', ?, ?, '{}', 'active', 0, 0) RETURNING id`),
			p.ID, template(t, "walking").YAML(), int64(programs.MakeDate(2026, 3, 2))).Scan(&aID); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO sessions (assignment_id, patient_id, activity, date, slot, time, dose, sets, unit, week, status,
				projected, revision, updated_at) VALUES (?, ?, 'walk', 20514, 0, 450, 8, 1, 'minutes', 1, 'done', ` + s.falseValue() + `, 3, 0)`,
			`INSERT INTO decisions (assignment_id, week, activity, code, reason) VALUES (?, 1, '', 'START', 'Start at 80% of your baseline of 10 minutes.')`,
		} {
			args := []any{aID}
			if strings.Contains(q, "sessions") {
				args = append(args, p.ID)
			}
			if _, err := s.w.ExecContext(ctx, s.q(q), args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		xs, err := s.AssignmentSessions(ctx, aID)
		if err != nil || len(xs) != 1 || xs[0].Revision != 3 || xs[0].Status != programs.Done || xs[0].Cause != 0 || xs[0].Shown != "" {
			t.Fatalf("sessions after the migration: %+v, %v", xs, err)
		}
		if stale, err := s.StalePatients(ctx, programs.RulesVersion); err != nil || !reflect.DeepEqual(stale, []int64{p.ID}) {
			t.Errorf("stale patients %v, %v; want the patient", stale, err)
		}
		var n int
		err = s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM decisions`).Scan(&n)
		if err == nil {
			t.Error("the decisions table is still there")
		}
	})
}

// PlanDigest writes each field of programs.Facts; one it does not know
// would let two different plans share a digest.
func TestPlanDigestKnowsEveryFact(t *testing.T) {
	if n := reflect.TypeFor[programs.Facts]().NumField(); n != factsFields {
		t.Errorf("programs.Facts has %d fields; appendFacts writes %d: add the new ones", n, factsFields)
	}
	// PlanDigest writes every field of a session but its id, its
	// assignment and patient, its revision and when it changed (21 in all),
	// and every field of a plan week (15) and event.
	if n := reflect.TypeFor[Session]().NumField(); n != 21 {
		t.Errorf("Session has %d fields, PlanDigest knows 21: digest the new ones", n)
	}
	if n := reflect.TypeFor[PlanWeek]().NumField(); n != 15 {
		t.Errorf("PlanWeek has %d fields, PlanDigest knows 15: digest the new ones", n)
	}
	if n := reflect.TypeFor[programs.Event]().NumField(); n != 4 {
		t.Errorf("programs.Event has %d fields, PlanDigest knows 4: digest the new ones", n)
	}
	a := []PlanWeek{{Week: 1, Decision: programs.Decision{Facts: programs.Facts{Doses: []programs.ActivityDose{{Activity: "walk", Dose: 4}}}}}}
	b := []PlanWeek{{Week: 1, Decision: programs.Decision{Facts: programs.Facts{Doses: []programs.ActivityDose{{Activity: "walk", Dose: 5}}}}}}
	if PlanDigest(nil, a, nil) == PlanDigest(nil, b, nil) {
		t.Error("two plans whose facts differ share a digest")
	}
}

// sameFacts and the digest tell apart two facts that differ in any one
// field, and hold a nil list and an empty one the same, as their JSON does.
func TestSameFactsSeesEveryField(t *testing.T) {
	typ := reflect.TypeFor[programs.Facts]()
	for i := range typ.NumField() {
		var f programs.Facts
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Kind() {
		case reflect.Int, reflect.Int32:
			v.SetInt(3)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
			if e := v.Index(0); e.Kind() == reflect.String {
				e.SetString("x")
			}
		default:
			t.Fatalf("field %s is a %s: teach this test to set it", typ.Field(i).Name, v.Kind())
		}
		if sameFacts(programs.Facts{}, f) {
			t.Errorf("sameFacts holds the zero facts the same as facts with %s set", typ.Field(i).Name)
		}
		w := func(f programs.Facts) []PlanWeek { return []PlanWeek{{Decision: programs.Decision{Facts: f}}} }
		if PlanDigest(nil, w(programs.Facts{}), nil) == PlanDigest(nil, w(f), nil) {
			t.Errorf("the digest does not see %s", typ.Field(i).Name)
		}
	}
	if !sameFacts(programs.Facts{Answers: []string{}, Known: []string{}}, programs.Facts{}) {
		t.Error("sameFacts holds an empty list and none apart; their JSON is the same")
	}
	// Strings are delimited by their length: moving a character from one
	// to the next makes another digest.
	x := []Session{{Activity: "ab", Status: "c"}}
	y := []Session{{Activity: "a", Status: "bc"}}
	if PlanDigest(x, nil, nil) == PlanDigest(y, nil, nil) {
		t.Error("two sessions whose activity and status split the same characters differently share a digest")
	}
}
