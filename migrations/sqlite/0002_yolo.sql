-- Schema version 2: YOLO mode state, shared by every server process.

-- One activation per conversation: requested by an agent (pending), confirmed by a
-- human in a terminal (active, until expires_at), or revoked.
CREATE TABLE yolo_activations (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    requested_by    TEXT NOT NULL,
    mode            TEXT NOT NULL,
    workspace       TEXT NOT NULL,
    timeout_s       INTEGER NOT NULL,
    sandbox         INTEGER NOT NULL,
    requested_at    INTEGER NOT NULL,
    state           TEXT NOT NULL,
    confirmed_at    INTEGER,
    expires_at      INTEGER
) STRICT;

-- A command an agent wants to run. The exact text is kept (the approval is bound
-- to it); only the SHA-256 of an approval token is stored, never the token.
CREATE TABLE yolo_proposals (
    id                  TEXT PRIMARY KEY,
    conversation_id     TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    side                TEXT NOT NULL,
    command             TEXT NOT NULL,
    mode                TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    state               TEXT NOT NULL,
    decided_at          INTEGER,
    approval_hash       TEXT UNIQUE,
    approval_expires_at INTEGER,
    used_at             INTEGER
) STRICT;

CREATE INDEX yolo_proposals_by_conversation ON yolo_proposals(conversation_id, created_at);

-- Working-tree snapshots taken before a command ran in a git workspace.
CREATE TABLE yolo_snapshots (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    proposal_id     TEXT NOT NULL,
    workspace       TEXT NOT NULL,
    git_ref         TEXT NOT NULL,
    commit_id       TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
