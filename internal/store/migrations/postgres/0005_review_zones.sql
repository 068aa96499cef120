-- pacer schema 5 (PostgreSQL): the hourly review finds the patients whose local
-- day has begun by their time zone, in SQL: this index lists the zones in
-- use without reading every patient, and a zone's patients in id order.
CREATE INDEX patients_timezone ON patients (timezone, id);
