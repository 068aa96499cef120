package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// emailKey is the form in which emails are unique and looked up: lower case,
// the same on both dialects (SQLite's lower() folds ASCII only).
func emailKey(email string) string { return strings.ToLower(email) }

const therapistColumns = `id, email, name, admin, created_at, disabled_at`

// therapistColumnsOf is therapistColumns of the table alias a.
func therapistColumnsOf(a string) string {
	return a + ".id, " + a + ".email, " + a + ".name, " + a + ".admin, " + a + ".created_at, " + a + ".disabled_at"
}

// enabled is the condition on a therapist (of alias a) who may sign in or
// use a token: one not disabled.
func enabled(a string) string { return a + ".disabled_at IS NULL" }

func scanTherapist(row rowScanner, more ...any) (Therapist, error) {
	var (
		t        Therapist
		created  int64
		disabled sql.NullInt64
	)
	if err := row.Scan(append([]any{&t.ID, &t.Email, &t.Name, &t.Admin, &created, &disabled}, more...)...); err != nil {
		return Therapist{}, notFound(err)
	}
	t.CreatedAt, t.DisabledAt = fromMillis(created), nullMillis(disabled)
	return t, nil
}

// CreateTherapist adds a therapist (or, with admin, an administrator). An
// email already taken, in any case, is ErrConflict.
func (s *Store) CreateTherapist(ctx context.Context, email, name string, admin bool) (Therapist, error) {
	if email == "" {
		return Therapist{}, errors.New("create therapist: the email is empty")
	}
	now := s.nowMillis()
	t := Therapist{Email: email, Name: name, Admin: admin, CreatedAt: fromMillis(now)}
	err := s.w.QueryRowContext(ctx, s.q(`INSERT INTO therapists (email, email_key, name, admin, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), email, emailKey(email), name, admin, now).Scan(&t.ID)
	if isUnique(err) {
		return Therapist{}, fmt.Errorf("create therapist: the email is taken: %w", ErrConflict)
	}
	if err != nil {
		return Therapist{}, fmt.Errorf("create therapist: %w", err)
	}
	return t, nil
}

// TherapistByEmail finds a therapist by email, ignoring case.
func (s *Store) TherapistByEmail(ctx context.Context, email string) (Therapist, error) {
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumns+`
		FROM therapists WHERE email_key = ?`), emailKey(email)))
	if err != nil {
		return Therapist{}, fmt.Errorf("therapist by email: %w", err)
	}
	return t, nil
}

// Therapist returns the therapist with the id.
func (s *Store) Therapist(ctx context.Context, id int64) (Therapist, error) {
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumns+`
		FROM therapists WHERE id = ?`), id))
	if err != nil {
		return Therapist{}, fmt.Errorf("therapist %d: %w", id, err)
	}
	return t, nil
}

// CreateSetupToken records a one-time token (by its hash) with which the
// therapist sets a password, valid until expires.
func (s *Store) CreateSetupToken(ctx context.Context, therapistID int64, hash []byte, expires time.Time) error {
	if err := checkHash(hash); err != nil {
		return fmt.Errorf("create setup token: %w", err)
	}
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO setup_tokens (therapist_id, token_hash, expires_at, created_at)
		VALUES (?, ?, ?, ?)`), therapistID, hash, millis(expires), s.nowMillis())
	if isUnique(err) {
		return fmt.Errorf("create setup token: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create setup token: %w", err)
	}
	return nil
}

// CreateAPIToken records a named API token (by its hash) for the therapist;
// a zero expires never expires.
func (s *Store) CreateAPIToken(ctx context.Context, therapistID int64, name string, hash []byte) error {
	return s.CreateExpiringAPIToken(ctx, therapistID, name, hash, time.Time{})
}

