-- Schema version 11. Credential hashes become keyed (HMAC under the key
-- file of the plain SHA-256 older builds stored): the rewrite runs in Rust
-- in the same transaction, see src/store/rekey.rs. It must happen once only
-- (a second pass would key the keyed hashes again), so it leaves a row here.
CREATE TABLE IF NOT EXISTS keyed_credentials (since BIGINT NOT NULL);
