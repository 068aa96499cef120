package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ChannelWebPush is the type of a browser's push subscription channel.
const ChannelWebPush = "webpush"

// Reasons for which the store itself skips a reminder.
const (
	SkipChannelRemoved = "channel_removed" // its channel was removed or deleted
	SkipCancelled      = "cancelled"       // a re-plan no longer wants it
	SkipCheckedIn      = "checked_in"      // its session was checked in before it was due
)

const channelColumns = `id, patient_id, therapist_id, type, config, created_at, pending, confirm_nonce`

func scanChannel(row rowScanner) (Channel, error) {
	var (
		c                  Channel
		patient, therapist sql.NullInt64
		config             string
		created            int64
	)
	if err := row.Scan(&c.ID, &patient, &therapist, &c.Type, &config, &created, &c.Pending, &c.ConfirmNonce); err != nil {
		return Channel{}, notFound(err)
	}
	c.PatientID, c.TherapistID = patient.Int64, therapist.Int64
	c.Config = json.RawMessage(config)
	c.CreatedAt = fromMillis(created)
	return c, nil
}

// owner is whose channels an operation concerns: a patient's or a
// therapist's. col is the channels column and table the owner's table; both
// are constants, never input.
type owner struct {
	col, table string
	id         int64
}

func patientOwner(id int64) owner   { return owner{"patient_id", "patients", id} }
func therapistOwner(id int64) owner { return owner{"therapist_id", "therapists", id} }

// Channels returns the patient's channels by id.
func (s *Store) Channels(ctx context.Context, patientID int64) (_ []Channel, err error) {
	defer s.timed("channels", time.Now(), &err)
	chs, err := s.channels(ctx, s.r, patientOwner(patientID), "")
	if err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	return chs, nil
}

// TherapistChannels returns the therapist's channels (for alerts) by id.
func (s *Store) TherapistChannels(ctx context.Context, therapistID int64) ([]Channel, error) {
	chs, err := s.channels(ctx, s.r, therapistOwner(therapistID), "")
	if err != nil {
		return nil, fmt.Errorf("therapist channels: %w", err)
	}
	return chs, nil
}

// Channel returns the channel with the id, whoever's it is (for the
// dispatcher).
func (s *Store) Channel(ctx context.Context, id int64) (Channel, error) {
	c, err := scanChannel(s.r.QueryRowContext(ctx, s.q(`SELECT `+channelColumns+` FROM channels WHERE id = ?`), id))
	if err != nil {
		return Channel{}, fmt.Errorf("channel %d: %w", id, err)
	}
	return c, nil
}

