-- pacer schema 7 (PostgreSQL): the hourly review finds the patients whose local
-- day has begun by their time zone, in SQL: this index lists the zones in
-- use without reading every patient, and a zone's patients in id order.
CREATE INDEX patients_timezone ON patients (timezone, id);

-- A digest of the rows a re-plan wrote (sessions, plan weeks and events):
-- the review recomputes the stored plan, and when the digests agree it knows
-- the rows without reading them. '' until the next re-plan.
ALTER TABLE plans ADD COLUMN digest TEXT NOT NULL DEFAULT '';
