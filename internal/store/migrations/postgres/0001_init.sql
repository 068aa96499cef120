-- pacer schema 1 (PostgreSQL). Instants are UTC unix milliseconds; dates are
-- days since 1970-01-01 (programs.Date); clock times are minutes after
-- midnight (programs.Clock). Token columns hold SHA-256 hashes, never tokens.
-- Text that is sorted on is COLLATE "C", so rows come back in the same
-- (byte) order as on SQLite whatever the database's locale.

CREATE TABLE therapists (
	id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	email         TEXT    NOT NULL,
	email_key     TEXT    NOT NULL UNIQUE, -- lower-cased email, so uniqueness ignores case
	name          TEXT    NOT NULL,
	admin         BOOLEAN NOT NULL DEFAULT FALSE,
	password_hash TEXT,
	created_at    BIGINT  NOT NULL
);

CREATE TABLE setup_tokens (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	token_hash   BYTEA  NOT NULL UNIQUE,
	expires_at   BIGINT NOT NULL,
	used_at      BIGINT,
	created_at   BIGINT NOT NULL
);
CREATE INDEX setup_tokens_therapist ON setup_tokens (therapist_id);

CREATE TABLE api_tokens (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	name         TEXT   NOT NULL,
	token_hash   BYTEA  NOT NULL UNIQUE,
	created_at   BIGINT NOT NULL,
	last_used_at BIGINT
);
CREATE INDEX api_tokens_therapist ON api_tokens (therapist_id);

CREATE TABLE patients (
	id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	therapist_id       BIGINT  NOT NULL REFERENCES therapists (id),
	name               TEXT    COLLATE "C" NOT NULL,
	email              TEXT    NOT NULL,
	timezone           TEXT    NOT NULL,
	discreet           BOOLEAN NOT NULL,
	alarm              BOOLEAN NOT NULL,
	feed_token_hash    BYTEA   NOT NULL UNIQUE,
	checkin_token_hash BYTEA   NOT NULL UNIQUE,
	-- random per patient; the server derives the tokens from them with a
	-- key kept outside the database (see Patient.FeedNonce)
	feed_nonce         BYTEA,
	checkin_nonce      BYTEA,
	feed_version       BIGINT  NOT NULL DEFAULT 0,
	created_at         BIGINT  NOT NULL
);
CREATE INDEX patients_therapist ON patients (therapist_id, name, id);

CREATE TABLE assignments (
	id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	patient_id BIGINT  NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	program_id TEXT    NOT NULL,
	program    BYTEA   NOT NULL, -- normalized program YAML, a snapshot
	start_date INTEGER NOT NULL,
	params     TEXT    NOT NULL, -- JSON of store.Params
	status     TEXT    NOT NULL,
	created_at BIGINT  NOT NULL,
	updated_at BIGINT  NOT NULL,
	-- the target of the (assignment_id, patient_id) foreign keys below, which
	-- keep a row's patient the same as its assignment's
	UNIQUE (id, patient_id)
);
CREATE INDEX assignments_patient ON assignments (patient_id, status);

CREATE TABLE checkins (
	id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	patient_id    BIGINT  NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	assignment_id BIGINT, -- NULL: a patient-level check-in
	date          INTEGER NOT NULL,
	kind          TEXT    NOT NULL,
	body          TEXT    NOT NULL, -- JSON of programs.CheckIn
	created_at    BIGINT  NOT NULL,
	FOREIGN KEY (assignment_id, patient_id) REFERENCES assignments (id, patient_id) ON DELETE CASCADE
);
CREATE INDEX checkins_patient ON checkins (patient_id, date);
CREATE INDEX checkins_assignment ON checkins (assignment_id);

CREATE TABLE overrides (
	id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	assignment_id BIGINT  NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	date          INTEGER NOT NULL,
	kind          TEXT    NOT NULL,
	activity      TEXT    NOT NULL,
	value         INTEGER NOT NULL,
	created_at    BIGINT  NOT NULL
);
CREATE INDEX overrides_assignment ON overrides (assignment_id);

CREATE TABLE sessions (
	id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	assignment_id BIGINT  NOT NULL,
	patient_id    BIGINT  NOT NULL,
	activity      TEXT    COLLATE "C" NOT NULL,
	date          INTEGER NOT NULL,
	slot          INTEGER NOT NULL,
	time          INTEGER NOT NULL,
	dose          INTEGER NOT NULL,
	sets          INTEGER NOT NULL,
	unit          TEXT    NOT NULL,
	week          INTEGER NOT NULL,
	status        TEXT    NOT NULL,
	projected     BOOLEAN NOT NULL,
	revision      INTEGER NOT NULL,
	updated_at    BIGINT  NOT NULL,
	UNIQUE (assignment_id, activity, date, slot),
	FOREIGN KEY (assignment_id, patient_id) REFERENCES assignments (id, patient_id) ON DELETE CASCADE
);
CREATE INDEX sessions_patient_date ON sessions (patient_id, date);

CREATE TABLE decisions (
	assignment_id BIGINT  NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	week          INTEGER NOT NULL,
	activity      TEXT    COLLATE "C" NOT NULL, -- '' for the week's own decision
	code          TEXT    NOT NULL,
	reason        TEXT    NOT NULL,
	PRIMARY KEY (assignment_id, week, activity)
);
