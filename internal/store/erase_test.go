package store

import (
	"reflect"
	"testing"
	"time"

	"pacer/programs"
)

// fillPatient gives p an assignment with sessions, decisions, a session and a
// patient-level check-in and an override.
func fillPatient(t *testing.T, s *Store, p Patient) Assignment {
	t.Helper()
	ctx := t.Context()
	a := mkAssignment(t, s, p.ID)
	decisions := []Decision{{Week: 1, Code: programs.Start}, {Week: 2, Code: programs.Progress}}
	if _, err := s.SaveSessions(ctx, a.ID, p.ID, plan(a.Start), decisions, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []CheckIn{
		{PatientID: p.ID, CheckIn: programs.CheckIn{Date: a.Start, Kind: programs.DailyCheckIn, Pain: intp(3)}},
		{PatientID: p.ID, AssignmentID: a.ID, CheckIn: programs.CheckIn{Date: a.Start, Kind: programs.SessionCheckIn,
			Activity: "walk", Status: programs.Done, Dose: intp(8), Time: clockp(7*60 + 30)}},
	} {
		if _, err := s.AddCheckIn(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddOverride(ctx, Override{AssignmentID: a.ID, Overriding: programs.Overriding{
		Date: a.Start.AddDays(7), Kind: programs.DoseOverride, Activity: "walk", Value: 9}}); err != nil {
		t.Fatal(err)
	}
	return a
}

// tablesWith lists the tables that have a column of the name.
func tablesWith(t *testing.T, s *Store, column string) []string {
	t.Helper()
	q := `SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c
		WHERE m.type = 'table' AND c.name = ? ORDER BY m.name`
	if s.dialect == Postgres {
		q = `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = $1 ORDER BY table_name`
	}
	rows, err := s.r.QueryContext(t.Context(), q, column)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

// rowsOf counts, in every table with a patient_id or assignment_id column,
// the rows of the patient or of its assignments.
func rowsOf(t *testing.T, s *Store, patientID int64, assignmentIDs []int64) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range tablesWith(t, s, "patient_id") {
		var n int
		if err := s.r.QueryRowContext(t.Context(), s.q(`SELECT COUNT(*) FROM `+table+` WHERE patient_id = ?`), patientID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table+".patient_id"] = n
	}
	for _, table := range tablesWith(t, s, "assignment_id") {
		for _, id := range assignmentIDs {
			var n int
			if err := s.r.QueryRowContext(t.Context(), s.q(`SELECT COUNT(*) FROM `+table+` WHERE assignment_id = ?`), id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			counts[table+".assignment_id"] += n
		}
	}
	var n int
	s.r.QueryRowContext(t.Context(), s.q(`SELECT COUNT(*) FROM patients WHERE id = ?`), patientID).Scan(&n)
	counts["patients"] = n
	return counts
}

func TestPatientDataAndErasure(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		setClock(s)
		a := mkTherapist(t, s, "a@example.org")
		b := mkTherapist(t, s, "b@example.org")
		gone := mkPatient(t, s, a.ID, "Gone")
		kept := mkPatient(t, s, a.ID, "Kept")
		goneA := fillPatient(t, s, gone)
		keptA := fillPatient(t, s, kept)

		d, err := s.PatientData(ctx, a.ID, gone.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Patient.ID != gone.ID || len(d.Assignments) != 1 || len(d.CheckIns) != 2 || len(d.Overrides) != 1 ||
			len(d.Sessions) != len(plan(goneA.Start)) || len(d.Plans) != 1 || len(d.Plans[0].Weeks) != 2 {
			t.Fatalf("patient data: %d assignments, %d check-ins, %d overrides, %d sessions, %d plans",
				len(d.Assignments), len(d.CheckIns), len(d.Overrides), len(d.Sessions), len(d.Plans))
		}
		for _, x := range d.Sessions {
			if x.PatientID != gone.ID {
				t.Errorf("another patient's session %+v", x)
			}
		}
		if d.CheckIns[1].AssignmentID != goneA.ID || d.CheckIns[0].AssignmentID != 0 || *d.CheckIns[1].CheckIn.Dose != 8 {
			t.Errorf("check-ins %+v", d.CheckIns)
		}
		if o := d.Overrides[0]; o.AssignmentID != goneA.ID || o.Kind != programs.DoseOverride || o.Value != 9 {
			t.Errorf("override %+v", o)
		}
		_, err = s.PatientData(ctx, b.ID, gone.ID)
		wantNotFound(t, "another therapist's export", err)

		keptBefore, err := s.PatientData(ctx, a.ID, kept.ID)
		if err != nil {
			t.Fatal(err)
		}
		keptRows := rowsOf(t, s, kept.ID, []int64{keptA.ID})
		goneRows := rowsOf(t, s, gone.ID, []int64{goneA.ID})
		for _, k := range []string{"patients", "assignments.patient_id", "checkins.patient_id", "sessions.patient_id",
			"overrides.assignment_id", "plans.patient_id", "plan_weeks.assignment_id"} {
			if goneRows[k] == 0 {
				t.Errorf("the fixture has no rows in %s", k)
			}
		}

		wantNotFound(t, "another therapist's erasure", s.ErasePatient(ctx, b.ID, gone.ID))
		if got := rowsOf(t, s, gone.ID, []int64{goneA.ID}); !reflect.DeepEqual(got, goneRows) {
			t.Errorf("a refused erasure changed rows: %v, was %v", got, goneRows)
		}

		if err := s.ErasePatient(ctx, a.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
		for k, n := range rowsOf(t, s, gone.ID, []int64{goneA.ID}) {
			if n != 0 {
				t.Errorf("after erasure %s still holds %d rows of the patient", k, n)
			}
		}
		_, err = s.PatientData(ctx, a.ID, gone.ID)
		wantNotFound(t, "an erased patient", err)
		wantNotFound(t, "erasing twice", s.ErasePatient(ctx, a.ID, gone.ID))

		if got := rowsOf(t, s, kept.ID, []int64{keptA.ID}); !reflect.DeepEqual(got, keptRows) {
			t.Errorf("the other patient's rows changed: %v, was %v", got, keptRows)
		}
		keptAfter, err := s.PatientData(ctx, a.ID, kept.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(keptAfter, keptBefore) {
			t.Errorf("the other patient's data changed:\n%+v\nwas\n%+v", keptAfter, keptBefore)
		}
		if _, err := s.TherapistByEmail(ctx, "a@example.org"); err != nil {
			t.Errorf("the therapist went with the patient: %v", err)
		}
	})
}

func TestDeleteOldSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		active := fillPatient(t, s, p)
		ended := fillPatient(t, s, p)
		if _, err := s.w.ExecContext(ctx, s.q(`UPDATE assignments SET status = 'ended' WHERE id = ?`), ended.ID); err != nil {
			t.Fatal(err)
		}
		count := func(id int64) int {
			var n int
			s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM sessions WHERE assignment_id = ?`), id).Scan(&n)
			return n
		}
		all := count(ended.ID)
		// plan(start) spans 14 days; keep from the 8th on.
		cut := ended.Start.AddDays(7)
		n, err := s.DeleteOldSessions(ctx, cut)
		if err != nil {
			t.Fatal(err)
		}
		var left int
		s.r.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM sessions WHERE assignment_id = ? AND date < ?`), ended.ID, int64(cut)).Scan(&left)
		if n == 0 || left != 0 || count(ended.ID) != all-int(n) {
			t.Errorf("ended assignment: deleted %d of %d, %d before the cut left", n, all, left)
		}
		if got := count(active.ID); got != len(plan(active.Start)) {
			t.Errorf("an active assignment lost sessions: %d left of %d", got, len(plan(active.Start)))
		}
		if n, err := s.DeleteOldSessions(ctx, cut); err != nil || n != 0 {
			t.Errorf("a second run deleted %d, %v", n, err)
		}
	})
}

func TestCurrentDecisions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		th := mkTherapist(t, s, "t@example.org")
		a := fillPatient(t, s, mkPatient(t, s, th.ID, "A"))
		fillPatient(t, s, mkPatient(t, s, th.ID, "B"))
		for _, x := range []struct {
			today programs.Date
			want  map[string]int
		}{
			{a.Start.AddDays(-1), map[string]int{}},
			{a.Start, map[string]int{string(programs.Start): 2}},
			{a.Start.AddDays(6), map[string]int{string(programs.Start): 2}},
			{a.Start.AddDays(7), map[string]int{string(programs.Progress): 2}},
			{a.Start.AddDays(14), map[string]int{}}, // no decision stored for week 3
		} {
			got, err := s.CurrentDecisions(t.Context(), x.today)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, x.want) {
				t.Errorf("on %s: %v, want %v", x.today, got, x.want)
			}
		}
	})
}
