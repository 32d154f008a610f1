-- MCP sessions over HTTP (the 2025-06-18 and 2025-11-25 protocols) that
-- have bound a conversation, so that any server on the database can take a
-- session over (behind a load balancer, or after a restart): the client's
-- `initialize` parameters to replay, the bearer identity that opened it (no
-- other may take it over), and which seats it acts for. Only the SHA-256 of
-- the session id is stored, and no token: a seat's token is derived again
-- from the key file. A binding goes with its conversation; a session with no
-- binding left is dropped a day after it began.
CREATE TABLE mcp_sessions (
    id_hash     TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    init_params TEXT NOT NULL,
    started_at  BIGINT NOT NULL
);
CREATE INDEX mcp_sessions_by_start ON mcp_sessions (started_at);

CREATE TABLE mcp_session_bindings (
    id_hash         TEXT NOT NULL REFERENCES mcp_sessions (id_hash) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    side            TEXT NOT NULL,
    bound_at        BIGINT NOT NULL,
    PRIMARY KEY (id_hash, conversation_id, side)
);
CREATE INDEX mcp_session_bindings_by_conversation ON mcp_session_bindings (conversation_id);
