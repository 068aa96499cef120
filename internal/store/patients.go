package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pacer/programs"
)

const patientColumns = `id, therapist_id, name, email, timezone, discreet, alarm, feed_version, feed_nonce,
	checkin_nonce, created_at`

func scanPatient(row rowScanner) (Patient, error) {
	var p Patient
	var created int64
	if err := row.Scan(&p.ID, &p.TherapistID, &p.Name, &p.Email, &p.Timezone, &p.Discreet, &p.Alarm,
		&p.FeedVersion, &p.FeedNonce, &p.CheckinNonce, &created); err != nil {
		return Patient{}, notFound(err)
	}
	p.CreatedAt = fromMillis(created)
	return p, nil
}

// CreatePatient adds p (its ID, CreatedAt and FeedVersion are ignored; its
// nonces are stored as given) with the hashes of its feed and check-in
// tokens, and returns it as stored. A hash already in use is ErrConflict.
func (s *Store) CreatePatient(ctx context.Context, p Patient, feedHash, checkinHash []byte) (_ Patient, err error) {
	defer s.timed("create_patient", time.Now(), &err)
	if err := checkHash(feedHash, checkinHash); err != nil {
		return Patient{}, fmt.Errorf("create patient: %w", err)
	}
	now := s.nowMillis()
	err = s.w.QueryRowContext(ctx, s.q(`INSERT INTO patients (therapist_id, name, email, timezone, discreet, alarm,
			feed_token_hash, checkin_token_hash, feed_nonce, checkin_nonce, feed_version, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) RETURNING id`),
		p.TherapistID, p.Name, p.Email, p.Timezone, p.Discreet, p.Alarm, feedHash, checkinHash,
		p.FeedNonce, p.CheckinNonce, now).Scan(&p.ID)
	if isUnique(err) {
		return Patient{}, fmt.Errorf("create patient: a token is taken: %w", ErrConflict)
	}
	if err != nil {
		return Patient{}, fmt.Errorf("create patient: %w", err)
	}
	p.FeedVersion = 0
	p.CreatedAt = fromMillis(now)
	return p, nil
}

// Patient returns the therapist's patient with the id; another therapist's
// patient is ErrNotFound.
func (s *Store) Patient(ctx context.Context, therapistID, id int64) (_ Patient, err error) {
	defer s.timed("patient", time.Now(), &err)
	p, err := scanPatient(s.r.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+`
		FROM patients WHERE id = ? AND therapist_id = ?`), id, therapistID))
	if err != nil {
		return Patient{}, fmt.Errorf("patient %d: %w", id, err)
	}
	return p, nil
}

// Patients returns the therapist's patients ordered by name (byte order, the
// same on both dialects), then id.
func (s *Store) Patients(ctx context.Context, therapistID int64) (_ []Patient, err error) {
	defer s.timed("patients", time.Now(), &err)
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+patientColumns+`
		FROM patients WHERE therapist_id = ? ORDER BY name, id`), therapistID)
	if err != nil {
		return nil, fmt.Errorf("patients: %w", err)
	}
	defer rows.Close()
	var ps []Patient
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("patients: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("patients: %w", err)
	}
	return ps, nil
}

// PatientByFeedToken returns the patient whose feed token has the hash.
func (s *Store) PatientByFeedToken(ctx context.Context, hash []byte) (_ Patient, err error) {
	defer s.timed("patient_by_feed_token", time.Now(), &err)
	p, err := scanPatient(s.r.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+`
		FROM patients WHERE feed_token_hash = ?`), hash))
	if err != nil {
		return Patient{}, fmt.Errorf("patient by feed token: %w", err)
	}
	return p, nil
}

// PatientByCheckinToken returns the patient whose check-in token has the hash.
func (s *Store) PatientByCheckinToken(ctx context.Context, hash []byte) (_ Patient, err error) {
	defer s.timed("patient_by_checkin_token", time.Now(), &err)
	p, err := scanPatient(s.r.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+`
		FROM patients WHERE checkin_token_hash = ?`), hash))
	if err != nil {
		return Patient{}, fmt.Errorf("patient by check-in token: %w", err)
	}
	return p, nil
}

// RotateFeedToken gives the therapist's patient a new feed token (by its
// nonce and hash), so that the old feed URL stops working at once; another
// therapist's patient is ErrNotFound.
func (s *Store) RotateFeedToken(ctx context.Context, therapistID, patientID int64, newNonce, newHash []byte) error {
	return s.rotateToken(ctx, "feed", therapistID, patientID, newNonce, newHash)
}

