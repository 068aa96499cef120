package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"pacer/programs"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The durable reminder outbox (design/reminders.md): rows are written with
// the plan that wants them (SavePlan) or at once (AddReminders); a dispatcher
// claims due rows with a lease (ClaimDue), reads what it words them from
// (ReminderSubjects), sends them, and records the outcomes of many sends in
// one transaction (RecordOutcomes; MarkSent and the like for one), each only
// while its row is still claimed. A claim whose lease expired (the
// dispatcher crashed) is claimed again, so a reminder is sent at least once:
// twice if the crash fell between its send and the commit of its outcome,
// or a send outlasted its lease.

const reminderColumns = `id, kind, session_id, patient_id, therapist_id, channel_id, dedupe_key, due_at, status,
	attempts, next_attempt_at, lease_until, last_error, skip_reason, payload, sent_at, created_at`

func scanReminder(row rowScanner) (Reminder, error) {
	var (
		r                                   Reminder
		session, patient, therapist, chanID sql.NullInt64
		due, next, created                  int64
		lease, sent                         sql.NullInt64
		payload                             sql.NullString
	)
	if err := row.Scan(&r.ID, &r.Kind, &session, &patient, &therapist, &chanID, &r.DedupeKey, &due, &r.Status,
		&r.Attempts, &next, &lease, &r.LastError, &r.SkipReason, &payload, &sent, &created); err != nil {
		return Reminder{}, notFound(err)
	}
	r.SessionID, r.PatientID, r.TherapistID, r.ChannelID = session.Int64, patient.Int64, therapist.Int64, chanID.Int64
	r.DueAt, r.NextAttemptAt, r.CreatedAt = fromMillis(due), fromMillis(next), fromMillis(created)
	r.LeaseUntil, r.SentAt = nullMillis(lease), nullMillis(sent)
	if payload.Valid {
		r.Payload = []byte(payload.String)
	}
	return r, nil
}

