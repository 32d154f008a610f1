-- Schema version 4: conversations of more than two participants.
-- Existing conversations keep working unchanged: side 'a' becomes their owner,
-- side 'b' a member, and their messages keep going to every other participant.

-- What a participant may do: 'owner' (side a), 'member' or 'observer'.
ALTER TABLE participants ADD COLUMN kind TEXT NOT NULL DEFAULT 'member';
UPDATE participants SET kind = 'owner' WHERE side = 'a';
-- When it joined (NULL for the two sides made with the conversation).
ALTER TABLE participants ADD COLUMN joined_at INTEGER;
-- When the owner removed it; its token stops working from then on.
ALTER TABLE participants ADD COLUMN removed_at INTEGER;

-- The sides a message was addressed to, comma-separated in session order.
-- NULL for messages stored before version 3: every participant but the sender.
ALTER TABLE messages ADD COLUMN recipients TEXT;

-- Invitations into a conversation. Only a keyed hash of the code is stored;
-- redeeming sets used_at in the same transaction that adds the participant.
CREATE TABLE invites (
    code_hash       TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    used_by         TEXT
) STRICT;

CREATE INDEX invites_by_conversation ON invites(conversation_id, expires_at);

-- Which sessions a running `serve` process is bound to, keyed by the client
-- process that spawned it (its pid and start time, so a reused pid never
-- matches), for `mcp-bridge inbox` run from that client's hooks. No token is kept.
CREATE TABLE client_bindings (
    client_pid      INTEGER NOT NULL,
    client_start    INTEGER NOT NULL,
    server_pid      INTEGER NOT NULL,
    server_start    INTEGER NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side            TEXT NOT NULL,
    bound_at        INTEGER NOT NULL,
    PRIMARY KEY (client_pid, client_start, server_pid, conversation_id, side)
) STRICT, WITHOUT ROWID;

CREATE INDEX client_bindings_by_conversation ON client_bindings(conversation_id);
