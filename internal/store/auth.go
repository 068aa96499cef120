package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Therapists' passwords and browser sessions. Passwords arrive here already
// hashed (the web layer owns Argon2id); setup links and sessions are kept as
// SHA-256 hashes of their tokens (see HashToken), never the tokens.

// SetupTokenTherapist returns the therapist whose setup link has the hash,
// when the link is unused and unexpired at now; otherwise ErrNotFound. It
// does not use the link.
func (s *Store) SetupTokenTherapist(ctx context.Context, hash []byte, now time.Time) (Therapist, error) {
	if err := checkHash(hash); err != nil {
		return Therapist{}, fmt.Errorf("setup token: %w", err)
	}
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumnsOf("t")+`
		FROM setup_tokens k JOIN therapists t ON t.id = k.therapist_id
		WHERE k.token_hash = ? AND k.used_at IS NULL AND k.expires_at > ? AND `+enabled("t")), hash, millis(now)))
	if err != nil {
		return Therapist{}, fmt.Errorf("setup token: %w", err)
	}
	return t, nil
}

// UseSetupToken uses the setup link with the hash, in one transaction: if it
// exists, is unused and has not expired at now, it sets the therapist's
// password hash and marks the link used; otherwise it returns ErrNotFound and
// changes nothing. The therapist's other unused links are retired too, and
// their browser sessions ended, so that an older link or session cannot
// outlive the new password. Two concurrent uses of one link: one wins, the
// other gets ErrNotFound.
func (s *Store) UseSetupToken(ctx context.Context, hash []byte, passwordHash string, now time.Time) (Therapist, error) {
	if err := checkHash(hash); err != nil {
		return Therapist{}, fmt.Errorf("use setup token: %w", err)
	}
	if passwordHash == "" {
		return Therapist{}, errors.New("use setup token: the password hash is empty")
	}
	at := millis(now)
	var t Therapist
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The conditions sit in the UPDATE, so that of two concurrent uses
		// only one matches the row (PostgreSQL re-checks them after the
		// first commits; SQLite serializes writers).
		var therapistID int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE setup_tokens SET used_at = ?
			WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
				AND therapist_id IN (SELECT id FROM therapists t WHERE `+enabled("t")+`)
			RETURNING therapist_id`), at, hash, at).Scan(&therapistID)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE setup_tokens SET used_at = ?
			WHERE therapist_id = ? AND used_at IS NULL`), at, therapistID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE therapist_id = ?`), therapistID); err != nil {
			return err
		}
		t, err = scanTherapist(tx.QueryRowContext(ctx, s.q(`UPDATE therapists SET password_hash = ?
			WHERE id = ? RETURNING `+therapistColumns), passwordHash, therapistID))
		return err
	})
	if err != nil {
		return Therapist{}, fmt.Errorf("use setup token: %w", err)
	}
	return t, nil
}

// PasswordHash returns the therapist with the email (ignoring case) and their
// password hash. A therapist who has not set a password yet, or is
// disabled, is ErrNotFound, like an unknown email.
func (s *Store) PasswordHash(ctx context.Context, email string) (Therapist, string, error) {
	var hash sql.NullString
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumnsOf("t")+`, t.password_hash
		FROM therapists t WHERE t.email_key = ? AND `+enabled("t")), emailKey(email)), &hash)
	if err != nil {
		return Therapist{}, "", fmt.Errorf("password hash: %w", err)
	}
	if !hash.Valid || hash.String == "" {
		return Therapist{}, "", fmt.Errorf("password hash: no password set: %w", ErrNotFound)
	}
	return t, hash.String, nil
}

// TherapistPasswordHash is PasswordHash by the therapist's id (the password
// change page checks the current password).
func (s *Store) TherapistPasswordHash(ctx context.Context, therapistID int64) (string, error) {
	var hash sql.NullString
	err := s.r.QueryRowContext(ctx, s.q(`SELECT t.password_hash FROM therapists t WHERE t.id = ? AND `+enabled("t")),
		therapistID).Scan(&hash)
	if err != nil {
		return "", fmt.Errorf("password hash: %w", notFound(err))
	}
	if !hash.Valid || hash.String == "" {
		return "", fmt.Errorf("password hash: no password set: %w", ErrNotFound)
	}
	return hash.String, nil
}

// SetPassword sets the therapist's password hash and ends every browser
// session of theirs but the one with keepHash (the session that changed
// it; nil ends all), in one transaction.
func (s *Store) SetPassword(ctx context.Context, therapistID int64, passwordHash string, keepHash []byte) error {
	if passwordHash == "" {
		return errors.New("set password: the password hash is empty")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE therapists SET password_hash = ? WHERE id = ?`), passwordHash, therapistID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("therapist %d: %w", therapistID, ErrNotFound)
		}
		return s.endWebSessions(ctx, tx, therapistID, keepHash)
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// EndWebSessions ends every browser session of the therapist but the one
// with keepHash (nil ends all): "sign out everywhere".
func (s *Store) EndWebSessions(ctx context.Context, therapistID int64, keepHash []byte) error {
	if err := s.endWebSessions(ctx, s.w, therapistID, keepHash); err != nil {
		return fmt.Errorf("end web sessions: %w", err)
	}
	return nil
}