// scanReminders reads all rows and closes them.
func scanReminders(rows *sql.Rows) ([]Reminder, error) {
	defer rows.Close()
	var rs []Reminder
	for rows.Next() {
		r, err := scanReminder(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// nullID is an optional reference: 0 is NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// checkReminder validates a reminder to be written and returns its payload in
// canonical form (NULL for none or JSON null).
func checkReminder(r *Reminder) (sql.NullString, error) {
	switch {
	case r.Kind == "":
		return sql.NullString{}, errors.New("the kind is empty")
	case r.DedupeKey == "":
		return sql.NullString{}, errors.New("the dedupe key is empty")
	case r.DueAt.IsZero():
		return sql.NullString{}, errors.New("the due time is zero")
	case r.ChannelID == 0:
		return sql.NullString{}, errors.New("no channel")
	case r.PatientID == 0 && r.TherapistID == 0:
		return sql.NullString{}, errors.New("neither a patient nor a therapist")
	}
	p, err := canonicalJSON(r.Payload)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("payload: %w", err)
	}
	if p == nil || string(p) == "null" {
		return sql.NullString{}, nil
	}
	return sql.NullString{String: string(p), Valid: true}, nil
}

// saveReminders is the reminders part of SavePlan, inside its transaction,
// after the sessions are written; saved are all of the assignment's sessions
// as now stored (cancelled ones included). It calls fn with them, ordered by
// date, time, activity and slot, and upserts the rows it returns by DedupeKey:
//
//   - a new key is inserted, pending, with NextAttemptAt = DueAt;
//   - a pending row whose DueAt or Payload changed is updated, with
//     NextAttemptAt = the new DueAt;
//   - a row skipped as "cancelled" (its session was dropped from the plan, and
//     is now wanted again) is pending again, as if new;
//   - any other row (sending, sent, failed, skipped otherwise) is left alone;
//   - a pending row of the assignment's sessions whose key fn no longer
//     returns, and whose DueAt is after now, becomes skipped ("cancelled").
//     One already due is left to the dispatcher, which rereads the session
//     before sending: so a row waiting for a retry, or due while the
//     dispatcher was down, is not lost because fn returns only upcoming
//     reminders.
//
// Each row must name a channel, a kind, a due time and a key, be unique by
// key, have SessionID 0 or one of the sessions given, and TherapistID 0; its
// PatientID is set to the patient's and Status, Attempts and the like are
// ignored. A row whose channel is not (any more) the patient's is dropped:
// the channels may have changed since fn's caller read them, and the removal
// skipped its pending rows. Anything else wrong fails the whole save.
func (s *Store) saveReminders(ctx context.Context, tx dbtx, assignmentID, patientID int64, saved []Session,
	fn func([]Session) []Reminder, now time.Time) error {
	ids := make(map[int64]bool, len(saved))
	for _, x := range saved {
		ids[x.ID] = true
	}
	slices.SortFunc(saved, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.Date, b.Date), cmp.Compare(a.Time, b.Time),
			strings.Compare(a.Activity, b.Activity), cmp.Compare(a.Slot, b.Slot))
	})
	rs := fn(saved)

	// Serialize with SetChannels (patient, then channels, the order it
	// locks them in) and hold the patient's channels until commit.
	if err := s.lockOwner(ctx, tx, patientOwner(patientID)); err != nil {
		return err
	}
	lock := ""
	if s.dialect == Postgres {
		lock = ` FOR KEY SHARE`
	}
	chs, err := s.channels(ctx, tx, patientOwner(patientID), lock)
	if err != nil {
		return err
	}
	channels := make(map[int64]bool, len(chs))
	for _, c := range chs {
		channels[c.ID] = true
	}

	type want struct {
		r       Reminder
		payload sql.NullString
	}
	wants := make([]want, 0, len(rs))
	seen := make(map[string]bool, len(rs))
	returned := make(map[string]bool, len(rs))
	for i, r := range rs {
		payload, err := checkReminder(&Reminder{Kind: r.Kind, DedupeKey: r.DedupeKey, DueAt: r.DueAt,
			ChannelID: r.ChannelID, PatientID: patientID, Payload: r.Payload})
		switch {
		case err != nil:
			return fmt.Errorf("reminder %d (%q): %w", i+1, r.DedupeKey, err)
		case seen[r.DedupeKey]:
			return fmt.Errorf("reminder key %q is returned twice", r.DedupeKey)
		case r.SessionID != 0 && !ids[r.SessionID]:
			return fmt.Errorf("reminder %q: session %d is not one of assignment %d's", r.DedupeKey, r.SessionID, assignmentID)
		case r.TherapistID != 0:
			return fmt.Errorf("reminder %q: a plan's reminders are the patient's, not a therapist's", r.DedupeKey)
		}
		seen[r.DedupeKey] = true
		if !channels[r.ChannelID] {
			continue // as if not returned; see above
		}
		returned[r.DedupeKey] = true
		r.PatientID = patientID
		wants = append(wants, want{r, payload})
	}

	type stored struct {
		id         int64
		status     string
		skipReason string
		due        int64
		payload    sql.NullString
		session    string // the session's status
	}
	old := make(map[string]stored)
	// Only pending rows and rows skipped as cancelled can change; the
	// others (sent, failed, being sent, skipped otherwise) are left alone,
	// which the upsert below does to a row not read.
	rows, err := tx.QueryContext(ctx, s.q(`SELECT r.id, r.dedupe_key, r.status, r.skip_reason, r.due_at, r.payload, s.status
		FROM reminders r JOIN sessions s ON s.id = r.session_id
		WHERE s.assignment_id = ? AND (r.status = 'pending' OR (r.status = 'skipped' AND r.skip_reason = ?))`),
		assignmentID, SkipCancelled)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			x   stored
			key string
		)
		if err := rows.Scan(&x.id, &key, &x.status, &x.skipReason, &x.due, &x.payload, &x.session); err != nil {
			rows.Close()
			return err
		}
		old[key] = x
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	created := s.nowMillis()
	for _, w := range wants {
		due := millis(w.r.DueAt)
		x, ok := old[w.r.DedupeKey]
		var err error
		switch {
		case !ok:
			// New, or a row of no session of this assignment: an upsert
			// that changes only a pending row of this patient.
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO reminders (kind, session_id, patient_id, channel_id,
					dedupe_key, due_at, status, next_attempt_at, payload, created_at)
				VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
				ON CONFLICT (dedupe_key) DO UPDATE SET due_at = excluded.due_at,
					next_attempt_at = excluded.next_attempt_at, payload = excluded.payload
				WHERE reminders.status = 'pending' AND reminders.patient_id = excluded.patient_id
					AND reminders.therapist_id IS NULL
					AND (reminders.due_at <> excluded.due_at OR reminders.payload IS DISTINCT FROM excluded.payload)`),
				w.r.Kind, nullID(w.r.SessionID), patientID, w.r.ChannelID, w.r.DedupeKey, due, due, w.payload, created)
		case x.status == ReminderPending && (x.due != due || x.payload != w.payload):
			// A dispatcher may have claimed it since it was read: then
			// the condition on status makes this a no-op.
			_, err = tx.ExecContext(ctx, s.q(`UPDATE reminders SET due_at = ?, next_attempt_at = ?, payload = ?
				WHERE id = ? AND status = 'pending'`), due, due, w.payload, x.id)
		case x.status == ReminderSkipped && x.skipReason == SkipCancelled:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE reminders SET status = 'pending', skip_reason = '', due_at = ?,
					next_attempt_at = ?, payload = ?
				WHERE id = ? AND status = 'skipped'`), due, due, w.payload, x.id)
		}
		if err != nil {
			return fmt.Errorf("reminder %q: %w", w.r.DedupeKey, err)
		}
	}

	// Pending rows no longer wanted are skipped, saying why: the session was
	// checked in, or the plan dropped it.
	var skip []int64
	reason := map[int64]string{}
	for key, x := range old {
		if x.status == ReminderPending && !returned[key] && x.due > millis(now) {
			skip = append(skip, x.id)
			reason[x.id] = SkipCancelled
			switch programs.Status(x.session) {
			case programs.Done, programs.Partial, programs.Skipped:
				reason[x.id] = SkipCheckedIn
			}
		}
	}
	slices.Sort(skip) // rows in a fixed order, as PostgreSQL locks them
	for _, id := range skip {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE reminders SET status = 'skipped', skip_reason = ?
			WHERE id = ? AND status = 'pending'`), reason[id], id); err != nil {
			return err
		}
	}
	return nil
}

// AddReminders adds reminders that are sent as soon as they are due, not
// with a plan (a flare plan, red-flag guidance, therapist alerts, digests),
// in one transaction, and returns how many it inserted: a row whose
// DedupeKey exists, in the store or earlier in rs, is ignored. Each row is
// inserted pending with NextAttemptAt = DueAt; its ID, Status, Attempts,
// lease, errors and times other than DueAt are ignored.
//
// A row is a therapist's when TherapistID is set (PatientID then names the
// patient it is about, or is 0), else the patient's; its channel must be
// its recipient's, or the row is dropped (not counted): the channel may have
// been removed since the caller read it.
func (s *Store) AddReminders(ctx context.Context, rs []Reminder) (inserted int, err error) {
	return s.addReminders(ctx, nil, rs)
}

// addReminders is AddReminders in tx or, when tx is nil, in a transaction of
// its own.
func (s *Store) addReminders(ctx context.Context, tx *sql.Tx, rs []Reminder) (inserted int, err error) {
	payloads := make([]sql.NullString, len(rs))
	chanIDs := make([]int64, len(rs))
	for i := range rs {
		p, err := checkReminder(&rs[i])
		if err != nil {
			return 0, fmt.Errorf("add reminders: reminder %d (%q): %w", i+1, rs[i].DedupeKey, err)
		}
		payloads[i], chanIDs[i] = p, rs[i].ChannelID
	}
	err = s.within(ctx, tx, func(tx *sql.Tx) error {
		inserted = 0
		// The channels' owners, each channel held against removal until
		// commit (PostgreSQL), locked in id order.
		lock := ""
		if s.dialect == Postgres {
			lock = ` FOR KEY SHARE`
		}
		type ownerIDs struct{ patient, therapist int64 }
		owners := make(map[int64]ownerIDs)
		for _, id := range sortedIDs(chanIDs) {
			var p, t sql.NullInt64
			err := tx.QueryRowContext(ctx, s.q(`SELECT patient_id, therapist_id FROM channels WHERE id = ?`+lock), id).Scan(&p, &t)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			owners[id] = ownerIDs{p.Int64, t.Int64}
		}
		insert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO reminders (kind, session_id, patient_id, therapist_id,
				channel_id, dedupe_key, due_at, status, next_attempt_at, payload, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
			ON CONFLICT (dedupe_key) DO NOTHING`))
		if err != nil {
			return err
		}
		defer insert.Close()
		now := s.nowMillis()
		for i, r := range rs {
			o, ok := owners[r.ChannelID]
			if !ok || (r.TherapistID != 0 && o.therapist != r.TherapistID) ||
				(r.TherapistID == 0 && o.patient != r.PatientID) {
				continue
			}
			due := millis(r.DueAt)
			if len(r.About) > 0 {
				n, err := s.addReminderAbout(ctx, tx, r, payloads[i], now)
				if err != nil {
					return fmt.Errorf("reminder %q: %w", r.DedupeKey, err)
				}
				inserted += n
				continue
			}
			res, err := insert.ExecContext(ctx, r.Kind, nullID(r.SessionID), nullID(r.PatientID), nullID(r.TherapistID),
				r.ChannelID, r.DedupeKey, due, due, payloads[i], now)
			if err != nil {
				return fmt.Errorf("reminder %q: %w", r.DedupeKey, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			inserted += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add reminders: %w", err)
	}
	return inserted, nil
}

// addReminderAbout inserts a reminder that names the patients r.About, and
// records them, so that erasing one of them deletes it. A patient erased
// since the caller read it drops the reminder (not counted): it would name
// someone who is gone. On PostgreSQL the patients are held against erasure
// until commit.
func (s *Store) addReminderAbout(ctx context.Context, tx *sql.Tx, r Reminder, payload sql.NullString, now int64) (int, error) {
	lock := ""
	if s.dialect == Postgres {
		lock = ` FOR KEY SHARE`
	}
	about := sortedIDs(r.About)
	for _, id := range about {
		var got int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM patients WHERE id = ?`+lock), id).Scan(&got)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
	}
	due := millis(r.DueAt)
	var id int64
	err := tx.QueryRowContext(ctx, s.q(`INSERT INTO reminders (kind, session_id, patient_id, therapist_id,
			channel_id, dedupe_key, due_at, status, next_attempt_at, payload, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`),
		r.Kind, nullID(r.SessionID), nullID(r.PatientID), nullID(r.TherapistID), r.ChannelID, r.DedupeKey,
		due, due, payload, now).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // the key exists
	}
	if err != nil {
		return 0, err
	}
	for _, p := range about {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO reminder_patients (patient_id, reminder_id) VALUES (?, ?)`),
			p, id); err != nil {
			return 0, err
		}
	}
	return 1, nil
}

