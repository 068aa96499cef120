-- pacer schema 3 (PostgreSQL): therapists' browser sessions. Instants are UTC
-- unix milliseconds. A session is kept as the SHA-256 of its cookie token,
-- never the token.

CREATE TABLE web_sessions (
	id           BYTEA  PRIMARY KEY, -- SHA-256 of the session cookie's token
	therapist_id BIGINT NOT NULL REFERENCES therapists (id) ON DELETE CASCADE,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_therapist ON web_sessions (therapist_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- setup_tokens (schema 1) already has what one-time use needs: a unique
-- token_hash, expires_at and used_at.
