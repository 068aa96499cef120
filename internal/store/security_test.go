package store

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pacer/internal/testkit"
	"pacer/programs"
)

func TestAPITokenLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		if err := s.CreateExpiringAPIToken(ctx, th.ID, "ci", HashToken("expiring"), c.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAPIToken(ctx, th.ID, "laptop", HashToken("forever")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TherapistByAPIToken(ctx, HashToken("expiring"), c.Now().Add(59*time.Minute)); err != nil {
			t.Errorf("before its expiry: %v", err)
		}
		_, err := s.TherapistByAPIToken(ctx, HashToken("expiring"), c.Now().Add(time.Hour))
		wantNotFound(t, "at its expiry", err)
		ks, err := s.APITokens(ctx, 0)
		if err != nil || len(ks) != 2 || ks[0].Name != "ci" || ks[0].ExpiresAt.IsZero() || ks[0].LastUsedAt.IsZero() ||
			!ks[1].ExpiresAt.IsZero() || !ks[1].LastUsedAt.IsZero() || ks[1].Email != "t@example.org" {
			t.Fatalf("tokens: %+v %v", ks, err)
		}
		if err := s.RevokeAPIToken(ctx, ks[1].ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.TherapistByAPIToken(ctx, HashToken("forever"), c.Now())
		wantNotFound(t, "a revoked token", err)
		wantNotFound(t, "revoking twice", s.RevokeAPIToken(ctx, ks[1].ID))
	})
}

func TestDisabledTherapist(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		other := mkTherapist(t, s, "o@example.org")
		s.CreateAPIToken(ctx, th.ID, "x", HashToken("tok"))
		s.CreateSetupToken(ctx, th.ID, HashToken("setup"), c.Now().Add(time.Hour))
		s.CreateWebSession(ctx, HashToken("cookie"), th.ID, c.Now().Add(time.Hour))
		p := mkPatient(t, s, th.ID, "P")
		if err := s.SetTherapistDisabled(ctx, th.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err := s.TherapistByAPIToken(ctx, HashToken("tok"), c.Now())
		wantNotFound(t, "a disabled therapist's token", err)
		_, err = s.WebSession(ctx, HashToken("cookie"), c.Now())
		wantNotFound(t, "a disabled therapist's session", err)
		_, err = s.SetupTokenTherapist(ctx, HashToken("setup"), c.Now())
		wantNotFound(t, "a disabled therapist's setup link", err)
		_, err = s.UseSetupToken(ctx, HashToken("setup"), "$argon2id$x", c.Now())
		wantNotFound(t, "using a disabled therapist's setup link", err)
		ts, _ := s.Therapists(ctx)
		if len(ts) != 2 || ts[1].DisabledAt.IsZero() || !ts[0].DisabledAt.IsZero() {
			t.Errorf("therapists: %+v", ts)
		}
		if err := s.SetTherapistDisabled(ctx, th.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TherapistByAPIToken(ctx, HashToken("tok"), c.Now()); err != nil {
			t.Errorf("enabled again: %v", err)
		}
		if n, err := s.MovePatients(ctx, th.ID, other.ID); err != nil || n != 1 {
			t.Fatalf("move: %d %v", n, err)
		}
		if _, err := s.Patient(ctx, other.ID, p.ID); err != nil {
			t.Errorf("the moved patient: %v", err)
		}
		if _, err := s.MovePatients(ctx, th.ID, 9999); !errors.Is(err, ErrNotFound) {
			t.Errorf("move to nobody: %v", err)
		}
		wantNotFound(t, "disable nobody", s.SetTherapistDisabled(ctx, 9999, true))
	})
}

func TestWebSessionsEndEverywhere(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		for _, k := range []string{"a", "b", "c"} {
			s.CreateWebSession(ctx, HashToken(k), th.ID, c.Now().Add(time.Hour))
		}
		if err := s.SetPassword(ctx, th.ID, "$argon2id$new", HashToken("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WebSession(ctx, HashToken("a"), c.Now()); err != nil {
			t.Errorf("the session that changed the password: %v", err)
		}
		_, err := s.WebSession(ctx, HashToken("b"), c.Now())
		wantNotFound(t, "another session after a password change", err)
		if h, err := s.TherapistPasswordHash(ctx, th.ID); err != nil || h != "$argon2id$new" {
			t.Errorf("password hash: %q %v", h, err)
		}
		if err := s.EndWebSessions(ctx, th.ID, nil); err != nil {
			t.Fatal(err)
		}
		_, err = s.WebSession(ctx, HashToken("a"), c.Now())
		wantNotFound(t, "the session after signing out everywhere", err)
	})
}

