package store

import (
	"reflect"
	"testing"
	"time"

	"pacer/programs"
)

func TestKnownRedFlagsAndAcknowledgements(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		clock := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		other := mkPatient(t, s, th.ID, "Q")
		a := mkAssignment(t, s, p.ID)
		day := a.Start.AddDays(3)
		screen, err := s.AddCheckIn(ctx, CheckIn{PatientID: p.ID, CheckIn: programs.CheckIn{Date: day, Kind: programs.RedFlagCheckIn,
			Answers: []string{"night_pain"}}})
		if err != nil {
			t.Fatal(err)
		}
		daily, err := s.AddCheckIn(ctx, CheckIn{PatientID: p.ID, CheckIn: programs.CheckIn{Date: day, Kind: programs.DailyCheckIn, Pain: intp(4)}})
		if err != nil {
			t.Fatal(err)
		}
		sts, err := s.PatientStatuses(ctx, th.ID)
		if err != nil || sts[0].Unacknowledged != 1 || sts[1].Unacknowledged != 0 {
			t.Fatalf("statuses %+v, %v: want P with one unacknowledged screen", sts, err)
		}

		var marked KnownRedFlag
		err = s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
			k, fresh, err := tx.MarkRedFlagKnown("weight_loss_cancer", day, th.ID, time.Time{})
			if err != nil || !fresh {
				t.Errorf("first marking: %+v %v %v", k, fresh, err)
			}
			again, fresh, err := tx.MarkRedFlagKnown("weight_loss_cancer", day.AddDays(1), th.ID, time.Time{})
			if err != nil || fresh || again.ID != k.ID || again.Since != day {
				t.Errorf("marking a marked item again: %+v %v %v, want the first marking", again, fresh, err)
			}
			marked = k
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := clock.Now().Truncate(time.Millisecond).UTC(); !marked.MarkedAt.Equal(want) || marked.MarkedBy != th.ID || !marked.Marked() {
			t.Errorf("marking %+v, want marked at %v by %d", marked, want, th.ID)
		}
		clock.Add(time.Hour)
		err = s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
			if ok, err := tx.UnmarkRedFlagKnown("weight_loss_cancer", day.AddDays(2), th.ID, time.Time{}); err != nil || !ok {
				t.Errorf("unmark: %v %v", ok, err)
			}
			if ok, err := tx.UnmarkRedFlagKnown("weight_loss_cancer", day.AddDays(2), th.ID, time.Time{}); err != nil || ok {
				t.Errorf("unmarking an unmarked item: %v %v, want false", ok, err)
			}
			// Marked again: a new row; the ended one stays for the past.
			_, fresh, err := tx.MarkRedFlagKnown("weight_loss_cancer", day.AddDays(2), th.ID, time.Time{})
			if err != nil || !fresh {
				t.Errorf("marking again after un-marking: %v %v", fresh, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ks, err := s.KnownRedFlags(ctx, p.ID)
		if err != nil || len(ks) != 2 {
			t.Fatalf("markings %+v, %v", ks, err)
		}
		if ks[0].Marked() || ks[0].Until != day.AddDays(2) || ks[0].UnmarkedBy != th.ID || !ks[1].Marked() {
			t.Errorf("markings %+v", ks)
		}
		if e := ks[0].Engine(); e.ID != "weight_loss_cancer" || e.Since != day || e.Until != day.AddDays(2) || e.UntilAt.IsZero() {
			t.Errorf("as the engine reads it: %+v", e)
		}
		if ks, _ := s.KnownRedFlags(ctx, other.ID); len(ks) != 0 {
			t.Errorf("another patient has markings: %+v", ks)
		}

		// Acknowledging: a red-flag screen of the patient's only, once.
		err = s.WithPatient(ctx, other.ID, func(tx *PatientTx) error {
			_, err := tx.AcknowledgeRedFlag(screen.ID, th.ID, time.Time{})
			wantNotFound(t, "another patient's screen", err)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var first RedFlagAck
		err = s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
			_, err := tx.AcknowledgeRedFlag(daily.ID, th.ID, time.Time{})
			wantNotFound(t, "a daily check-in", err)
			if first, err = tx.AcknowledgeRedFlag(screen.ID, th.ID, time.Time{}); err != nil {
				return err
			}
			clock.Add(time.Minute)
			again, err := tx.AcknowledgeRedFlag(screen.ID, th.ID, time.Time{})
			if err != nil || again != first {
				t.Errorf("acknowledging twice: %+v %v, want the first %+v", again, err, first)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		acks, err := s.RedFlagAcks(ctx, p.ID)
		if err != nil || len(acks) != 1 || acks[0].CheckInID != screen.ID || acks[0].TherapistID != th.ID {
			t.Errorf("acknowledgements %+v, %v", acks, err)
		}
		if sts, _ := s.PatientStatuses(ctx, th.ID); sts[0].Unacknowledged != 0 {
			t.Errorf("an acknowledged screen still counts: %+v", sts[0])
		}
		// A screen whose only yes is a marked item needs no acknowledgement;
		// one that says it is worse does.
		for _, c := range []programs.CheckIn{
			{Date: day.AddDays(3), Kind: programs.RedFlagCheckIn, Answers: []string{"weight_loss_cancer"}},
			{Date: day.AddDays(3), Kind: programs.RedFlagCheckIn, Answers: []string{"weight_loss_cancer"}, Worse: []string{"weight_loss_cancer"}},
			{Date: day.AddDays(3), Kind: programs.RedFlagCheckIn},
		} {
			if _, err := s.AddCheckIn(ctx, CheckIn{PatientID: p.ID, CheckIn: c}); err != nil {
				t.Fatal(err)
			}
		}
		if sts, _ := s.PatientStatuses(ctx, th.ID); sts[0].Unacknowledged != 1 {
			t.Errorf("unacknowledged %d, want 1 (the worse answer)", sts[0].Unacknowledged)
		}

		// The export holds them; erasure takes them.
		d, err := s.PatientData(ctx, th.ID, p.ID)
		if err != nil || len(d.KnownRedFlags) != 2 || !reflect.DeepEqual(d.RedFlagAcks, acks) {
			t.Errorf("patient data: %+v %+v, %v", d.KnownRedFlags, d.RedFlagAcks, err)
		}
		if err := s.ErasePatient(ctx, th.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		for k, n := range rowsOf(t, s, p.ID, []int64{a.ID}) {
			if n != 0 {
				t.Errorf("after erasure %s still holds %d rows", k, n)
			}
		}
	})
}
