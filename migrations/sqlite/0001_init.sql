-- Schema version 1: conversations with participants, messages with per-recipient
-- delivery, heartbeats, rate-limit buckets and the hash-chained audit trail.
-- Times are microseconds since the Unix epoch (UTC).

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

-- Side 'a' and side 'b' are the first two participants; more sides later need no migration.
CREATE TABLE participants (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side            TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT,
    note            TEXT,
    status_at       INTEGER,
    PRIMARY KEY (conversation_id, side)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: ids are never reused, even after cleanup deletes the newest rows,
-- so the id order is the send order for the life of the database.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    from_side       TEXT NOT NULL,
    action_type     TEXT NOT NULL,
    content         TEXT NOT NULL,
    files           TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

CREATE TABLE deliveries (
    conversation_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    delivered_at    INTEGER,
    PRIMARY KEY (conversation_id, recipient, message_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX deliveries_pending ON deliveries(conversation_id, recipient, message_id)
    WHERE delivered_at IS NULL;
CREATE INDEX deliveries_by_message ON deliveries(message_id);

CREATE TABLE rate_buckets (
    conversation_id TEXT NOT NULL,
    side            TEXT NOT NULL,
    class           TEXT NOT NULL,
    window          TEXT NOT NULL,
    bucket          INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, side, class, window, bucket)
) STRICT, WITHOUT ROWID;

-- No foreign key: the audit trail outlives the conversations it mentions.
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    side            TEXT,
    outcome         TEXT NOT NULL,
    code            TEXT,
    bytes           INTEGER,
    count           INTEGER,
    detail          TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
) STRICT;

CREATE INDEX audit_by_conversation ON audit_log(conversation_id, seq);

-- The chain's head, so removing records from the end is detectable too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;
