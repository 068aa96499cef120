package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestSetupToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		now := c.Now()
		th := mkTherapist(t, s, "Ada@Example.org")
		other := mkTherapist(t, s, "bo@example.org")

		// No password yet: login finds nothing.
		_, _, err := s.PasswordHash(ctx, "ada@example.org")
		wantNotFound(t, "password hash before setup", err)

		link, older, expired := random(t, 32), random(t, 32), random(t, 32)
		for _, k := range []struct {
			hash    []byte
			expires time.Time
		}{{older, now.Add(time.Hour)}, {link, now.Add(72 * time.Hour)}, {expired, now.Add(-time.Millisecond)}} {
			if err := s.CreateSetupToken(ctx, th.ID, k.hash, k.expires); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := s.SetupTokenTherapist(ctx, link, now); err != nil || got != th {
			t.Fatalf("SetupTokenTherapist = %+v, %v; want %+v", got, err, th)
		}
		_, err = s.SetupTokenTherapist(ctx, expired, now)
		wantNotFound(t, "an expired link", err)
		_, err = s.UseSetupToken(ctx, expired, "$argon2id$x", now)
		wantNotFound(t, "using an expired link", err)
		_, err = s.UseSetupToken(ctx, random(t, 32), "$argon2id$x", now)
		wantNotFound(t, "using an unknown link", err)
		// A link is valid until the instant it expires, not at it.
		_, err = s.UseSetupToken(ctx, link, "$argon2id$x", now.Add(72*time.Hour))
		wantNotFound(t, "using a link at its expiry", err)

		// A session from before the password is set ends with it.
		sess := random(t, 32)
		if err := s.CreateWebSession(ctx, sess, th.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		otherSess := random(t, 32)
		if err := s.CreateWebSession(ctx, otherSess, other.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		got, err := s.UseSetupToken(ctx, link, "$argon2id$first", now)
		if err != nil || got != th {
			t.Fatalf("UseSetupToken = %+v, %v; want %+v", got, err, th)
		}
		gotT, hash, err := s.PasswordHash(ctx, "ADA@example.org")
		if err != nil || gotT != th || hash != "$argon2id$first" {
			t.Fatalf("PasswordHash = %+v, %q, %v", gotT, hash, err)
		}
		_, err = s.WebSession(ctx, sess, now)
		wantNotFound(t, "a session from before the password was set", err)
		if _, err := s.WebSession(ctx, otherSess, now); err != nil {
			t.Errorf("another therapist's session: %v", err)
		}

		// Once only; and the therapist's older link is retired with it.
		_, err = s.UseSetupToken(ctx, link, "$argon2id$second", now)
		wantNotFound(t, "using a link twice", err)
		_, err = s.SetupTokenTherapist(ctx, link, now)
		wantNotFound(t, "a used link", err)
		_, err = s.UseSetupToken(ctx, older, "$argon2id$second", now)
		wantNotFound(t, "an older link after a password was set", err)
		if _, hash, _ := s.PasswordHash(ctx, "ada@example.org"); hash != "$argon2id$first" {
			t.Errorf("password hash %q after refused uses, want the first", hash)
		}

		if _, _, err := s.PasswordHash(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown email: %v", err)
		}
		if _, err := s.UseSetupToken(ctx, nil, "x", now); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("empty hash: %v, want an error other than not found", err)
		}
	})
}

// Of many concurrent uses of one link exactly one sets the password.
func TestUseSetupTokenConcurrently(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		now := setClock(s).Now()
		th := mkTherapist(t, s, "ada@example.org")
		link := random(t, 32)
		if err := s.CreateSetupToken(ctx, th.ID, link, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = s.UseSetupToken(ctx, link, "$argon2id$"+string(rune('a'+i)), now) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrNotFound):
				t.Errorf("concurrent use: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent uses succeeded, want 1", ok, n)
		}
	})
}

func TestWebSessions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		now := c.Now()
		th := mkTherapist(t, s, "ada@example.org")
		a, b := random(t, 32), random(t, 32)
		if err := s.CreateWebSession(ctx, a, th.ID, now.Add(12*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateWebSession(ctx, b, th.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateWebSession(ctx, a, th.ID, now.Add(time.Hour)); !errors.Is(err, ErrConflict) {
			t.Errorf("a session id twice: %v, want ErrConflict", err)
		}
		if got, err := s.WebSession(ctx, a, now); err != nil || got != th {
			t.Fatalf("WebSession = %+v, %v; want %+v", got, err, th)
		}
		_, err := s.WebSession(ctx, random(t, 32), now)
		wantNotFound(t, "an unknown session", err)

		// last_seen_at moves at most once a minute.
		lastSeen := func() int64 {
			var v int64
			if err := s.r.QueryRowContext(ctx, s.q(`SELECT last_seen_at FROM web_sessions WHERE id = ?`), a).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		created := lastSeen()
		if _, err := s.WebSession(ctx, a, now.Add(30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := lastSeen(); got != created {
			t.Errorf("last_seen_at moved after 30 s: %d → %d", created, got)
		}
		if _, err := s.WebSession(ctx, a, now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, want := lastSeen(), millis(now.Add(2*time.Minute)); got != want {
			t.Errorf("last_seen_at %d after 2 min, want %d", got, want)
		}

		// Expiry: b is gone at its instant, a is not.
		later := now.Add(time.Hour)
		_, err = s.WebSession(ctx, b, later)
		wantNotFound(t, "an expired session", err)
		if _, err := s.WebSession(ctx, a, later); err != nil {
			t.Errorf("a live session: %v", err)
		}
		if n, err := s.DeleteExpiredWebSessions(ctx, later); err != nil || n != 1 {
			t.Errorf("DeleteExpiredWebSessions = %d, %v; want 1", n, err)
		}
		if n, err := s.DeleteExpiredWebSessions(ctx, later); err != nil || n != 0 {
			t.Errorf("DeleteExpiredWebSessions again = %d, %v; want 0", n, err)
		}

		// Logout; twice is no error.
		for range 2 {
			if err := s.DeleteWebSession(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		_, err = s.WebSession(ctx, a, now)
		wantNotFound(t, "a deleted session", err)

		// Sessions go with their therapist.
		if err := s.CreateWebSession(ctx, a, th.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM therapists WHERE id = ?`), th.ID); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM web_sessions`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d sessions left after their therapist was deleted", left)
		}
	})
}
