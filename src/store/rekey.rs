//! The upgrade that keys the stored credential hashes (SQLite schema 13,
//! PostgreSQL 11). Older builds stored a plain SHA-256 of every HTTP and
//! console token, console session id and YOLO approval token, so whoever
//! could write the database (or a backup) could plant a token of their own.
//! The upgrade replaces each digest with `AuditKey::rekey_digest` of it:
//! every credential handed out before still works, and no new one can be
//! made without the key file. Backend-neutral; each backend runs the
//! rewrite in its migrating transaction, once: it leaves a row in
//! `keyed_credentials`, so a migration run again (a schema version set back)
//! does not key the keyed hashes a second time.

use crate::audit::AuditKey;

/// A column holding credential hashes.
#[derive(Debug, Clone, Copy)]
pub struct HashColumn {
    /// Its table.
    pub table: &'static str,
    /// The column.
    pub column: &'static str,
    /// Whether the hash is stored as hex text (else as 32 raw bytes).
    pub hex: bool,
}

/// Every column that holds a credential hash.
pub const HASH_COLUMNS: &[HashColumn] = &[
    HashColumn {
        table: "http_tokens",
        column: "token_hash",
        hex: false,
    },
    HashColumn {
        table: "console_tokens",
        column: "token_hash",
        hex: true,
    },
    HashColumn {
        table: "console_sessions",
        column: "id_hash",
        hex: true,
    },
    HashColumn {
        table: "yolo_proposals",
        column: "approval_hash",
        hex: true,
    },
];

/// The keyed form of a stored plain digest (32 bytes); `None` for anything
/// else, which matched no credential before and is left as it is.
pub fn rekey_bytes(key: &AuditKey, stored: &[u8]) -> Option<[u8; 32]> {
    let digest: &[u8; 32] = stored.try_into().ok()?;
    Some(key.rekey_digest(digest))
}

/// [`rekey_bytes`] for a digest stored as hex.
pub fn rekey_hex(key: &AuditKey, stored: &str) -> Option<String> {
    let bytes = hex::decode(stored).ok()?;
    rekey_bytes(key, &bytes).map(hex::encode)
}
