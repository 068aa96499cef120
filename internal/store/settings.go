package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Bounds of NotifySettings that SetNotifySettings enforces.
const (
	MaxLeadMinutes = 24 * 60
	MaxNudgeHours  = 48
)

// NotifySettings returns the patient's reminder settings, or
// DefaultNotifySettings (with a zero UpdatedAt) when none were saved. A
// missing patient is ErrNotFound.
func (s *Store) NotifySettings(ctx context.Context, patientID int64) (_ NotifySettings, err error) {
	defer s.timed("notify_settings", time.Now(), &err)
	return s.notifySettings(ctx, s.r, patientID)
}

func (s *Store) notifySettings(ctx context.Context, db dbtx, patientID int64) (NotifySettings, error) {
	var (
		id                   int64
		start, end           sql.NullInt64
		drop                 sql.NullBool
		lead, nudge, updated sql.NullInt64
		lang                 sql.NullString
	)
	err := db.QueryRowContext(ctx, s.q(`SELECT p.id, n.quiet_start, n.quiet_end, n.quiet_drop, n.lead_minutes,
			n.nudge_hours, n.language, n.updated_at
		FROM patients p LEFT JOIN notify_settings n ON n.patient_id = p.id
		WHERE p.id = ?`), patientID).Scan(&id, &start, &end, &drop, &lead, &nudge, &lang, &updated)
	if err != nil {
		return NotifySettings{}, fmt.Errorf("notify settings of patient %d: %w", patientID, notFound(err))
	}
	if !updated.Valid {
		return DefaultNotifySettings(patientID), nil
	}
	return NotifySettings{
		PatientID:   patientID,
		QuietStart:  int(start.Int64),
		QuietEnd:    int(end.Int64),
		QuietDrop:   drop.Bool,
		LeadMinutes: int(lead.Int64),
		NudgeHours:  int(nudge.Int64),
		Language:    lang.String,
		UpdatedAt:   fromMillis(updated.Int64),
	}, nil
}

// SetNotifySettings saves the patient's reminder settings (UpdatedAt is the
// store's clock; the field is ignored). Quiet hours are minutes after local
// midnight, 0 to 1439 (start == end: none); LeadMinutes is 0 to
// MaxLeadMinutes, NudgeHours 0 (no nudge) to MaxNudgeHours; Language is not
// empty. A missing patient is ErrNotFound.
func (s *Store) SetNotifySettings(ctx context.Context, n NotifySettings) error {
	return s.setNotifySettings(ctx, s.w, n)
}

func (s *Store) setNotifySettings(ctx context.Context, db dbtx, n NotifySettings) error {
	if err := checkSettings(n); err != nil {
		return fmt.Errorf("set notify settings: %w", err)
	}
	_, err := db.ExecContext(ctx, s.q(`INSERT INTO notify_settings (patient_id, quiet_start, quiet_end, quiet_drop,
			lead_minutes, nudge_hours, language, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (patient_id) DO UPDATE SET quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,
			quiet_drop = excluded.quiet_drop, lead_minutes = excluded.lead_minutes,
			nudge_hours = excluded.nudge_hours, language = excluded.language, updated_at = excluded.updated_at`),
		n.PatientID, n.QuietStart, n.QuietEnd, n.QuietDrop, n.LeadMinutes, n.NudgeHours, n.Language, s.nowMillis())
	if isForeignKey(err) {
		return fmt.Errorf("set notify settings: patient %d: %w", n.PatientID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set notify settings: %w", err)
	}
	return nil
}

func checkSettings(n NotifySettings) error {
	switch {
	case n.QuietStart < 0 || n.QuietStart >= 24*60:
		return fmt.Errorf("the quiet hours' start (%d) must be 0 to 1439 minutes after midnight", n.QuietStart)
	case n.QuietEnd < 0 || n.QuietEnd >= 24*60:
		return fmt.Errorf("the quiet hours' end (%d) must be 0 to 1439 minutes after midnight", n.QuietEnd)
	case n.LeadMinutes < 0 || n.LeadMinutes > MaxLeadMinutes:
		return fmt.Errorf("the lead time (%d minutes) must be 0 to %d minutes", n.LeadMinutes, MaxLeadMinutes)
	case n.NudgeHours < 0 || n.NudgeHours > MaxNudgeHours:
		return fmt.Errorf("the nudge delay (%d hours) must be 0 (none) to %d hours", n.NudgeHours, MaxNudgeHours)
	case n.Language == "":
		return errors.New("the language is empty")
	}
	return nil
}

// VAPIDKeys returns the server's Web Push key pair, generating and storing
// one with generate on first use. Replicas starting together on one database
// all get the pair that was stored first (each may call generate; only one
// result is kept). The private key is a secret: never log it.
func (s *Store) VAPIDKeys(ctx context.Context, generate func() (pub, priv string, err error)) (pub, priv string, err error) {
	const get = `SELECT public_key, private_key FROM vapid_keys WHERE id = 1`
	err = s.r.QueryRowContext(ctx, get).Scan(&pub, &priv)
	if err == nil {
		return pub, priv, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("vapid keys: %w", err)
	}
	newPub, newPriv, err := generate()
	if err != nil {
		return "", "", fmt.Errorf("vapid keys: generate: %w", err)
	}
	if newPub == "" || newPriv == "" {
		return "", "", errors.New("vapid keys: generate returned an empty key")
	}
	if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO vapid_keys (id, public_key, private_key, created_at)
		VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`), newPub, newPriv, s.nowMillis()); err != nil {
		return "", "", fmt.Errorf("vapid keys: %w", err)
	}
	// Read back through the write pool, which has seen the insert, ours or
	// the one that won.
	if err := s.w.QueryRowContext(ctx, get).Scan(&pub, &priv); err != nil {
		return "", "", fmt.Errorf("vapid keys: %w", err)
	}
	return pub, priv, nil
}
