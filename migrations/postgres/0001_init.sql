-- PostgreSQL schema version 1: the same tables and meanings as SQLite's schema
-- version 5 (N-party conversations), so export/import move data between them
-- unchanged. Times are microseconds since the Unix epoch (UTC), as in SQLite.
--
-- What differs, and why (several servers on several hosts write at once, under
-- READ COMMITTED):
-- * Message ids come from a sequence. A send locks its conversation's row
--   (`FOR NO KEY UPDATE`) before it draws an id, so within a conversation ids
--   are drawn and committed in the same order, and a reader can never see id
--   n+1 before id n commits. Across conversations no order is promised.
-- * The audit chain head row is locked (`FOR UPDATE`) by every append.
-- * Rate-limit buckets are bumped first (`INSERT … ON CONFLICT DO UPDATE`),
--   which locks them, then counted: two servers cannot both take the last call.
-- * Free texts an agent writes (message content, status notes, proposed
--   commands) are BYTEA holding UTF-8: PostgreSQL's TEXT cannot hold a NUL
--   character, and agents' texts travel verbatim, NULs included.

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX conversations_by_created ON conversations(created_at);
CREATE INDEX conversations_by_expiry ON conversations(expires_at);

CREATE TABLE participants (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side            TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT,
    note            BYTEA,
    status_at       BIGINT,
    kind            TEXT NOT NULL DEFAULT 'member',
    joined_at       BIGINT,
    removed_at      BIGINT,
    PRIMARY KEY (conversation_id, side)
);

CREATE SEQUENCE message_ids AS BIGINT;

CREATE TABLE messages (
    id              BIGINT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    from_side       TEXT NOT NULL,
    action_type     TEXT NOT NULL,
    content         BYTEA NOT NULL,
    files           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    recipients      TEXT
);

CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

CREATE TABLE pending_deliveries (
    conversation_id TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message_id      BIGINT NOT NULL,
    lease_id        BIGINT,
    lease_until     BIGINT,
    PRIMARY KEY (conversation_id, recipient, message_id)
);

CREATE TABLE rate_buckets (
    conversation_id TEXT NOT NULL,
    side            TEXT NOT NULL,
    class           TEXT NOT NULL,
    "window"        TEXT NOT NULL,
    bucket          BIGINT NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, side, class, "window", bucket)
);

-- The row with seq = 9223372036854775807 is the chain's head, as in SQLite.
CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    side            TEXT,
    outcome         TEXT NOT NULL,
    code            TEXT,
    bytes           BIGINT,
    count           BIGINT,
    detail          TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);

CREATE INDEX audit_log_by_conversation ON audit_log(conversation_id, seq);

INSERT INTO audit_log (seq, at, actor, action, outcome, count, prev_hash, hash, detail)
VALUES (9223372036854775807, 0, 'head', 'head', 'ok', 0, '',
        '0000000000000000000000000000000000000000000000000000000000000000',
        '{"keyed_from":1}');

CREATE TABLE yolo_activations (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    requested_by    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    workspace       TEXT NOT NULL,
    timeout_s       BIGINT NOT NULL,
    sandbox         BOOLEAN NOT NULL,
    requested_at    BIGINT NOT NULL,
    state           TEXT NOT NULL,
    confirmed_at    BIGINT,
    expires_at      BIGINT
);

CREATE TABLE yolo_proposals (
    id                  TEXT PRIMARY KEY,
    conversation_id     TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side                TEXT NOT NULL,
    command             BYTEA NOT NULL,
    mode                TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    state               TEXT NOT NULL,
    decided_at          BIGINT,
    approval_hash       TEXT UNIQUE,
    approval_expires_at BIGINT,
    used_at             BIGINT
);

CREATE INDEX yolo_proposals_by_conversation ON yolo_proposals(conversation_id, created_at);

CREATE TABLE yolo_snapshots (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    proposal_id     TEXT NOT NULL,
    workspace       TEXT NOT NULL,
    git_ref         TEXT NOT NULL,
    commit_id       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE invites (
    code_hash       TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    used_by         TEXT
);

CREATE INDEX invites_by_conversation ON invites(conversation_id, expires_at);

CREATE TABLE client_bindings (
    client_pid      BIGINT NOT NULL,
    client_start    BIGINT NOT NULL,
    server_pid      BIGINT NOT NULL,
    server_start    BIGINT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side            TEXT NOT NULL,
    bound_at        BIGINT NOT NULL,
    PRIMARY KEY (client_pid, client_start, server_pid, conversation_id, side)
);

CREATE INDEX client_bindings_by_conversation ON client_bindings(conversation_id);
