-- pacer schema 4 (PostgreSQL): the plan as data. Re-planning stores what the
-- engine decided in codes and numbers (never sentences), so every page, feed,
-- message and API reads the same facts and words them in its reader's
-- language. Dates are days since 1970-01-01; instants UTC unix milliseconds.

-- One row per assignment: the plan's header as of its last re-plan.
CREATE TABLE plans (
	assignment_id BIGINT  PRIMARY KEY REFERENCES assignments (id) ON DELETE CASCADE,
	patient_id    BIGINT  NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
	rules_version INTEGER NOT NULL, -- programs.RulesVersion the plan was computed under
	now           INTEGER NOT NULL, -- the patient's local date the plan was computed for
	planned_at    BIGINT  NOT NULL,
	weeks         INTEGER NOT NULL,
	pause         TEXT    NOT NULL, -- '', 'red_flag' or 'therapist'
	paused_on     INTEGER NOT NULL, -- 0: not paused
	answers       TEXT    NOT NULL, -- JSON array: the red-flag answers of a red-flag pause
	flare_on      INTEGER NOT NULL, -- 0: not in a flare
	persistent    BOOLEAN NOT NULL
);
CREATE INDEX plans_patient ON plans (patient_id);

-- The weekly decisions: one row per week and activity, and one per week
-- (activity '') holding the week's own decision and signals.
CREATE TABLE plan_weeks (
	assignment_id BIGINT  NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	week          INTEGER NOT NULL,
	activity      TEXT    COLLATE "C" NOT NULL, -- '' for the week's own row
	start_date    INTEGER NOT NULL,
	projected     BOOLEAN NOT NULL,
	code          TEXT    NOT NULL,
	decided_for   TEXT    NOT NULL, -- the activity whose decision it is
	facts         TEXT    NOT NULL, -- JSON of programs.Facts
	unit          TEXT    NOT NULL,
	dose          INTEGER NOT NULL,
	sets          INTEGER NOT NULL,
	goal          INTEGER NOT NULL,
	threshold     INTEGER NOT NULL,
	learned       BOOLEAN NOT NULL,
	ceiling       INTEGER NOT NULL,
	done          INTEGER NOT NULL,
	planned       INTEGER NOT NULL,
	signals       TEXT, -- JSON of programs.Signals, on the week's own row
	PRIMARY KEY (assignment_id, week, activity)
);

-- The changes within weeks, numbered from 1 in each week (Session.Cause).
CREATE TABLE plan_events (
	assignment_id BIGINT  NOT NULL REFERENCES assignments (id) ON DELETE CASCADE,
	week          INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	date          INTEGER NOT NULL,
	code          TEXT    NOT NULL,
	activity      TEXT    NOT NULL,
	facts         TEXT    NOT NULL, -- JSON of programs.Facts
	PRIMARY KEY (assignment_id, week, seq)
);

-- Decisions held English sentences; plans are re-planned at start into
-- plan_weeks (see store.StalePatients), so the old rows go.
DROP TABLE decisions;

-- A session keeps what the patient logged and why it has its dose; shown is
-- a digest of what a calendar shows beyond the columns (its reason, wording
-- and alarm), so that any change to it raises the revision.
ALTER TABLE sessions ADD COLUMN actual INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN pain INTEGER;
ALTER TABLE sessions ADD COLUMN calibration BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN extra BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE sessions ADD COLUMN cause INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN shown TEXT NOT NULL DEFAULT '';
