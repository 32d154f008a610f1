-- Schema version 1: conversations with participants, messages with per-recipient
-- pending deliveries, heartbeats, rate-limit buckets and the hash-chained audit trail.
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

-- Ids increase in send order. They are assigned explicitly as one more than the
-- larger of the current maximum and `meta.message_id_floor` (raised by cleanup),
-- so an id is never reused even after the newest messages are deleted; this
-- gives AUTOINCREMENT's guarantee without writing `sqlite_sequence` on every send.
-- No secondary index: management commands that list a conversation scan the
-- table, which keeps each send to as few page writes as possible.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    from_side       TEXT NOT NULL,
    action_type     TEXT NOT NULL,
    content         TEXT NOT NULL,
    files           TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('message_id_floor', 0);

-- One row per message a recipient has not taken yet; taking it deletes the row,
-- so an inbox check reads exactly the pending range of this primary key. No foreign
-- key: rows are removed with their conversation by `cleanup`, explicitly.
CREATE TABLE pending_deliveries (
    conversation_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, recipient, message_id)
) STRICT, WITHOUT ROWID;

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
-- The row with seq = 9223372036854775807 is not a record but the chain's head
-- (the last seq in `count`, its hash in `hash`), so removing records from the end
-- is detectable too. It sorts last, so it shares the newest records' leaf page
-- and keeping it current costs no extra page write.
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
