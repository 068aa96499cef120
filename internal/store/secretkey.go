package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// KeyFingerprint returns the fingerprint of the secret key the database's
// links were derived from, and the key file it was read from, as
// SetKeyFingerprint stored them; ErrNotFound before the first start of a
// pacer that records it.
func (s *Store) KeyFingerprint(ctx context.Context) (fingerprint, keyFile string, err error) {
	err = s.w.QueryRowContext(ctx, `SELECT fingerprint, key_file FROM secret_key WHERE id = 1`).Scan(&fingerprint, &keyFile)
	if err != nil {
		return "", "", fmt.Errorf("key fingerprint: %w", notFound(err))
	}
	return fingerprint, keyFile, nil
}

// SetKeyFingerprint records the key's fingerprint and file unless one is
// recorded already, and returns what is recorded then: the caller compares.
// Replicas starting together on a new database agree on the first.
func (s *Store) SetKeyFingerprint(ctx context.Context, fingerprint, keyFile string) (stored, storedFile string, err error) {
	if fingerprint == "" {
		return "", "", errors.New("set key fingerprint: the fingerprint is empty")
	}
	if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO secret_key (id, fingerprint, key_file, created_at)
		VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), fingerprint, keyFile, s.nowMillis()); err != nil {
		return "", "", fmt.Errorf("set key fingerprint: %w", err)
	}
	return s.KeyFingerprint(ctx)
}

// HasPatients reports whether any patient is stored: a database with
// patients but no key fingerprint was used with a key before pacer
// recorded fingerprints, and a new key would break its links.
func (s *Store) HasPatients(ctx context.Context) (bool, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM patients LIMIT 1`).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("has patients: %w", err)
	}
	return true, nil
}