// channels reads an owner's channels by id; lock is appended to the query
// (a PostgreSQL row lock, or "").
func (s *Store) channels(ctx context.Context, db dbtx, o owner, lock string) ([]Channel, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT `+channelColumns+` FROM channels WHERE `+o.col+` = ? ORDER BY id`+lock), o.id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var chs []Channel
	for rows.Next() {
		c, err := scanChannel(rows)
		if err != nil {
			return nil, err
		}
		chs = append(chs, c)
	}
	return chs, rows.Err()
}

// SetChannels makes chs the patient's channels, in one transaction, and
// returns them as stored, in the order given. A channel whose type and
// config (compared as JSON, so key order and spacing do not matter) are
// already the patient's keeps its ID and CreatedAt, so its pending reminders
// stay valid; the others are inserted. A channel of the patient's not in chs
// is deleted, and its pending reminders become skipped (SkipReason
// "channel_removed"); its other reminders stay, with ChannelID 0.
//
// chs replaces every channel, web push subscriptions included: a caller
// editing some passes the others back as Channels returned them. Each
// Config must be a JSON object (a webpush one with an "endpoint"); a channel
// listed twice, a second channel of a type, or more than
// MaxPushSubscriptions web push ones is an error (ErrInvalid). The ID,
// PatientID, TherapistID and CreatedAt fields of chs are ignored. A new
// channel is stored Pending (with its ConfirmNonce and ConfirmHash) as
// given; a kept one stays pending only if it is given Pending too, so a
// caller confirms a channel by passing it not pending. A missing patient is
// ErrNotFound.
func (s *Store) SetChannels(ctx context.Context, patientID int64, chs []Channel) ([]Channel, error) {
	out, err := s.setChannels(ctx, nil, patientOwner(patientID), chs)
	if err != nil {
		return nil, fmt.Errorf("set channels: %w", err)
	}
	return out, nil
}

// SetTherapistChannels is SetChannels for a therapist's channels (alerts and
// digests).
func (s *Store) SetTherapistChannels(ctx context.Context, therapistID int64, chs []Channel) ([]Channel, error) {
	out, err := s.setChannels(ctx, nil, therapistOwner(therapistID), chs)
	if err != nil {
		return nil, fmt.Errorf("set therapist channels: %w", err)
	}
	return out, nil
}

// channelKey is what makes two channels the same.
type channelKey struct{ typ, config string }

// setChannels is SetChannels for an owner, in tx or, when tx is nil, in a
// transaction of its own.
func (s *Store) setChannels(ctx context.Context, tx *sql.Tx, o owner, chs []Channel) ([]Channel, error) {
	want := make([]Channel, len(chs))
	seen := make(map[channelKey]bool, len(chs))
	types := make(map[string]int, len(chs))
	for i, c := range chs {
		config, err := checkChannel(c.Type, c.Config)
		if err != nil {
			return nil, invalidf("channel %d (%s): %v", i+1, c.Type, err)
		}
		k := channelKey{c.Type, config}
		if seen[k] {
			return nil, invalidf("channel %d (%s) is listed twice: list each channel once", i+1, c.Type)
		}
		seen[k] = true
		types[c.Type]++
		switch {
		case c.Type == ChannelWebPush && types[c.Type] > MaxPushSubscriptions:
			return nil, invalidf("more than %d web push subscriptions: a patient has at most %d", MaxPushSubscriptions, MaxPushSubscriptions)
		case c.Type != ChannelWebPush && types[c.Type] > 1:
			return nil, invalidf("channel %d is a second %s channel: at most one channel of each type, so keep one %s",
				i+1, c.Type, c.Type)
		}
		want[i] = Channel{Type: c.Type, Config: json.RawMessage(config), Pending: c.Pending}
		if c.Pending {
			if len(c.ConfirmNonce) == 0 || len(c.ConfirmHash) == 0 {
				return nil, fmt.Errorf("channel %d (%s): a pending channel needs its confirmation nonce and hash", i+1, c.Type)
			}
			want[i].ConfirmNonce, want[i].ConfirmHash = c.ConfirmNonce, c.ConfirmHash
		}
	}
	err := s.within(ctx, tx, func(tx *sql.Tx) error {
		if err := s.lockOwner(ctx, tx, o); err != nil {
			return err
		}
		// On PostgreSQL the channels are locked too: a concurrent SavePlan
		// or AddReminders holds the ones it writes reminders for (FOR KEY
		// SHARE) until it commits, so no pending row of a removed channel
		// is written after the removed channel's rows were skipped.
		have, err := s.channels(ctx, tx, o, s.forUpdate())
		if err != nil {
			return err
		}
		old := make(map[channelKey]Channel, len(have))
		for _, c := range have {
			old[channelKey{c.Type, string(c.Config)}] = c
		}
		var gone []int64
		for _, c := range have {
			if !seen[channelKey{c.Type, string(c.Config)}] {
				gone = append(gone, c.ID)
			}
		}
		// Removed ones first: a web push subscription whose keys changed
		// is a new row with the endpoint of the one it replaces.
		for _, id := range gone {
			if err := s.removeChannel(ctx, tx, id); err != nil {
				return err
			}
		}
		now := s.nowMillis()
		for i := range want {
			c := &want[i]
			if kept, ok := old[channelKey{c.Type, string(c.Config)}]; ok {
				if kept.Pending && !c.Pending {
					if _, err := tx.ExecContext(ctx, s.q(`UPDATE channels SET pending = ?, confirm_nonce = NULL,
						confirm_hash = NULL WHERE id = ?`), false, kept.ID); err != nil {
						return err
					}
					kept.Pending, kept.ConfirmNonce = false, nil
				}
				*c = kept
				continue
			}
			c.PatientID, c.TherapistID = 0, 0
			if o.col == "patient_id" {
				c.PatientID = o.id
			} else {
				c.TherapistID = o.id
			}
			c.CreatedAt = fromMillis(now)
			err := tx.QueryRowContext(ctx, s.q(`INSERT INTO channels (`+o.col+`, type, config, created_at, pending,
					confirm_nonce, confirm_hash)
				VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), o.id, c.Type, string(c.Config), now, c.Pending,
				nullBytes(c.ConfirmNonce), nullBytes(c.ConfirmHash)).Scan(&c.ID)
			if isUnique(err) {
				return invalidf("channel %d (%s) clashes with another: list each channel once, one of each type", i+1, c.Type)
			}
			if err != nil {
				return err
			}
			c.ConfirmHash = nil
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return want, nil
}

// lockOwner checks that the owner exists and, on PostgreSQL, locks its row
// until the transaction ends, which serializes the writers of its channels.
// FOR NO KEY UPDATE does not block inserts that reference the row.
func (s *Store) lockOwner(ctx context.Context, tx dbtx, o owner) error {
	query := `SELECT id FROM ` + o.table + ` WHERE id = ?`
	if s.dialect == Postgres {
		query += ` FOR NO KEY UPDATE`
	}
	var id int64
	if err := tx.QueryRowContext(ctx, s.q(query), o.id).Scan(&id); err != nil {
		return fmt.Errorf("%s %d: %w", o.table[:len(o.table)-1], o.id, notFound(err))
	}
	return nil
}

// forUpdate is the row lock that a write needs on PostgreSQL, or "" on
// SQLite, where a write transaction excludes all others.
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return ` FOR UPDATE`
	}
	return ""
}

