-- The web console's sign-in tokens (`mcp-bridge console token create`).
-- Only the SHA-256 of each token is stored; the token itself is printed once.
-- Revoking keeps the row (revoked_at set) so the audit trail's names stay meaningful.
CREATE TABLE console_tokens (
    name         TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'observer')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