func TestKeyFingerprint(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, _, err := s.KeyFingerprint(ctx)
		wantNotFound(t, "a new database's fingerprint", err)
		if has, err := s.HasPatients(ctx); err != nil || has {
			t.Errorf("a new database has patients: %v %v", has, err)
		}
		if fp, file, err := s.SetKeyFingerprint(ctx, "abc", "/a/secret.key"); err != nil || fp != "abc" || file != "/a/secret.key" {
			t.Fatalf("first: %s %s %v", fp, file, err)
		}
		if fp, file, err := s.SetKeyFingerprint(ctx, "xyz", "/b/secret.key"); err != nil || fp != "abc" || file != "/a/secret.key" {
			t.Errorf("a second key's fingerprint replaced the first: %s %s %v", fp, file, err)
		}
	})
}

func TestQuota(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		p := mkPatient(t, s, mkTherapist(t, s, "t@example.org").ID, "P")
		d := programs.MakeDate(2026, 3, 2)
		for i := range 4 {
			ok, err := s.TakeQuota(ctx, p.ID, d, 3)
			if err != nil || ok != (i < 3) {
				t.Errorf("message %d: %v %v", i+1, ok, err)
			}
		}
		if ok, _ := s.TakeQuota(ctx, p.ID, d.AddDays(1), 3); !ok {
			t.Error("the next day's quota is used up")
		}
		if ok, _ := s.TakeQuota(ctx, p.ID, d, 0); !ok {
			t.Error("no quota refused a message")
		}
	})
}

// TestQuotas takes a batch's quotas at once: each patient gets what is
// left of their own day's quota, and what was granted is what is counted.
func TestQuotas(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org").ID
		var ps []int64
		for i := range 4 {
			ps = append(ps, mkPatient(t, s, th, fmt.Sprintf("P%d", i)).ID)
		}
		d := programs.MakeDate(2026, 3, 2)
		if ok, err := s.TakeQuota(ctx, ps[1], d, 3); !ok || err != nil {
			t.Fatalf("first message: %v %v", ok, err)
		}
		if _, err := s.TakeQuotas(ctx, d, 3, map[int64]int{ps[2]: 3}); err != nil {
			t.Fatal(err)
		}
		got, err := s.TakeQuotas(ctx, d, 3, map[int64]int{ps[0]: 2, ps[1]: 5, ps[2]: 1, ps[3]: 4})
		if err != nil {
			t.Fatal(err)
		}
		// ps[0] has all 3 left, ps[1] 2, ps[2] none, ps[3] all 3.
		want := map[int64]int{ps[0]: 2, ps[1]: 2, ps[3]: 3}
		if !maps.Equal(got, want) {
			t.Errorf("granted %v, want %v", got, want)
		}
		for i, p := range ps {
			left, err := s.TakeQuotas(ctx, d, 3, map[int64]int{p: 3})
			if err != nil {
				t.Fatal(err)
			}
			if wantLeft := []int{1, 0, 0, 0}[i]; left[p] != wantLeft {
				t.Errorf("patient %d: %d left, want %d", i, left[p], wantLeft)
			}
		}
		if got, _ := s.TakeQuotas(ctx, d.AddDays(1), 3, map[int64]int{ps[2]: 2}); got[ps[2]] != 2 {
			t.Errorf("the next day: granted %v", got)
		}
	})
}

func TestCheckInsWithinADay(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		p := mkPatient(t, s, mkTherapist(t, s, "t@example.org").ID, "P")
		add := func() {
			s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
				_, err := tx.AddCheckIn(CheckIn{CheckIn: programs.CheckIn{Date: programs.DateOf(c.Now()), Kind: programs.DailyCheckIn}})
				return err
			})
		}
		count := func() (n int) {
			s.WithPatient(ctx, p.ID, func(tx *PatientTx) (err error) { n, err = tx.CheckInsWithin(24 * time.Hour); return })
			return n
		}
		add()
		c.Add(23 * time.Hour)
		add()
		if n := count(); n != 2 {
			t.Errorf("%d within a day, want 2", n)
		}
		c.Add(2 * time.Hour)
		if n := count(); n != 1 {
			t.Errorf("%d within a day after 25 hours, want 1", n)
		}
	})
}

