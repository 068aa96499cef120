-- pacer schema 1 (SQLite). Instants are UTC unix milliseconds; dates are days
-- since 1970-01-01 (programs.Date); clock times are minutes after midnight
-- (programs.Clock). Token columns hold SHA-256 hashes, never tokens.

CREATE TABLE therapists (
	id            INTEGER PRIMARY KEY,
	email         TEXT    NOT NULL,
	email_key     TEXT    NOT NULL UNIQUE, -- lower-cased email, so uniqueness ignores case
	name          TEXT    NOT NULL,
	admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
	password_hash TEXT,
	created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE setup_tokens (
	id           INTEGER PRIMARY KEY,
	therapist_id INTEGER NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	token_hash   BLOB    NOT NULL UNIQUE,
	expires_at   INTEGER NOT NULL,
	used_at      INTEGER,
	created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX setup_tokens_therapist ON setup_tokens (therapist_id);

CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY,
	therapist_id INTEGER NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	name         TEXT    NOT NULL,
	token_hash   BLOB    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER
) STRICT;
CREATE INDEX api_tokens_therapist ON api_tokens (therapist_id);

CREATE TABLE patients (
	id                 INTEGER PRIMARY KEY,
	therapist_id       INTEGER NOT NULL REFERENCES therapists (id),
	name               TEXT    NOT NULL,
	email              TEXT    NOT NULL,
	timezone           TEXT    NOT NULL,
	discreet           INTEGER NOT NULL CHECK (discreet IN (0, 1)),
	alarm              INTEGER NOT NULL CHECK (alarm IN (0, 1)),
	feed_token_hash    BLOB    NOT NULL UNIQUE,
	checkin_token_hash BLOB    NOT NULL UNIQUE,
	-- random per patient; the server derives the tokens from them with a
	-- key kept outside the database (see Patient.FeedNonce)
	feed_nonce         BLOB,
	checkin_nonce      BLOB,
	feed_version       INTEGER NOT NULL DEFAULT 0,
	created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX patients_therapist ON patients (therapist_id, name, id);

CREATE TABLE assignments (
	id         INTEGER PRIMARY KEY,
	patient_id INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	program_id TEXT    NOT NULL,
	program    BLOB    NOT NULL, -- normalized program YAML, a snapshot
	start_date INTEGER NOT NULL,
	params     TEXT    NOT NULL, -- JSON of store.Params
	status     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	-- the target of the (assignment_id, patient_id) foreign keys below, which
	-- keep a row's patient the same as its assignment's
	UNIQUE (id, patient_id)
) STRICT;
CREATE INDEX assignments_patient ON assignments (patient_id, status);

CREATE TABLE checkins (
	id            INTEGER PRIMARY KEY,
	patient_id    INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	assignment_id INTEGER, -- NULL: a patient-level check-in
	date          INTEGER NOT NULL,
	kind          TEXT    NOT NULL,
	body          TEXT    NOT NULL, -- JSON of programs.CheckIn
	created_at    INTEGER NOT NULL,
	FOREIGN KEY (assignment_id, patient_id) REFERENCES assignments (id, patient_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX checkins_patient ON checkins (patient_id, date);
CREATE INDEX checkins_assignment ON checkins (assignment_id);

CREATE TABLE overrides (
	id            INTEGER PRIMARY KEY,
	assignment_id INTEGER NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	date          INTEGER NOT NULL,
	kind          TEXT    NOT NULL,
	activity      TEXT    NOT NULL,
	value         INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX overrides_assignment ON overrides (assignment_id);

CREATE TABLE sessions (
	id            INTEGER PRIMARY KEY,
	assignment_id INTEGER NOT NULL,
	patient_id    INTEGER NOT NULL,
	activity      TEXT    NOT NULL,
	date          INTEGER NOT NULL,
	slot          INTEGER NOT NULL,
	time          INTEGER NOT NULL,
	dose          INTEGER NOT NULL,
	sets          INTEGER NOT NULL,
	unit          TEXT    NOT NULL,
	week          INTEGER NOT NULL,
	status        TEXT    NOT NULL,
	projected     INTEGER NOT NULL CHECK (projected IN (0, 1)),
	revision      INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	UNIQUE (assignment_id, activity, date, slot),
	FOREIGN KEY (assignment_id, patient_id) REFERENCES assignments (id, patient_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sessions_patient_date ON sessions (patient_id, date);

CREATE TABLE decisions (
	assignment_id INTEGER NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	week          INTEGER NOT NULL,
	activity      TEXT    NOT NULL, -- '' for the week's own decision
	code          TEXT    NOT NULL,
	reason        TEXT    NOT NULL,
	PRIMARY KEY (assignment_id, week, activity)
) STRICT, WITHOUT ROWID;