// TakeQuota counts one message to the patient on day (a UTC date) against
// the daily quota limit, and reports whether it was within it: false means
// limit messages went to the patient that day already, and this one must
// not. A limit of 0 or less is no quota.
func (s *Store) TakeQuota(ctx context.Context, patientID int64, day programs.Date, limit int) (bool, error) {
	got, err := s.TakeQuotas(ctx, day, limit, map[int64]int{patientID: 1})
	return got[patientID] == 1, err
}

// TakeQuotas is TakeQuota for a batch: it counts want[p] messages to each
// patient p on day, as many as the quota still allows, and returns how many
// it counted for each, in one write transaction (one commit for a
// dispatcher's batch) of two statements for every quotaChunk patients, not
// two for each: on PostgreSQL each statement is a round trip, and a
// dispatcher's batch of 200 took 400 of them. The rows are locked
// (PostgreSQL, in patient order) or written by the one writer (SQLite), so
// replicas sending at once never exceed the limit between them. A limit of
// 0 or less is no quota: everything is granted.
func (s *Store) TakeQuotas(ctx context.Context, day programs.Date, limit int, want map[int64]int) (map[int64]int, error) {
	granted := make(map[int64]int, len(want))
	if limit <= 0 {
		for p, n := range want {
			granted[p] = n
		}
		return granted, nil
	}
	ids := make([]int64, 0, len(want))
	for p := range want {
		ids = append(ids, p)
	}
	ids = sortedIDs(ids) // a fixed order, as PostgreSQL locks the rows
	byID := ""
	if s.dialect == SQLite { // lead SQLite to the rows by key, as recordQuery does
		byID = ` AND notify_quota.patient_id IN (SELECT patient_id FROM taken)`
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(granted)
		for i := 0; i < len(ids); i += quotaChunk {
			chunk := ids[i:min(i+quotaChunk, len(ids))]
			// Each patient's row of the day, made if missing and locked,
			// with what it counts so far.
			args := make([]any, 0, 2*len(chunk))
			for _, p := range chunk {
				args = append(args, p, int64(day))
			}
			rows, err := tx.QueryContext(ctx, s.q(`INSERT INTO notify_quota (patient_id, day, sent) VALUES `+
				repeatList(`(CAST(? AS BIGINT), CAST(? AS BIGINT), 0)`, len(chunk))+`
				ON CONFLICT (patient_id, day) DO UPDATE SET sent = notify_quota.sent
				RETURNING patient_id, sent`), args...)
			if err != nil {
				return err
			}
			sent := make(map[int64]int, len(chunk))
			for rows.Next() {
				var p int64
				var n int
				if err := rows.Scan(&p, &n); err != nil {
					rows.Close()
					return err
				}
				sent[p] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			args = args[:0]
			for _, p := range chunk {
				n, ok := sent[p]
				if !ok {
					return fmt.Errorf("patient %d: no quota row for day %s", p, day)
				}
				if g := min(want[p], max(limit-n, 0)); g > 0 {
					granted[p] = g
					args = append(args, p, g)
				}
			}
			if len(args) == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(`WITH taken (patient_id, n) AS (VALUES `+
				repeatList(`(CAST(? AS BIGINT), CAST(? AS BIGINT))`, len(args)/2)+`)
				UPDATE notify_quota SET sent = notify_quota.sent + taken.n FROM taken
				WHERE notify_quota.patient_id = taken.patient_id AND notify_quota.day = ?`+byID),
				append(args, int64(day))...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take quota: %w", err)
	}
	return granted, nil
}

// quotaChunk bounds the patients one statement of TakeQuotas carries (two
// parameters each).
const quotaChunk = 500

// repeatList is n copies of item, comma-separated.
func repeatList(item string, n int) string {
	var b strings.Builder
	b.Grow(n * (len(item) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(item)
	}
	return b.String()
}

// ClaimDue claims up to limit reminders that are due at now, the earliest
// first (by NextAttemptAt): pending rows whose NextAttemptAt has come, and
// sending rows whose lease has expired (LeaseUntil at or before now: their
// dispatcher crashed). Each becomes sending, with LeaseUntil = now + lease
// and Attempts one higher, and is returned as such. Until the lease expires
// no other call claims it, on any replica: SQLite has one writer, and on
// PostgreSQL the rows are chosen FOR UPDATE SKIP LOCKED, so concurrent
// claimers take different rows without waiting for each other.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Reminder, error) {
	if lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("claim due: lease %v and limit %d must be positive", lease, limit)
	}
	skipLocked := ""
	if s.dialect == Postgres {
		skipLocked = ` FOR UPDATE SKIP LOCKED`
	}
	at := millis(now)
	// The pending and the expired rows are each read in index order
	// (reminders_due), at most limit of each, and the earliest of both
	// claimed: with one WHERE … OR …, SQLite gathered and sorted every due
	// row for each batch, 17 ms a claim with 100,000 due (BenchmarkDispatch).
	rows, err := s.w.QueryContext(ctx, s.q(`UPDATE reminders SET status = 'sending', lease_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM (
				SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM reminders
					WHERE status = 'pending' AND next_attempt_at <= ?
					ORDER BY next_attempt_at, id LIMIT ?`+skipLocked+`) pending
				UNION ALL
				SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at FROM reminders
					WHERE status = 'sending' AND lease_until <= ?
					ORDER BY next_attempt_at, id LIMIT ?`+skipLocked+`) expired
			) due
			ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING `+reminderColumns), millis(now.Add(lease)), at, limit, at, limit, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due: %w", err)
	}
	rs, err := scanReminders(rows)
	if err != nil {
		return nil, fmt.Errorf("claim due: %w", err)
	}
	// RETURNING has no order of its own.
	slices.SortFunc(rs, func(a, b Reminder) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return rs, nil
}

// maxErrorLen bounds a stored error message (bytes).
const maxErrorLen = 2000

// truncate shortens s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// recordChunk bounds the outcomes one statement of RecordOutcomes carries
// (five parameters each: well under SQLite's 32,766 and PostgreSQL's 65,535).
const recordChunk = 500

// RecordOutcomes records what became of claimed reminders, all in one
// transaction: a dispatcher pays one commit (one fsync on SQLite) for a batch
// of sends, not one for each. Each row takes its outcome's status and clears
// its lease; a sent row takes SentAt = At, a retried (pending) row
// NextAttemptAt = At and LastError, a failed row LastError, a skipped row
// SkipReason.
//
// Only a row still sending changes: the IDs of the others are returned as
// stale and left alone, so a result recorded once (by a dispatcher that got
// there first) is not overwritten. The check is on the status, not on whose
// claim it is: a dispatcher whose lease expired and whose row another
// claimed again can still record the outcome (both sent it). An outcome
// with another status, or an ID given twice, is an error and nothing is
// recorded.
func (s *Store) RecordOutcomes(ctx context.Context, outs []Outcome) (stale []int64, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	seen := make(map[int64]bool, len(outs))
	args := make([]any, 0, 5*len(outs))
	for _, o := range outs {
		if seen[o.ID] {
			return nil, fmt.Errorf("record outcomes: reminder %d has two outcomes", o.ID)
		}
		seen[o.ID] = true
		var at sql.NullInt64
		switch o.Status {
		case ReminderSent, ReminderPending:
			if o.At.IsZero() {
				return nil, fmt.Errorf("record outcomes: reminder %d is %s with no time", o.ID, o.Status)
			}
			at = sql.NullInt64{Int64: millis(o.At), Valid: true}
		case ReminderFailed, ReminderSkipped:
		default:
			return nil, fmt.Errorf("record outcomes: reminder %d: %q is not an outcome", o.ID, o.Status)
		}
		args = append(args, o.ID, o.Status, at, truncate(o.Error, maxErrorLen), o.Reason)
	}
	recorded := make(map[int64]bool, len(outs))
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for i := 0; i < len(outs); i += recordChunk {
			n := min(recordChunk, len(outs)-i)
			rows, err := tx.QueryContext(ctx, s.q(s.recordQuery(n)), args[5*i:5*(i+n)]...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				recorded[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record outcomes: %w", err)
	}
	for _, o := range outs {
		if !recorded[o.ID] {
			stale = append(stale, o.ID)
		}
	}
	return stale, nil
}

// recordQuery is RecordOutcomes' statement for n outcomes: one UPDATE … FROM
// a list of VALUES (the casts type PostgreSQL's parameters). SQLite must be
// led to find the rows by id (an IN list, and NOT INDEXED otherwise): left
// to itself it walked the status index, or the whole table, for a batch,
// and 100,000 results took 5 s of CPU (BenchmarkDispatch). PostgreSQL joins
// the list to the sending rows by hash as it is.
func (s *Store) recordQuery(n int) string {
	notIndexed, byID := "", ""
	if s.dialect == SQLite {
		notIndexed, byID = " NOT INDEXED", " AND reminders.id IN (SELECT id FROM outcome)"
	}
	var b strings.Builder
	b.WriteString(`WITH outcome (id, status, at, last_error, skip_reason) AS (VALUES `)
	b.WriteString(repeatList(`(CAST(? AS BIGINT), ?, CAST(? AS BIGINT), ?, ?)`, n))
	b.WriteString(`)
		UPDATE reminders` + notIndexed + ` SET status = outcome.status, lease_until = NULL,
			sent_at = CASE WHEN outcome.status = 'sent' THEN outcome.at ELSE reminders.sent_at END,
			next_attempt_at = CASE WHEN outcome.status = 'pending' THEN outcome.at ELSE reminders.next_attempt_at END,
			last_error = CASE WHEN outcome.status IN ('pending', 'failed') THEN outcome.last_error ELSE reminders.last_error END,
			skip_reason = CASE WHEN outcome.status = 'skipped' THEN outcome.skip_reason ELSE reminders.skip_reason END
		FROM outcome WHERE reminders.id = outcome.id AND reminders.status = 'sending'` + byID + `
		RETURNING reminders.id`)
	return b.String()
}

// record records one outcome (RecordOutcomes); a row no longer sending is
// ErrNotFound.
func (s *Store) record(ctx context.Context, op string, o Outcome) error {
	stale, err := s.RecordOutcomes(ctx, []Outcome{o})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if len(stale) > 0 {
		return fmt.Errorf("%s: reminder %d is not being sent: %w", op, o.ID, ErrNotFound)
	}
	return nil
}

// MarkSent records that the claimed reminder was sent at at: RecordOutcomes
// for one.
func (s *Store) MarkSent(ctx context.Context, id int64, at time.Time) error {
	return s.record(ctx, "mark sent", Outcome{ID: id, Status: ReminderSent, At: at})
}

// MarkRetry puts the claimed reminder back to pending after a temporary
// error, to be claimed again at next. lastErr is shown to the patient and
// the therapist: it must hold no secret (a bot token in a URL).
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, lastErr string) error {
	return s.record(ctx, "mark retry", Outcome{ID: id, Status: ReminderPending, At: next, Error: lastErr})
}

// MarkFailed gives up on the claimed reminder (a permanent error, or too
// many attempts). lastErr is as for MarkRetry.
func (s *Store) MarkFailed(ctx context.Context, id int64, lastErr string) error {
	return s.record(ctx, "mark failed", Outcome{ID: id, Status: ReminderFailed, Error: lastErr})
}

// MarkSkipped records that the claimed reminder will not be sent, and why
// (stale, checked_in, cancelled, quiet_hours, channel_removed).
func (s *Store) MarkSkipped(ctx context.Context, id int64, reason string) error {
	return s.record(ctx, "mark skipped", Outcome{ID: id, Status: ReminderSkipped, Reason: reason})
}

// ReleaseLeases gives claimed reminders that were not attempted back
// (graceful shutdown): each that is still sending becomes pending with its
// NextAttemptAt unchanged, and the attempt its claim counted is taken back.
// Others are left alone.
func (s *Store) ReleaseLeases(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		release, err := tx.PrepareContext(ctx, s.q(`UPDATE reminders SET status = 'pending', lease_until = NULL,
				attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END
			WHERE id = ? AND status = 'sending'`))
		if err != nil {
			return err
		}
		defer release.Close()
		for _, id := range sortedIDs(ids) {
			if _, err := release.ExecContext(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release leases: %w", err)
	}
	return nil
}

// NextDue returns when ClaimDue will next find work: the earliest
// NextAttemptAt of a pending row or LeaseUntil of a sending one; false when
// there is neither. The instant may be past.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(t) FROM (
			SELECT MIN(next_attempt_at) AS t FROM reminders WHERE status = 'pending'
			UNION ALL
			SELECT MIN(lease_until) AS t FROM reminders WHERE status = 'sending'
		) due`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("next due: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(next.Int64), true, nil
}

// Reminders returns the patient's own reminders (not the therapist alerts
// about the patient) due at since or later, by due time, for the settings
// page.
func (s *Store) Reminders(ctx context.Context, patientID int64, since time.Time) ([]Reminder, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+reminderColumns+` FROM reminders
		WHERE patient_id = ? AND therapist_id IS NULL AND due_at >= ?
		ORDER BY due_at, id`), patientID, millis(since))
	if err != nil {
		return nil, fmt.Errorf("reminders: %w", err)
	}
	rs, err := scanReminders(rows)
	if err != nil {
		return nil, fmt.Errorf("reminders: %w", err)
	}
	return rs, nil
}

// ReminderCounts returns how many reminders have each status, every status
// present. It reads every row's index entry: for tests and tools; the
// metrics read OutboxCounts.
func (s *Store) ReminderCounts(ctx context.Context) (map[string]int, error) {
	return s.reminderCounts(ctx, ReminderPending, ReminderSending, ReminderSent, ReminderSkipped, ReminderFailed)
}

// OutboxCounts returns how many reminders are pending, sending and failed,
// each present: the rows still to send and those given up on, counted from
// the index on status alone, however many sent and skipped rows the
// retention period keeps.
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int, error) {
	return s.reminderCounts(ctx, ReminderPending, ReminderSending, ReminderFailed)
}

// reminderCounts counts the reminders of each of statuses, from the index
// on status.
func (s *Store) reminderCounts(ctx context.Context, statuses ...string) (map[string]int, error) {
	counts := make(map[string]int, len(statuses))
	args := make([]any, len(statuses))
	for i, st := range statuses {
		counts[st], args[i] = 0, st
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT status, COUNT(*) FROM reminders WHERE status IN (`+
		repeatList(`?`, len(statuses))+`) GROUP BY status`), args...)
	if err != nil {
		return nil, fmt.Errorf("reminder counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("reminder counts: %w", err)
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reminder counts: %w", err)
	}
	return counts, nil
}

// ReminderSubjects reads what the claimed reminders rs are worded from, a
// few queries for the whole batch: their channels, their sessions, the
// patients of both, and those patients' reminder settings. What no longer
// exists is missing from the maps.
func (s *Store) ReminderSubjects(ctx context.Context, rs []Reminder) (Subjects, error) {
	sub := Subjects{Channels: map[int64]Channel{}, Sessions: map[int64]Session{}, Patients: map[int64]Patient{},
		Settings: map[int64]NotifySettings{}}
	var chans, sessions, patients []int64
	for _, r := range rs {
		chans, sessions, patients = append(chans, r.ChannelID), append(sessions, r.SessionID), append(patients, r.PatientID)
	}
	err := s.byIDs(ctx, `SELECT `+channelColumns+` FROM channels WHERE id IN `, chans, func(rows *sql.Rows) error {
		c, err := scanChannel(rows)
		if err == nil {
			sub.Channels[c.ID] = c
		}
		return err
	})
	if err == nil {
		err = s.byIDs(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id IN `, sessions, func(rows *sql.Rows) error {
			x, err := scanSession(rows)
			if err == nil {
				sub.Sessions[x.ID] = x
			}
			return err
		})
	}
	if err == nil {
		for _, x := range sub.Sessions {
			patients = append(patients, x.PatientID)
		}
		err = s.byIDs(ctx, `SELECT `+patientColumns+` FROM patients WHERE id IN `, patients, func(rows *sql.Rows) error {
			p, err := scanPatient(rows)
			if err == nil {
				sub.Patients[p.ID], sub.Settings[p.ID] = p, DefaultNotifySettings(p.ID)
			}
			return err
		})
	}
	if err == nil {
		err = s.byIDs(ctx, `SELECT patient_id, quiet_start, quiet_end, quiet_drop, lead_minutes, nudge_hours, language,
				updated_at FROM notify_settings WHERE patient_id IN `, patients, func(rows *sql.Rows) error {
			var (
				n       NotifySettings
				updated int64
			)
			if err := rows.Scan(&n.PatientID, &n.QuietStart, &n.QuietEnd, &n.QuietDrop, &n.LeadMinutes, &n.NudgeHours,
				&n.Language, &updated); err != nil {
				return err
			}
			n.UpdatedAt = fromMillis(updated)
			sub.Settings[n.PatientID] = n
			return nil
		})
	}
	if err != nil {
		return Subjects{}, fmt.Errorf("reminder subjects: %w", err)
	}
	return sub, nil
}

// AssignmentPrograms returns the decoded program snapshots of the
// assignments with the ids, by id; a missing assignment is missing from the
// map.
func (s *Store) AssignmentPrograms(ctx context.Context, ids []int64) (map[int64]*programs.Program, error) {
	out := make(map[int64]*programs.Program, len(ids))
	err := s.byIDs(ctx, `SELECT id, program FROM assignments WHERE id IN `, ids, func(rows *sql.Rows) error {
		var (
			id   int64
			yaml []byte
		)
		if err := rows.Scan(&id, &yaml); err != nil {
			return err
		}
		p, err := s.program(yaml)
		if err != nil {
			return fmt.Errorf("assignment %d: stored program: %w", id, err)
		}
		out[id] = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assignment programs: %w", err)
	}
	return out, nil
}

// idChunk bounds the ids of one "IN (…)" list.
const idChunk = 500

// byIDs runs query, which ends in "IN ", with the distinct non-zero ids (in
// chunks) as the list, on the read pool, and calls scan for each row. The
// list is one parameter, a JSON array on SQLite and an array on PostgreSQL,
// not a parameter per id: so the statement's text is the same whatever the
// ids, and SQLite, which parses every statement run on the pool, parses a
// short one.
func (s *Store) byIDs(ctx context.Context, query string, ids []int64, scan func(*sql.Rows) error) error {
	ids = slices.DeleteFunc(sortedIDs(ids), func(id int64) bool { return id == 0 })
	list := `(SELECT value FROM json_each(?))`
	first, last := byte('['), byte(']')
	if s.dialect == Postgres {
		list, first, last = `(SELECT unnest(CAST(? AS bigint[])))`, '{', '}'
	}
	query = s.q(query + list)
	buf := make([]byte, 0, 16*min(len(ids), idChunk))
	for chunk := range slices.Chunk(ids, idChunk) {
		buf = append(buf[:0], first)
		for i, id := range chunk {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, id, 10)
		}
		buf = append(buf, last)
		rows, err := s.r.QueryContext(ctx, query, string(buf))
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// PatientByID returns the patient with the id, whoever's it is: for
// background work (the reminder dispatcher), never for a therapist's request,
// which uses Patient.
func (s *Store) PatientByID(ctx context.Context, id int64) (Patient, error) {
	p, err := scanPatient(s.r.QueryRowContext(ctx, s.q(`SELECT `+patientColumns+` FROM patients WHERE id = ?`), id))
	if err != nil {
		return Patient{}, fmt.Errorf("patient %d: %w", id, err)
	}
	return p, nil
}

// Session returns the session with the id, whoever's it is: the dispatcher
// rereads a session before it reminds of it.
func (s *Store) Session(ctx context.Context, id int64) (Session, error) {
	x, err := scanSession(s.r.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), id))
	if err != nil {
		return Session{}, fmt.Errorf("session %d: %w", id, err)
	}
	return x, nil
}
