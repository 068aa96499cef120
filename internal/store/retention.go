package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"pacer/programs"
)

// DeleteOldSessions deletes the sessions dated before `before` of assignments
// that are no longer active, and returns how many it deleted. An active
// assignment's sessions stay whatever their age: the materializer rebuilds a
// plan from its start, so it would insert deleted ones again (with new ids).
// Check-ins, overrides and decisions stay too: the engine replays them. When
// it deleted any, the other replicas are told that any patient may have
// changed (notify.go): with a retention shorter than a feed's window, a feed
// loses events.
func (s *Store) DeleteOldSessions(ctx context.Context, before programs.Date) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE date < ?
			AND assignment_id IN (SELECT id FROM assignments WHERE status <> 'active')`), int64(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.notifyAll(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("delete old sessions: %w", err)
	}
	return n, nil
}

// DeleteOldReminders deletes finished outbox rows (sent, skipped, failed) due
// before the instant, and returns how many it deleted. Pending and sending
// rows are never deleted: they are work still to do.
func (s *Store) DeleteOldReminders(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM reminders WHERE status IN ('sent', 'skipped', 'failed') AND due_at < ?`),
		millis(before))
	if err != nil {
		return 0, fmt.Errorf("delete old reminders: %w", err)
	}
	// The daily quota's counts matter for a day only.
	if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM notify_quota WHERE day < ?`),
		int64(programs.DateOf(before.UTC()))); err != nil {
		return 0, fmt.Errorf("delete old quota counts: %w", err)
	}
	return res.RowsAffected()
}
