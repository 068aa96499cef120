-- pacer schema 6 (SQLite): the therapist's side of the red-flag screen.
-- Instants are UTC unix milliseconds; dates are days since 1970-01-01 (the
-- patient's local date).

-- A red-flag item a therapist marked known and reviewed for a patient (e.g.
-- a history of cancer already assessed): a yes to it on a later screen does
-- not pause the plan unless the patient says it is worse. Un-marking ends a
-- row rather than deleting it, so that re-planning the past gives the plan
-- it gave then: a screen it covered stays covered.
CREATE TABLE known_red_flags (
	id          INTEGER PRIMARY KEY,
	patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	item        TEXT    NOT NULL,
	since_date  INTEGER NOT NULL,
	marked_at   INTEGER NOT NULL,
	marked_by   INTEGER REFERENCES therapists (id) ON DELETE SET NULL,
	until_date  INTEGER,
	unmarked_at INTEGER,
	unmarked_by INTEGER REFERENCES therapists (id) ON DELETE SET NULL,
	CHECK ((until_date IS NULL) = (unmarked_at IS NULL))
) STRICT;
CREATE INDEX known_red_flags_patient ON known_red_flags (patient_id, id);
CREATE UNIQUE INDEX known_red_flags_current ON known_red_flags (patient_id, item) WHERE unmarked_at IS NULL;

-- A therapist's acknowledgement that they saw a red-flag screen's answers.
CREATE TABLE red_flag_acks (
	checkin_id      INTEGER PRIMARY KEY REFERENCES checkins (id) ON DELETE CASCADE,
	patient_id      INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	therapist_id    INTEGER REFERENCES therapists (id) ON DELETE SET NULL,
	acknowledged_at INTEGER NOT NULL
) STRICT;
CREATE INDEX red_flag_acks_patient ON red_flag_acks (patient_id);
