-- pacer schema 5 (PostgreSQL): least privilege and bounds. Instants are UTC
-- unix milliseconds; dates are days since 1970-01-01.

-- Therapists can be disabled (they cannot sign in or use API tokens), and
-- API tokens can expire.
ALTER TABLE therapists ADD COLUMN disabled_at BIGINT;
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;

-- The fingerprint of the secret key the database's links are derived from
-- (an HMAC of a constant under the key, never the key), and the key file it
-- was read from, so that pacer refuses to start with another key and says
-- which file to use.
CREATE TABLE secret_key (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	fingerprint TEXT    NOT NULL,
	key_file    TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL
);

-- A channel a patient set (an email address typed on their page) receives
-- nothing until it is confirmed through a link sent to it. The link's token
-- is derived from confirm_nonce with the secret key; only its hash is kept.
ALTER TABLE channels ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE channels ADD COLUMN confirm_nonce BYTEA;
ALTER TABLE channels ADD COLUMN confirm_hash BYTEA;
CREATE UNIQUE INDEX channels_confirm ON channels (confirm_hash) WHERE confirm_hash IS NOT NULL;

-- At most one channel of each type per patient (Web Push: at most five,
-- kept by the store). Duplicates from before go, oldest kept, their pending
-- reminders skipped; so do Web Push subscriptions beyond the newest five.
CREATE TEMPORARY TABLE surplus_channels ON COMMIT DROP AS
	SELECT c.id FROM channels c WHERE c.patient_id IS NOT NULL AND c.type <> 'webpush'
		AND EXISTS (SELECT 1 FROM channels o WHERE o.patient_id = c.patient_id AND o.type = c.type AND o.id < c.id)
	UNION ALL
	SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY id DESC) AS n
		FROM channels WHERE type = 'webpush') w WHERE n > 5;
UPDATE reminders SET status = 'skipped', skip_reason = 'channel_removed', lease_until = NULL
WHERE status IN ('pending', 'sending') AND channel_id IN (SELECT id FROM surplus_channels);
DELETE FROM channels WHERE id IN (SELECT id FROM surplus_channels);
CREATE UNIQUE INDEX channels_one_per_type ON channels (patient_id, type)
	WHERE patient_id IS NOT NULL AND type <> 'webpush';

-- A therapist's message that names patients (the daily digest) lists them
-- here, so that erasing one of them deletes it.
CREATE TABLE reminder_patients (
	patient_id  BIGINT NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	reminder_id BIGINT NOT NULL REFERENCES reminders (id) ON DELETE CASCADE,
	PRIMARY KEY (patient_id, reminder_id)
);
CREATE INDEX reminder_patients_reminder ON reminder_patients (reminder_id);

-- Therapist alerts about a patient now carry the patient's id (and go with
-- the patient). Older ones name the patient only in their dedupe key,
-- kind:p<id>:<date>:<channel>: they get the id, or go when that patient was
-- erased. Older digests cannot be tied to the patients they name: the
-- delivered ones go.
UPDATE reminders r SET patient_id = p.id FROM patients p
WHERE r.kind IN ('alert_red_flag', 'alert_flare', 'alert_persistent') AND r.patient_id IS NULL
	AND split_part(r.dedupe_key, ':', 2) ~ '^p[0-9]{1,18}$'
	AND p.id = substr(split_part(r.dedupe_key, ':', 2), 2)::BIGINT;
DELETE FROM reminders WHERE kind IN ('alert_red_flag', 'alert_flare', 'alert_persistent') AND patient_id IS NULL;
DELETE FROM reminders WHERE kind = 'digest' AND status IN ('sent', 'skipped', 'failed');

-- The per-patient daily quota of messages: how many went out on each UTC day.
CREATE TABLE notify_quota (
	patient_id BIGINT  NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	day        INTEGER NOT NULL,
	sent       INTEGER NOT NULL,
	PRIMARY KEY (patient_id, day)
);

-- The per-patient daily cap on check-ins counts those logged since a time.
CREATE INDEX checkins_created ON checkins (patient_id, created_at);