// RotateLinks gives the therapist's patient new feed and check-in tokens at
// once: a check-in link that leaked revealed the feed link too.
func (s *Store) RotateLinks(ctx context.Context, therapistID, patientID int64, feedNonce, feedHash, checkinNonce, checkinHash []byte) error {
	if err := checkHash(feedHash, checkinHash); err != nil {
		return fmt.Errorf("rotate links: %w", err)
	}
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE patients SET feed_token_hash = ?, feed_nonce = ?,
			checkin_token_hash = ?, checkin_nonce = ?, feed_version = feed_version + 1
		WHERE id = ? AND therapist_id = ?`), feedHash, feedNonce, checkinHash, checkinNonce, patientID, therapistID)
	if isUnique(err) {
		return fmt.Errorf("rotate links: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("rotate links: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("rotate links: %w", err)
	} else if n == 0 {
		return fmt.Errorf("rotate links: patient %d: %w", patientID, ErrNotFound)
	}
	return nil
}

// rotateToken replaces a token's hash and nonce; kind is feed (the
// check-in link rotates with the feed's: RotateLinks). The feed version
// rises, as the links a feed carries may have changed, and the other
// replicas are told (notify.go): the old link stops working on every
// replica.
func (s *Store) rotateToken(ctx context.Context, kind string, therapistID, patientID int64, newNonce, newHash []byte) error {
	if err := checkHash(newHash); err != nil {
		return fmt.Errorf("rotate %s token: %w", kind, err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE patients SET `+kind+`_token_hash = ?, `+kind+`_nonce = ?,
				feed_version = feed_version + 1
			WHERE id = ? AND therapist_id = ?`), newHash, newNonce, patientID, therapistID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("patient %d: %w", patientID, ErrNotFound)
		}
		return s.notifyChanged(ctx, tx, patientID)
	})
	if isUnique(err) {
		return fmt.Errorf("rotate %s token: %w", kind, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("rotate %s token: %w", kind, err)
	}
	return nil
}

// StalePatients returns the patients with an active assignment whose plan was
// never stored or was computed under rules older than rulesVersion: after an
// upgrade, they are re-planned at start.
func (s *Store) StalePatients(ctx context.Context, rulesVersion int) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT DISTINCT a.patient_id FROM assignments a
		LEFT JOIN plans p ON p.assignment_id = a.id
		WHERE a.status = 'active' AND (p.assignment_id IS NULL OR p.rules_version < ?)
		ORDER BY a.patient_id`), rulesVersion)
	if err != nil {
		return nil, fmt.Errorf("stale patients: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("stale patients: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ActivePatients returns every patient with an active assignment, by id, for
// the periodic review that keeps their plans and feeds current.
func (s *Store) ActivePatients(ctx context.Context) ([]Patient, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+patientColumns+` FROM patients
		WHERE id IN (SELECT patient_id FROM assignments WHERE status = 'active') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("active patients: %w", err)
	}
	defer rows.Close()
	var ps []Patient
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("active patients: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active patients: %w", err)
	}
	return ps, nil
}

// ZonesInUse returns the time zones of the patients, each once, in byte
// order. It reads one index entry per zone (a loose scan of
// patients_timezone), not one per patient, so the hourly review can ask it
// at every run.
func (s *Store) ZonesInUse(ctx context.Context) (_ []string, err error) {
	defer s.timed("zones_in_use", time.Now(), &err)
	rows, err := s.r.QueryContext(ctx, `WITH RECURSIVE z (zone) AS (
			SELECT MIN(timezone) FROM patients
			UNION ALL
			SELECT (SELECT MIN(timezone) FROM patients WHERE timezone > z.zone) FROM z WHERE z.zone IS NOT NULL)
		SELECT zone FROM z WHERE zone IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("zones in use: %w", err)
	}
	defer rows.Close()
	var zones []string
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, fmt.Errorf("zones in use: %w", err)
		}
		zones = append(zones, z)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("zones in use: %w", err)
	}
	return zones, nil
}

// PatientsBehind returns, in id order, up to limit patients of the time zone
// with ids above after whose plan is behind their local date today: with an
// active assignment whose stored plan was computed for an earlier day, or
// was never stored. The hourly review re-plans them; a patient re-planned
// today already (a check-in after midnight) is current and left out.
func (s *Store) PatientsBehind(ctx context.Context, zone string, today programs.Date, after int64, limit int) (_ []int64, err error) {
	defer s.timed("patients_behind", time.Now(), &err)
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT p.id FROM patients p
		WHERE p.timezone = ? AND p.id > ? AND EXISTS (SELECT 1 FROM assignments a
			LEFT JOIN plans pl ON pl.assignment_id = a.id
			WHERE a.patient_id = p.id AND a.status = 'active' AND (pl.now IS NULL OR pl.now < ?))
		ORDER BY p.id LIMIT ?`), zone, after, int64(today), limit)
	if err != nil {
		return nil, fmt.Errorf("patients behind: %w", err)
	}
	defer rows.Close()
	ids := make([]int64, 0, limit)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("patients behind: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("patients behind: %w", err)
	}
	return ids, nil
}

// ActivePatientsAfter returns up to limit patients with an active
// assignment and an id above after, by id: ActivePatients a page at a time,
// for sweeps that must not hold every patient at once.
func (s *Store) ActivePatientsAfter(ctx context.Context, after int64, limit int) (_ []Patient, err error) {
	defer s.timed("active_patients", time.Now(), &err)
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+patientColumns+` FROM patients p
		WHERE p.id > ? AND EXISTS (SELECT 1 FROM assignments a WHERE a.patient_id = p.id AND a.status = 'active')
		ORDER BY p.id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("active patients: %w", err)
	}
	defer rows.Close()
	ps := make([]Patient, 0, limit)
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("active patients: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active patients: %w", err)
	}
	return ps, nil
}
