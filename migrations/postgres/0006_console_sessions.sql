-- Web console sessions, in the database so that every console on a shared
-- database knows them (a browser behind a load balancer stays signed in),
-- a sign-out ends a session on every host, and a restart signs nobody out.
-- Only the SHA-256 of a session id is stored; the id lives in the browser's
-- cookie. Revoking a token deletes its sessions.
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    token_name TEXT NOT NULL REFERENCES console_tokens (name),
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_token ON console_sessions (token_name, started_at);