// removeChannel skips the channel's pending reminders and deletes it (its
// other reminders keep their history with channel_id NULL). On PostgreSQL the
// caller holds the channel's row lock.
func (s *Store) removeChannel(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE reminders SET status = 'skipped', skip_reason = ?, lease_until = NULL
		WHERE channel_id = ? AND status = 'pending'`), SkipChannelRemoved, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM channels WHERE id = ?`), id)
	return err
}

// nullBytes is an optional blob: empty is NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// AddPushSubscription adds a browser's push subscription (its
// PushSubscription JSON, with "endpoint" and "keys") as a webpush channel of
// the patient and returns it. A subscription whose endpoint the patient
// already has replaces that channel's config (the browser renewed its keys)
// and keeps its ID. Beyond MaxPushSubscriptions, the oldest subscriptions
// are removed (their pending reminders skipped). A missing patient is
// ErrNotFound.
func (s *Store) AddPushSubscription(ctx context.Context, patientID int64, config json.RawMessage) (Channel, error) {
	return s.addPushSubscription(ctx, nil, patientID, config)
}

func (s *Store) addPushSubscription(ctx context.Context, tx *sql.Tx, patientID int64, config json.RawMessage) (Channel, error) {
	canon, err := checkChannel(ChannelWebPush, config)
	if err != nil {
		return Channel{}, fmt.Errorf("add push subscription: %w", err)
	}
	c := Channel{PatientID: patientID, Type: ChannelWebPush, Config: json.RawMessage(canon)}
	err = s.within(ctx, tx, func(tx *sql.Tx) error {
		if err := s.lockOwner(ctx, tx, patientOwner(patientID)); err != nil {
			return err
		}
		// The conflict target is the expression of the channels_webpush
		// index, which each dialect writes its own way.
		endpoint := `json_extract(config, '$.endpoint')`
		if s.dialect == Postgres {
			endpoint = `((config::jsonb) ->> 'endpoint')`
		}
		var created int64
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO channels (patient_id, type, config, created_at)
			VALUES (?, 'webpush', ?, ?)
			ON CONFLICT (patient_id, `+endpoint+`) WHERE type = 'webpush' DO UPDATE SET config = excluded.config
			RETURNING id, created_at`), patientID, canon, s.nowMillis()).Scan(&c.ID, &created); err != nil {
			return err
		}
		c.CreatedAt = fromMillis(created)
		// A sixth browser replaces the oldest.
		rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM channels WHERE patient_id = ? AND type = 'webpush'
			ORDER BY created_at DESC, id DESC`+s.forUpdate()), patientID)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids[min(len(ids), MaxPushSubscriptions):] {
			if err := s.removeChannel(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Channel{}, fmt.Errorf("add push subscription: %w", err)
	}
	return c, nil
}

// PendingChannel returns the pending channel whose confirmation token has
// the hash; ErrNotFound when there is none (confirmed already, replaced, or
// never).
func (s *Store) PendingChannel(ctx context.Context, hash []byte) (Channel, error) {
	if err := checkHash(hash); err != nil {
		return Channel{}, fmt.Errorf("pending channel: %w", err)
	}
	c, err := scanChannel(s.r.QueryRowContext(ctx, s.q(`SELECT `+channelColumns+` FROM channels
		WHERE confirm_hash = ? AND pending`), hash))
	if err != nil {
		return Channel{}, fmt.Errorf("pending channel: %w", err)
	}
	return c, nil
}

// DeleteChannel deletes the channel with the id, whoever's it is (a push
// service answered 404 or 410 Gone): its pending reminders become skipped
// (SkipReason "channel_removed"), its others stay with ChannelID 0. A
// missing channel is ErrNotFound.
func (s *Store) DeleteChannel(ctx context.Context, id int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var got int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM channels WHERE id = ?`+s.forUpdate()), id).Scan(&got); err != nil {
			return fmt.Errorf("channel %d: %w", id, notFound(err))
		}
		return s.removeChannel(ctx, tx, id)
	})
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	return nil
}

// checkChannel validates a channel and returns its config in canonical form.
func checkChannel(typ string, config json.RawMessage) (string, error) {
	if typ == "" {
		return "", errors.New("the channel type is empty")
	}
	canon, err := canonicalJSON(config)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	if len(canon) == 0 || canon[0] != '{' {
		return "", errors.New("config: not a JSON object")
	}
	if typ == ChannelWebPush {
		var sub struct {
			Endpoint string `json:"endpoint"`
		}
		if json.Unmarshal(canon, &sub) != nil || sub.Endpoint == "" {
			return "", errors.New(`config: a web push subscription needs an "endpoint"`)
		}
	}
	return string(canon), nil
}

// canonicalJSON re-encodes a JSON value with object keys sorted and no
// insignificant space, keeping numbers as written, so that two encodings of
// one value are equal as bytes. Empty input is nil.
func canonicalJSON(raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the value")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// isForeignKey reports whether err is a violated foreign key.
func isForeignKey(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == "23503" // foreign_key_violation
	}
	return false
}

// sortedIDs returns the distinct ids in increasing order, the order in which
// PostgreSQL rows are locked to avoid deadlocks.
func sortedIDs(ids []int64) []int64 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}
