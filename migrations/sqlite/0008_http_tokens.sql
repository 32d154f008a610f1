-- Named bearer tokens for the streamable HTTP transport (`mcp-bridge http-token`).
-- Only the SHA-256 of a token is stored: the token itself is printed once, at
-- creation, and cannot be recovered from the database.
CREATE TABLE http_tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('agent', 'operator', 'observer')),
    token_hash  BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