func TestChannelBounds(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		p := mkPatient(t, s, mkTherapist(t, s, "t@example.org").ID, "P")
		email := func(a string) Channel { return Channel{Type: "email", Config: []byte(`{"address":"` + a + `"}`)} }
		if _, err := s.SetChannels(ctx, p.ID, []Channel{email("a@x.example"), email("b@x.example")}); !errors.Is(err, ErrInvalid) {
			t.Errorf("two email channels: %v", err)
		}
		pending := email("c@x.example")
		pending.Pending, pending.ConfirmNonce, pending.ConfirmHash = true, []byte("nonce"), HashToken("confirm")
		chs, err := s.SetChannels(ctx, p.ID, []Channel{pending})
		if err != nil || !chs[0].Pending {
			t.Fatalf("a pending channel: %+v %v", chs, err)
		}
		if got, err := s.PendingChannel(ctx, HashToken("confirm")); err != nil || got.ID != chs[0].ID || string(got.ConfirmNonce) != "nonce" {
			t.Errorf("pending channel by its hash: %+v %v", got, err)
		}
		err = s.WithPatient(ctx, p.ID, func(tx *PatientTx) error {
			_, err := tx.ConfirmChannel(HashToken("confirm"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.PendingChannel(ctx, HashToken("confirm"))
		wantNotFound(t, "a confirmed channel's link", err)
		// Passing it pending again keeps it confirmed.
		if chs, _ := s.SetChannels(ctx, p.ID, []Channel{pending}); chs[0].Pending {
			t.Error("a confirmed channel became pending")
		}
		for i := range MaxPushSubscriptions + 2 {
			if _, err := s.AddPushSubscription(ctx, p.ID, []byte(`{"endpoint":"https://push.example/`+string(rune('a'+i))+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		chs, _ = s.Channels(ctx, p.ID)
		if len(chs) != 1+MaxPushSubscriptions {
			t.Errorf("%d channels after %d browsers, want %d", len(chs), MaxPushSubscriptions+2, 1+MaxPushSubscriptions)
		}
	})
}

// The database file is created readable by its owner only, and an existing
// one is made so.
func TestDatabaseFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.db")
	os.WriteFile(path, nil, 0o644)
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	fresh := testkit.SQLite(t)
	s2, err := Open(t.Context(), fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if fi, err := os.Stat(fresh[len("sqlite:"):]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a new database: %v %v", fi.Mode(), err)
	}
}

// Migration 5 bounds the channels a database holds already (one of each
// type, the newest five browsers), skipping the pending reminders of those
// it removes, ties older therapist alerts to their patient, and removes
// the alerts of patients erased before and the delivered digests.
func TestMigrationBoundsChannelsAndTiesAlerts(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s := openStore(t, dsn)
		ms := must(migrations(s.Dialect()))
		for {
			done, err := s.migrateOne(ctx, ms[:4])
			if err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
		}
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		insert := func(query string, args ...any) int64 {
			t.Helper()
			var id int64
			if err := s.w.QueryRowContext(ctx, s.q(query+` RETURNING id`), args...).Scan(&id); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return id
		}
		channel := func(owner, typ, config string, id int64) int64 {
			return insert(`INSERT INTO channels (`+owner+`, type, config, created_at) VALUES (?, ?, ?, 0)`, id, typ, config)
		}
		var emails, pushes []int64
		for i := range 3 {
			emails = append(emails, channel("patient_id", "email", fmt.Sprintf(`{"address":"a%d@x.example"}`, i), p.ID))
		}
		for i := range 7 {
			pushes = append(pushes, channel("patient_id", "webpush", fmt.Sprintf(`{"endpoint":"https://push.example/%d"}`, i), p.ID))
		}
		mine := channel("therapist_id", "email", `{"address":"t@example.org"}`, th.ID)
		reminder := func(kind string, patient, therapist any, ch int64, key, status string) int64 {
			return insert(`INSERT INTO reminders (kind, patient_id, therapist_id, channel_id, dedupe_key, due_at, status,
				next_attempt_at, payload, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, 0, '{"Title":"x"}', 0)`,
				kind, patient, therapist, ch, key, status)
		}
		dupPending := reminder("flare", p.ID, nil, emails[2], "flare:p1:d:x", "pending")
		keptPending := reminder("flare", p.ID, nil, emails[0], "flare:p1:d:y", "pending")
		alert := reminder("alert_flare", nil, th.ID, mine, fmt.Sprintf("alert_flare:p%d:2026-03-02:%d", p.ID, mine), "sent")
		gone := reminder("alert_red_flag", nil, th.ID, mine, fmt.Sprintf("alert_red_flag:p%d:2026-03-02:%d", p.ID+1000, mine), "sent")
		digest := reminder("digest", nil, th.ID, mine, "digest:2026-03-02:1", "sent")

		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		chs, _ := s.Channels(ctx, p.ID)
		var ids []int64
		for _, c := range chs {
			ids = append(ids, c.ID)
		}
		want := append([]int64{emails[0]}, pushes[2:]...)
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("channels after migration %v, want %v (the oldest email, the newest five browsers)", ids, want)
		}
		status := func(id int64) (st, reason string, patient sql.NullInt64, err error) {
			err = s.r.QueryRowContext(ctx, s.q(`SELECT status, skip_reason, patient_id FROM reminders WHERE id = ?`), id).
				Scan(&st, &reason, &patient)
			return
		}
		if st, reason, _, _ := status(dupPending); st != ReminderSkipped || reason != SkipChannelRemoved {
			t.Errorf("a removed channel's pending reminder: %s %s", st, reason)
		}
		if st, _, _, _ := status(keptPending); st != ReminderPending {
			t.Errorf("a kept channel's pending reminder: %s", st)
		}
		if _, _, pid, err := status(alert); err != nil || pid.Int64 != p.ID {
			t.Errorf("an older alert: patient %v %v, want %d", pid, err, p.ID)
		}
		for what, id := range map[string]int64{"an erased patient's alert": gone, "a delivered digest": digest} {
			if _, _, _, err := status(id); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("%s after migration: %v, want gone", what, err)
			}
		}
	})
}
