-- Schema version 6: encryption at rest.
--
-- Message texts and file lists, status notes and proposed commands are stored
-- sealed (`s1.<epoch>.<base64>`, see src/store/sealed.rs) under a data key
-- derived from bridge.key and the salt of their epoch. The largest epoch is
-- the current one: every write transaction reads it, so a rotation (a new
-- row here) takes effect in every process at its next write. Older epochs
-- stay until no value uses them. A salt alone reveals nothing: the key file
-- is needed too. Values stored before this version stay plaintext until
-- `mcp-bridge key rotate` seals them.
CREATE TABLE data_keys (
    epoch      INTEGER PRIMARY KEY,
    salt       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

INSERT INTO data_keys (epoch, salt, created_at)
VALUES (1, lower(hex(randomblob(16))), CAST(unixepoch('subsec') * 1000000 AS INTEGER));
