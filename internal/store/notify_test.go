package store

import (
	"errors"
	"testing"
	"time"

	"pacer/internal/testkit"
	"pacer/programs"
)

// heard is one notice ListenChanges passed on.
type heard struct {
	patient int64
	all     bool
}

// listen runs ListenChanges on s until the test ends, and returns what it
// hears and its result; it waits until it listens.
func listen(t *testing.T, s *Store) (<-chan heard, <-chan error) {
	t.Helper()
	notices, done := make(chan heard, 100), make(chan error, 1)
	listening := make(chan struct{})
	ctx := t.Context()
	go func() {
		done <- s.ListenChanges(ctx, func() { close(listening) }, func(id int64, all bool) {
			notices <- heard{id, all}
		})
	}()
	select {
	case <-listening:
	case err := <-done:
		t.Fatalf("listen: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10 s")
	}
	return notices, done
}

// next is the next notice, within 10 s.
func next(t *testing.T, notices <-chan heard, what string) heard {
	t.Helper()
	select {
	case n := <-notices:
		return n
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no notice within 10 s", what)
		return heard{}
	}
}

// Every committed change of a patient reaches the replicas that listen, once
// committed: a re-plan's transaction, a rotated link, an erasure, and
// retention (any patient). A rolled-back transaction sends nothing, nor does
// a pacer in another schema of the same database. Notices arrive in commit
// order, so a later change's notice shows that an earlier one sent none.
func TestChangeNotices(t *testing.T) {
	base := testkit.Postgres(t)
	writer, reader := openStore(t, base), openStore(t, base)
	if err := writer.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, testkit.Postgres(t)) // another pacer, same database
	if err := other.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	notices, done := listen(t, reader)
	ctx := t.Context()

	th := mkTherapist(t, writer, "a@example.org")
	p1, p2 := mkPatient(t, writer, th.ID, "one"), mkPatient(t, writer, th.ID, "two")
	othersPatient := mkPatient(t, other, mkTherapist(t, other, "a@example.org").ID, "one")
	if othersPatient.ID != p1.ID {
		t.Fatalf("the other schema's patient is %d, want %d like ours, to show it is told apart", othersPatient.ID, p1.ID)
	}

	// Rolled back: nothing; the other schema's change: nothing; then p2's
	// commit is the first notice.
	failed := errors.New("changed my mind")
	if err := writer.WithPatient(ctx, p1.ID, func(tx *PatientTx) error {
		p := tx.Patient
		p.Alarm = false
		if err := tx.SetPatient(p); err != nil {
			return err
		}
		return failed
	}); !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if err := other.RotateFeedToken(ctx, othersPatient.TherapistID, othersPatient.ID, random(t, 16), random(t, 32)); err != nil {
		t.Fatal(err)
	}
	if err := writer.WithPatient(ctx, p2.ID, func(tx *PatientTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := next(t, notices, "a committed patient transaction"); n != (heard{p2.ID, false}) {
		t.Errorf("after a rollback, another schema's change and a commit for %d, heard %+v first", p2.ID, n)
	}

	if err := writer.RotateFeedToken(ctx, th.ID, p1.ID, random(t, 16), random(t, 32)); err != nil {
		t.Fatal(err)
	}
	if n := next(t, notices, "rotation"); n != (heard{p1.ID, false}) {
		t.Errorf("rotation: heard %+v", n)
	}
	// A rotation that changes nothing (another therapist's patient) sends nothing.
	if err := writer.RotateFeedToken(ctx, th.ID+1, p1.ID, random(t, 16), random(t, 32)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rotating another therapist's patient's link: %v", err)
	}

	// Retention: nothing deleted, nothing sent; something deleted, everyone.
	if n, err := writer.DeleteOldSessions(ctx, programs.MakeDate(2000, 1, 1)); err != nil || n != 0 {
		t.Fatalf("delete old sessions: %d, %v", n, err)
	}
	a := mkAssignment(t, writer, p2.ID)
	if _, err := writer.SaveSessions(ctx, a.ID, p2.ID, plan(a.Start), nil, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.w.ExecContext(ctx, `UPDATE assignments SET status = 'ended' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	// SaveSessions commits through WithPatient, as a re-plan does.
	if n := next(t, notices, "saving sessions"); n != (heard{p2.ID, false}) {
		t.Fatalf("saving sessions: heard %+v", n)
	}
	if n, err := writer.DeleteOldSessions(ctx, programs.MakeDate(2100, 1, 1)); err != nil || n == 0 {
		t.Fatalf("delete old sessions: %d, %v", n, err)
	}
	if n := next(t, notices, "retention"); n != (heard{0, true}) {
		t.Errorf("retention: heard %+v, want every patient", n)
	}

	if err := writer.ErasePatient(ctx, th.ID, p1.ID); err != nil {
		t.Fatal(err)
	}
	if n := next(t, notices, "erasure"); n != (heard{p1.ID, false}) {
		t.Errorf("erasure: heard %+v", n)
	}

	// The connection cut: ListenChanges says so.
	if _, err := writer.w.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'pacer changes ' || current_schema()`); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || ctx.Err() != nil {
			t.Errorf("after its connection was cut, ListenChanges returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("ListenChanges still runs 10 s after its connection was cut")
	}
}

func TestChangeNoticesNeedPostgres(t *testing.T) {
	s := openStore(t, testkit.SQLite(t))
	if err := s.ListenChanges(t.Context(), func() { t.Error("listening on SQLite") }, nil); !errors.Is(err, ErrNoReplicas) {
		t.Errorf("ListenChanges on SQLite: %v, want ErrNoReplicas", err)
	}
}
