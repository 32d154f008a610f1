//! The audit trail's MAC key, derived from `bridge.key`. Pure: no I/O.
//!
//! Every record appended since schema version 4 is sealed with
//! `HMAC-SHA256(audit key, …)` instead of a bare SHA-256, and so is the chain
//! head. Someone who can write the database but cannot read `bridge.key` can
//! therefore not recompute the chain after editing it, nor re-sign a head
//! after cutting records off its end. The key is derived with its own label,
//! so it reveals nothing about the session tokens and they nothing about it.
//!
//! The same key hashes the credentials the bridge stores (see
//! [`AuditKey::credential_hash`]), for the same reason: a database writer
//! without `bridge.key` cannot plant one.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::ServerKey;

/// The derivation label; a new label (v2) would start a new chain rule.
pub const AUDIT_KEY_LABEL: &str = "mcp-bridge audit chain v1";

/// Hex digits kept of a digest of client text (64 bits: enough to tell two
/// texts apart or match a known one, too few to be worth storing more).
const TEXT_DIGEST_HEX: usize = 16;

/// The audit chain's key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct AuditKey {
    /// The HMAC state after absorbing the key, cloned for each use: keying
    /// HMAC costs two SHA-256 blocks, which a hot-path append need not repay.
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl AuditKey {
    /// The audit key of a bridge whose key file holds `server`.
    pub fn derive(server: &ServerKey) -> Self {
        Self::from_bytes(&server.derive_subkey(AUDIT_KEY_LABEL))
    }

    /// A key from raw bytes (tests).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            keyed: <Hmac<Sha256> as KeyInit>::new_from_slice(bytes)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// Hex HMAC over `parts`, each followed by a newline so that no two
    /// different part lists give the same input.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> String {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
            mac.update(b"\n");
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `claimed` is the hex HMAC over `parts`, compared in constant time.
    pub(crate) fn check(&self, parts: &[&[u8]], claimed: &str) -> bool {
        self.mac(parts).as_bytes().ct_eq(claimed.as_bytes()).into()
    }

    /// How a credential the bridge hands out is stored (an HTTP or console
    /// token, a console session id, a YOLO approval token): a keyed hash of
    /// its SHA-256. Keyed, so that writing the database (or a backup) without
    /// the key file cannot plant a credential; of the SHA-256, so that the
    /// upgrade could turn the plain digests older builds stored into these
    /// (see [`Self::rekey_digest`]). A credential is 128 or more random
    /// bits, so no slow hash is needed, and equal inputs give equal hashes,
    /// so the store finds one by index.
    pub fn credential_hash(&self, secret: &str) -> [u8; 32] {
        self.rekey_digest(&Sha256::digest(secret.as_bytes()).into())
    }

    /// [`Self::credential_hash`] of the credential whose plain SHA-256 is `digest`.
    pub fn rekey_digest(&self, digest: &[u8; 32]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(b"mcp-bridge credential v1\n");
        mac.update(digest);
        mac.finalize().into_bytes().into()
    }

    /// A short keyed digest of client text, for audit records that must say
    /// which text a call carried without holding it: equal texts give equal
    /// digests, and nobody without the key can test guesses against one.
    pub fn text_digest(&self, text: &str) -> String {
        let mut digest = self.mac(&[b"client text", text.as_bytes()]);
        digest.truncate(TEXT_DIGEST_HEX);
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_differ_by_server_key_and_never_show() {
        let a = AuditKey::derive(&ServerKey::from_bytes([1; 32]));
        let b = AuditKey::derive(&ServerKey::from_bytes([2; 32]));
        assert_ne!(a.mac(&[b"x"]), b.mac(&[b"x"]));
        assert_eq!(a.mac(&[b"x"]), a.clone().mac(&[b"x"]));
        assert!(a.check(&[b"x"], &a.mac(&[b"x"])));
        assert!(!a.check(&[b"x"], &b.mac(&[b"x"])));
        assert_eq!(format!("{a:?}"), "AuditKey(<secret>)");
        // Part boundaries matter.
        assert_ne!(a.mac(&[b"ab", b"c"]), a.mac(&[b"a", b"bc"]));
    }

    #[test]
    fn credential_hashes_are_keyed_and_rekey_plain_digests() {
        let a = AuditKey::from_bytes(&[1; 32]);
        let b = AuditKey::from_bytes(&[2; 32]);
        let h = a.credential_hash("mcpb_0123");
        assert_eq!(h, a.credential_hash("mcpb_0123"));
        assert_ne!(h, b.credential_hash("mcpb_0123"));
        assert_ne!(h, a.credential_hash("mcpb_0124"));
        let plain: [u8; 32] = Sha256::digest(b"mcpb_0123").into();
        assert_ne!(h, plain);
        assert_eq!(a.rekey_digest(&plain), h);
    }

    #[test]
    fn text_digests_are_short_keyed_and_stable() {
        let a = AuditKey::from_bytes(&[1; 32]);
        let b = AuditKey::from_bytes(&[2; 32]);
        let d = a.text_digest("rm -rf build");
        assert_eq!(d.len(), TEXT_DIGEST_HEX);
        assert_eq!(d, a.text_digest("rm -rf build"));
        assert_ne!(d, a.text_digest("rm -rf build/"));
        assert_ne!(d, b.text_digest("rm -rf build"));
    }
}
