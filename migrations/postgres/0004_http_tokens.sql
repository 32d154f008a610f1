-- Named bearer tokens for the streamable HTTP transport (`mcp-bridge http-token`).
-- Only the SHA-256 of a token is stored: the token itself is printed once, at
-- creation, and cannot be recovered from the database. Revoked rows stay, so
-- a name is never reused and the audit trail's names stay meaningful.
CREATE TABLE http_tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('agent', 'operator', 'observer')),
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
