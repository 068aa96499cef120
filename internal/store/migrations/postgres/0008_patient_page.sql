-- pacer schema 8 (PostgreSQL): what the patient's check-in page needs.

-- The day the patient is asked "still in a flare-up" (programs.Plan.FlareAsk):
-- the last day of the current flare's step-back; 0: none is asked.
ALTER TABLE plans ADD COLUMN flare_ask INTEGER NOT NULL DEFAULT 0;

-- A session check-in the patient undid from their page: it stays (the daily
-- cap on check-ins counts it), but no plan reads it. NULL: in force.
ALTER TABLE checkins ADD COLUMN retracted_at BIGINT;