// CreateExpiringAPIToken is CreateAPIToken for a token that stops working at
// expires (none when zero).
func (s *Store) CreateExpiringAPIToken(ctx context.Context, therapistID int64, name string, hash []byte, expires time.Time) error {
	if err := checkHash(hash); err != nil {
		return fmt.Errorf("create API token: %w", err)
	}
	var exp sql.NullInt64
	if !expires.IsZero() {
		exp = sql.NullInt64{Int64: millis(expires), Valid: true}
	}
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO api_tokens (therapist_id, name, token_hash, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`), therapistID, name, hash, s.nowMillis(), exp)
	if isUnique(err) {
		return fmt.Errorf("create API token: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create API token: %w", err)
	}
	return nil
}

// lastUsedGranularity bounds how often TherapistByAPIToken writes: a token
// used constantly costs one write a minute, not one per request.
const lastUsedGranularity = time.Minute

// TherapistByAPIToken returns the therapist owning the API token with the
// hash, and records the use at at in last_used_at when the recorded use is a
// minute old or more (so at most one write a minute per token, none on most
// calls). A token expired at at, or whose therapist is disabled, is
// ErrNotFound.
func (s *Store) TherapistByAPIToken(ctx context.Context, hash []byte, at time.Time) (_ Therapist, err error) {
	defer s.timed("therapist_by_api_token", time.Now(), &err)
	var (
		tokenID  int64
		lastUsed sql.NullInt64
	)
	now := millis(at)
	t, err := scanTherapist(s.r.QueryRowContext(ctx, s.q(`SELECT `+therapistColumnsOf("t")+`, k.id, k.last_used_at
		FROM api_tokens k JOIN therapists t ON t.id = k.therapist_id
		WHERE k.token_hash = ? AND `+enabled("t")+` AND (k.expires_at IS NULL OR k.expires_at > ?)`), hash, now),
		&tokenID, &lastUsed)
	if err != nil {
		return Therapist{}, fmt.Errorf("therapist by API token: %w", err)
	}
	stale := now - lastUsedGranularity.Milliseconds()
	if !lastUsed.Valid || lastUsed.Int64 <= stale {
		// The condition is repeated so that concurrent requests (or
		// replicas) write once between them.
		if _, err := s.w.ExecContext(ctx, s.q(`UPDATE api_tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`), now, tokenID, stale); err != nil {
			return Therapist{}, fmt.Errorf("therapist by API token: record use: %w", err)
		}
	}
	return t, nil
}

// APIToken is an API token as listed: never the token, which is not stored.
type APIToken struct {
	ID          int64
	TherapistID int64
	Email       string // the therapist's
	Name        string
	CreatedAt   time.Time
	LastUsedAt  time.Time // zero: never used
	ExpiresAt   time.Time // zero: never expires
}

// APITokens lists the API tokens, of every therapist or (therapistID > 0) of
// one, by id.
func (s *Store) APITokens(ctx context.Context, therapistID int64) ([]APIToken, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT k.id, k.therapist_id, t.email, k.name, k.created_at, k.last_used_at, k.expires_at
		FROM api_tokens k JOIN therapists t ON t.id = k.therapist_id
		WHERE ? = 0 OR k.therapist_id = ? ORDER BY k.id`), therapistID, therapistID)
	if err != nil {
		return nil, fmt.Errorf("API tokens: %w", err)
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		var (
			k             APIToken
			created       int64
			used, expires sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.TherapistID, &k.Email, &k.Name, &created, &used, &expires); err != nil {
			return nil, fmt.Errorf("API tokens: %w", err)
		}
		k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMillis(created), nullMillis(used), nullMillis(expires)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIToken deletes the API token with the id; it stops working at once.
// A missing token is ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM api_tokens WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("revoke API token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke API token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("revoke API token %d: %w", id, ErrNotFound)
	}
	return nil
}

// Therapists lists every therapist by email.
func (s *Store) Therapists(ctx context.Context) ([]Therapist, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+therapistColumns+` FROM therapists ORDER BY email_key, id`)
	if err != nil {
		return nil, fmt.Errorf("therapists: %w", err)
	}
	defer rows.Close()
	var out []Therapist
	for rows.Next() {
		t, err := scanTherapist(rows)
		if err != nil {
			return nil, fmt.Errorf("therapists: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetTherapistDisabled disables (or enables again) a therapist. A disabled
// therapist cannot sign in, use a setup link or an API token; disabling ends
// their browser sessions. A missing therapist is ErrNotFound.
func (s *Store) SetTherapistDisabled(ctx context.Context, id int64, disabled bool) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		query, args := `UPDATE therapists SET disabled_at = NULL WHERE id = ?`, []any{id}
		if disabled {
			query, args = `UPDATE therapists SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?`, []any{s.nowMillis(), id}
		}
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("therapist %d: %w", id, ErrNotFound)
		}
		if disabled {
			_, err = tx.ExecContext(ctx, s.q(`DELETE FROM web_sessions WHERE therapist_id = ?`), id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("set therapist disabled: %w", err)
	}
	return nil
}

// MovePatients gives every patient of one therapist to another, and returns
// how many moved. Either missing is ErrNotFound; moving to the same
// therapist moves nothing.
func (s *Store) MovePatients(ctx context.Context, from, to int64) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range []int64{from, to} {
			if err := s.lockOwner(ctx, tx, therapistOwner(id)); err != nil {
				return err
			}
		}
		if from == to {
			return nil
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE patients SET therapist_id = ? WHERE therapist_id = ?`), to, from)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("move patients: %w", err)
	}
	return n, nil
}
