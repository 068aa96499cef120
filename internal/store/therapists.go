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

const therapistColumns = `id, email, name, admin, created_at`

func scanTherapist(row rowScanner) (Therapist, error) {
	var t Therapist
	var created int64
	if err := row.Scan(&t.ID, &t.Email, &t.Name, &t.Admin, &created); err != nil {
		return Therapist{}, notFound(err)
	}
	t.CreatedAt = fromMillis(created)
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

// CreateAPIToken records a named API token (by its hash) for the therapist.
func (s *Store) CreateAPIToken(ctx context.Context, therapistID int64, name string, hash []byte) error {
	if err := checkHash(hash); err != nil {
		return fmt.Errorf("create API token: %w", err)
	}
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO api_tokens (therapist_id, name, token_hash, created_at)
		VALUES (?, ?, ?, ?)`), therapistID, name, hash, s.nowMillis())
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
// hash, and records the use in last_used_at when the recorded use is a minute
// old or more (so at most one write a minute per token, none on most calls).
func (s *Store) TherapistByAPIToken(ctx context.Context, hash []byte) (_ Therapist, err error) {
	defer s.timed("therapist_by_api_token", time.Now(), &err)
	var (
		t        Therapist
		tokenID  int64
		created  int64
		lastUsed sql.NullInt64
	)
	err = s.r.QueryRowContext(ctx, s.q(`SELECT t.id, t.email, t.name, t.admin, t.created_at, k.id, k.last_used_at
		FROM api_tokens k JOIN therapists t ON t.id = k.therapist_id
		WHERE k.token_hash = ?`), hash).Scan(&t.ID, &t.Email, &t.Name, &t.Admin, &created, &tokenID, &lastUsed)
	if err != nil {
		return Therapist{}, fmt.Errorf("therapist by API token: %w", notFound(err))
	}
	t.CreatedAt = fromMillis(created)
	now := s.nowMillis()
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
