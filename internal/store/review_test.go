package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"pacer/programs"
)

// The review's selection: the zones in use, each once, and a zone's
// patients whose active plan is of an earlier day than today (or was never
// stored), a page at a time.
func TestZonesAndPatientsBehind(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		today := programs.MakeDate(2026, 3, 12)
		zoned := func(name, zone string) Patient {
			p := mkPatient(t, s, th.ID, name)
			if err := s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
				p.Timezone = zone
				return tx.SetPatient(p)
			}); err != nil {
				t.Fatal(err)
			}
			return p
		}
		planned := func(p Patient, on programs.Date) Assignment {
			a := mkAssignment(t, s, p.ID)
			if err := s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
				_, err := tx.SavePlan(a.ID, plan(a.Start), Plan{Header: PlanHeader{RulesVersion: 1, Now: on}}, nil,
					time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return a
		}
		b1, b2, b3 := zoned("B1", "Europe/Berlin"), zoned("B2", "Europe/Berlin"), zoned("B3", "Europe/Berlin")
		k := zoned("K", "Asia/Kolkata")
		zoned("U", "UTC") // no assignment: never reviewed
		planned(b1, today.AddDays(-1))
		planned(b2, today)        // current
		mkAssignment(t, s, b3.ID) // never planned
		planned(k, today.AddDays(-1))
		ended := zoned("E", "Europe/Berlin")
		a := planned(ended, today.AddDays(-3))
		if err := s.WithPatient(ctx, ended.ID, func(tx *PatientTx) error {
			a.Status = "ended"
			return tx.SetAssignment(a)
		}); err != nil {
			t.Fatal(err)
		}

		zones, err := s.ZonesInUse(ctx)
		if err != nil || !slices.Equal(zones, []string{"Asia/Kolkata", "Europe/Berlin", "UTC"}) {
			t.Errorf("zones in use %v, %v", zones, err)
		}
		behind, err := s.PatientsBehind(ctx, "Europe/Berlin", today, 0, 10)
		if err != nil || !slices.Equal(behind, []int64{b1.ID, b3.ID}) {
			t.Errorf("behind in Berlin %v, %v; want %d and %d", behind, err, b1.ID, b3.ID)
		}
		page, err := s.PatientsBehind(ctx, "Europe/Berlin", today, b1.ID, 1)
		if err != nil || !slices.Equal(page, []int64{b3.ID}) {
			t.Errorf("the page after %d: %v, %v", b1.ID, page, err)
		}
		if behind, err := s.PatientsBehind(ctx, "Europe/Berlin", today.AddDays(-1), 0, 10); err != nil || !slices.Equal(behind, []int64{b3.ID}) {
			t.Errorf("behind yesterday %v, %v", behind, err)
		}
		if behind, err := s.PatientsBehind(ctx, "Asia/Kolkata", today, 0, 10); err != nil || !slices.Equal(behind, []int64{k.ID}) {
			t.Errorf("behind in Kolkata %v, %v", behind, err)
		}
		ps, err := s.ActivePatientsAfter(ctx, b1.ID, 10)
		if err != nil || len(ps) != 3 || ps[0].ID != b2.ID {
			t.Errorf("active patients after %d: %v, %v", b1.ID, ps, err)
		}
	})
}

// WithPatients keeps each patient's writes atomic: a patient whose fn fails
// (or who is gone) is rolled back alone, and the others commit.
func TestWithPatientsRollsBackOnlyTheFailingPatient(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		a, b, c := mkPatient(t, s, th.ID, "A"), mkPatient(t, s, th.ID, "B"), mkPatient(t, s, th.ID, "C")
		bad := errors.New("bad input")
		errs, err := s.WithPatients(ctx, []int64{a.ID, b.ID, c.ID, c.ID + 100}, func(tx *PatientTx) error {
			p := tx.Patient
			p.Name += " renamed"
			if err := tx.SetPatient(p); err != nil {
				return err
			}
			if p.ID == b.ID {
				return bad // after its write: the savepoint must undo it
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 4 || errs[0] != nil || !errors.Is(errs[1], bad) || errs[2] != nil || !errors.Is(errs[3], ErrNotFound) {
			t.Fatalf("errors %v", errs)
		}
		for _, want := range []struct {
			id   int64
			name string
		}{{a.ID, "A renamed"}, {b.ID, "B"}, {c.ID, "C renamed"}} {
			p, err := s.Patient(ctx, th.ID, want.id)
			if err != nil || p.Name != want.name {
				t.Errorf("patient %d: %q, %v; want %q", want.id, p.Name, err, want.name)
			}
		}
	})
}