func (s *Store) endWebSessions(ctx context.Context, db dbtx, therapistID int64, keepHash []byte) error {
	if keepHash == nil {
		keepHash = []byte{} // matches no session
	}
	_, err := db.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE therapist_id = ? AND id <> ?`), therapistID, keepHash)
	return err
}

// CreateWebSession records a browser session (by the hash of its cookie
// token) for the therapist, valid until expires.
func (s *Store) CreateWebSession(ctx context.Context, hash []byte, therapistID int64, expires time.Time) error {
	if err := checkHash(hash); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	now := s.nowMillis()
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO web_sessions (id, therapist_id, created_at, expires_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?)`), hash, therapistID, now, millis(expires), now)
	if isUnique(err) {
		return fmt.Errorf("create web session: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// WebSession returns the therapist of the browser session with the hash; a
// session unknown, expired at now or of a disabled therapist is ErrNotFound.
// It records the use in last_seen_at at most once a minute per session, as
// TherapistByAPIToken does.
func (s *Store) WebSession(ctx context.Context, hash []byte, now time.Time) (Therapist, error) {
	if err := checkHash(hash); err != nil {
		return Therapist{}, fmt.Errorf("web session: %w", err)
	}
	var lastSeen int64
	at := millis(now)
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumnsOf("t")+`, w.last_seen_at
		FROM web_sessions w JOIN therapists t ON t.id = w.therapist_id
		WHERE w.id = ? AND w.expires_at > ? AND `+enabled("t")), hash, at), &lastSeen)
	if err != nil {
		return Therapist{}, fmt.Errorf("web session: %w", err)
	}
	stale := at - lastUsedGranularity.Milliseconds()
	if lastSeen <= stale {
		if _, err := s.w.ExecContext(ctx, s.q(`UPDATE web_sessions SET last_seen_at = ?
			WHERE id = ? AND last_seen_at <= ?`), at, hash, stale); err != nil {
			return Therapist{}, fmt.Errorf("web session: record use: %w", err)
		}
	}
	return t, nil
}

// DeleteWebSession ends the browser session with the hash. Ending a session
// that does not exist (already ended, or expired and swept) is not an error.
func (s *Store) DeleteWebSession(ctx context.Context, hash []byte) error {
	if err := checkHash(hash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE id = ?`), hash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// DeleteExpiredWebSessions deletes the browser sessions expired at now and
// returns how many it deleted.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE expires_at <= ?`), millis(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired web sessions: %w", err)
	}
	return n, nil
}
