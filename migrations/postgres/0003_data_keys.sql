-- Encryption at rest (see migrations/sqlite/0007_data_keys.sql and
-- src/store/sealed.rs): message texts and file lists, status notes and
-- proposed commands are stored sealed (`s1.<epoch>.<base64>`) under a data key
-- derived from the key file and the salt of their epoch. The largest epoch is
-- current; every write transaction reads it, so a rotation (a new row here)
-- takes effect on every server at its next write. A salt is not secret (the
-- key file is), only unique per epoch. Values stored before this version stay
-- plaintext until `mcp-bridge key rotate` seals them.
CREATE TABLE data_keys (
    epoch      BIGINT PRIMARY KEY,
    salt       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO data_keys (epoch, salt, created_at)
VALUES (1, replace(gen_random_uuid()::text, '-', ''),
        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
