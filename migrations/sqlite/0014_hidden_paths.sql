-- Paths each server keeps from approved commands (its configuration file,
-- TLS key, database and key directories), per host, so that every server
-- on a host masks them all: a stdio server did not know the TLS key of an
-- HTTP server on the same database. Paths are stored as raw bytes.
CREATE TABLE IF NOT EXISTS hidden_paths (
    host        TEXT NOT NULL,
    path        BLOB NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (host, path)
) STRICT, WITHOUT ROWID;
