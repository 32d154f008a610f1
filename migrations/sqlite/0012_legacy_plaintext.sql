-- Plaintext from before encryption at rest is read only in a database this
-- upgrade found holding some: the upgrade leaves a mark keyed with the key
-- file here, and `key rotate` deletes it once every value is sealed. Without
-- the mark an unsealed value was planted by whoever could write the
-- database, and it does not open.
CREATE TABLE IF NOT EXISTS legacy_plaintext (mark TEXT NOT NULL);
