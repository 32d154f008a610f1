-- Credential hashes become keyed (HMAC under the key file of the plain
-- SHA-256 older builds stored): the rewrite runs in Rust in the same
-- transaction, see src/store/rekey.rs. Nothing changes in the schema.
SELECT 1;
