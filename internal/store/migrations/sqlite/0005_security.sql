-- pacer schema 5 (SQLite): least privilege and bounds. Instants are UTC unix
-- milliseconds; dates are days since 1970-01-01.

-- Therapists can be disabled (they cannot sign in or use API tokens), and
-- API tokens can expire.
ALTER TABLE therapists ADD COLUMN disabled_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;

-- The fingerprint of the secret key the database's links are derived from
-- (an HMAC of a constant under the key, never the key), and the key file it
-- was read from, so that pacer refuses to start with another key and says
-- which file to use.
CREATE TABLE secret_key (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	fingerprint TEXT    NOT NULL,
	key_file    TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

-- A channel a patient set (an email address typed on their page) receives
-- nothing until it is confirmed through a link sent to it. The link's token
-- is derived from confirm_nonce with the secret key; only its hash is kept.
ALTER TABLE channels ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1));
ALTER TABLE channels ADD COLUMN confirm_nonce BLOB;
ALTER TABLE channels ADD COLUMN confirm_hash BLOB;
CREATE UNIQUE INDEX channels_confirm ON channels (confirm_hash) WHERE confirm_hash IS NOT NULL;

-- At most one channel of each type per patient (Web Push: at most five,
-- kept by the store). Duplicates from before go, oldest kept, their pending
-- reminders skipped; so do Web Push subscriptions beyond the newest five.
UPDATE reminders SET status = 'skipped', skip_reason = 'channel_removed', lease_until = NULL
WHERE status IN ('pending', 'sending') AND channel_id IN (
	SELECT c.id FROM channels c WHERE c.patient_id IS NOT NULL AND c.type <> 'webpush'
		AND EXISTS (SELECT 1 FROM channels o WHERE o.patient_id = c.patient_id AND o.type = c.type AND o.id < c.id)
	UNION ALL
	SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY id DESC) AS n
		FROM channels WHERE type = 'webpush') WHERE n > 5);
DELETE FROM channels WHERE id IN (
	SELECT c.id FROM channels c WHERE c.patient_id IS NOT NULL AND c.type <> 'webpush'
		AND EXISTS (SELECT 1 FROM channels o WHERE o.patient_id = c.patient_id AND o.type = c.type AND o.id < c.id)
	UNION ALL
	SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY id DESC) AS n
		FROM channels WHERE type = 'webpush') WHERE n > 5);
CREATE UNIQUE INDEX channels_one_per_type ON channels (patient_id, type)
	WHERE patient_id IS NOT NULL AND type <> 'webpush';

-- A therapist's message that names patients (the daily digest) lists them
-- here, so that erasing one of them deletes it.
CREATE TABLE reminder_patients (
	patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	reminder_id INTEGER NOT NULL REFERENCES reminders (id) ON DELETE CASCADE,
	PRIMARY KEY (patient_id, reminder_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX reminder_patients_reminder ON reminder_patients (reminder_id);

-- Therapist alerts about a patient now carry the patient's id (and go with
-- the patient). Older ones name the patient only in their dedupe key,
-- kind:p<id>:<date>:<channel>: they get the id, or go when that patient was
-- erased. Older digests cannot be tied to the patients they name: the
-- delivered ones go.
UPDATE reminders SET patient_id = CAST(substr(dedupe_key, instr(dedupe_key, ':p') + 2,
		instr(substr(dedupe_key, instr(dedupe_key, ':p') + 2), ':') - 1) AS INTEGER)
WHERE kind IN ('alert_red_flag', 'alert_flare', 'alert_persistent') AND patient_id IS NULL
	AND instr(dedupe_key, ':p') > 0
	AND CAST(substr(dedupe_key, instr(dedupe_key, ':p') + 2,
		instr(substr(dedupe_key, instr(dedupe_key, ':p') + 2), ':') - 1) AS INTEGER) IN (SELECT id FROM patients);
DELETE FROM reminders WHERE kind IN ('alert_red_flag', 'alert_flare', 'alert_persistent') AND patient_id IS NULL;
DELETE FROM reminders WHERE kind = 'digest' AND status IN ('sent', 'skipped', 'failed');

-- The per-patient daily quota of messages: how many went out on each UTC day.
CREATE TABLE notify_quota (
	patient_id INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	day        INTEGER NOT NULL,
	sent       INTEGER NOT NULL,
	PRIMARY KEY (patient_id, day)
) STRICT, WITHOUT ROWID;

-- The per-patient daily cap on check-ins counts those logged since a time.
CREATE INDEX checkins_created ON checkins (patient_id, created_at);
