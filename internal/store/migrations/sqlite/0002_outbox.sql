-- pacer schema 2 (SQLite): the durable reminder outbox and what it needs:
-- notification channels, patients' reminder settings, the server's VAPID key
-- pair, and the last runs of periodic jobs. Instants are UTC unix
-- milliseconds; clock times are minutes after local midnight.

-- A way to reach a patient or a therapist (exactly one of them). config is a
-- JSON object in canonical form (keys sorted, no spaces), so that an
-- unchanged channel compares equal as text. AUTOINCREMENT: an id is never
-- reused, since reminders' dedupe keys name channels by id.
CREATE TABLE channels (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	patient_id   INTEGER REFERENCES patients (id) ON DELETE CASCADE,
	therapist_id INTEGER REFERENCES therapists (id) ON DELETE CASCADE,
	type         TEXT    NOT NULL,
	config       TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	CHECK ((patient_id IS NULL) <> (therapist_id IS NULL))
) STRICT;
CREATE INDEX channels_patient ON channels (patient_id);
CREATE INDEX channels_therapist ON channels (therapist_id);
-- One web push channel per browser subscription (its endpoint) and patient.
CREATE UNIQUE INDEX channels_webpush ON channels (patient_id, json_extract(config, '$.endpoint'))
	WHERE type = 'webpush';

-- A patient's reminder preferences; no row means the defaults.
CREATE TABLE notify_settings (
	patient_id   INTEGER PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
	quiet_start  INTEGER NOT NULL CHECK (quiet_start >= 0 AND quiet_start < 1440),
	quiet_end    INTEGER NOT NULL CHECK (quiet_end >= 0 AND quiet_end < 1440),
	quiet_drop   INTEGER NOT NULL CHECK (quiet_drop IN (0, 1)),
	lead_minutes INTEGER NOT NULL CHECK (lead_minutes >= 0),
	nudge_hours  INTEGER NOT NULL CHECK (nudge_hours >= 0),
	language     TEXT    NOT NULL,
	updated_at   INTEGER NOT NULL
) STRICT;

-- The outbox: one message of one kind to one channel, due at an instant.
-- channel_id becomes NULL when its channel is deleted, so the history stays;
-- a channel's pending rows are skipped before it is.
CREATE TABLE reminders (
	id              INTEGER PRIMARY KEY,
	kind            TEXT    NOT NULL,
	session_id      INTEGER REFERENCES sessions (id) ON DELETE CASCADE,
	patient_id      INTEGER REFERENCES patients (id) ON DELETE CASCADE,
	therapist_id    INTEGER REFERENCES therapists (id) ON DELETE CASCADE,
	channel_id      INTEGER REFERENCES channels (id) ON DELETE SET NULL,
	dedupe_key      TEXT    NOT NULL UNIQUE,
	due_at          INTEGER NOT NULL,
	status          TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'skipped', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	lease_until     INTEGER, -- set while sending
	last_error      TEXT    NOT NULL DEFAULT '',
	skip_reason     TEXT    NOT NULL DEFAULT '',
	payload         TEXT, -- JSON, canonical form
	sent_at         INTEGER,
	created_at      INTEGER NOT NULL,
	CHECK (patient_id IS NOT NULL OR therapist_id IS NOT NULL)
) STRICT;
CREATE INDEX reminders_due ON reminders (status, next_attempt_at);
CREATE INDEX reminders_session ON reminders (session_id);
CREATE INDEX reminders_patient ON reminders (patient_id, due_at);
CREATE INDEX reminders_channel ON reminders (channel_id, status);

-- The server's one VAPID key pair for Web Push (id is always 1).
CREATE TABLE vapid_keys (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	public_key  TEXT    NOT NULL,
	private_key TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

-- When each periodic job last ran, so missed runs are caught up at start.
CREATE TABLE job_runs (
	name        TEXT    PRIMARY KEY,
	last_run_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
