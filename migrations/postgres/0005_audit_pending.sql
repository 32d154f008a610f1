-- Audit records staged by writes, waiting to be linked into the chain
-- (`src/store/postgres/linker.rs`). A write inserts its records here in its
-- own transaction, taking no shared lock; a linker moves them into
-- `audit_log` under the chain head's lock, many at a time, in `id` order.
-- Every reader of the trail links first, so nothing here is ever missed.
CREATE TABLE audit_pending (
    id              BIGSERIAL PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id TEXT,
    side            TEXT,
    outcome         TEXT NOT NULL,
    code            TEXT,
    bytes           BIGINT,
    count           BIGINT,
    detail          TEXT
);
