//! Encryption at rest: the envelope every backend puts around message texts,
//! file lists, status notes and proposed commands before it writes them, and
//! takes off when it reads them. Backend-neutral: it does no I/O; a backend
//! supplies the epochs it has stored (see [`Epoch`]) and calls [`Sealer`].
//!
//! A sealed value is `s1.<epoch>.<base64 of nonce ‖ ciphertext ‖ tag>`, where
//! the cipher is XChaCha20-Poly1305 (random 192-bit nonce, so no counter has
//! to be shared between processes) under the data key of `epoch`. A data key
//! is `HMAC-SHA256(subkey, epoch ‖ salt)`, where the subkey is derived from
//! `bridge.key` and the salt is random and stored with its epoch in the
//! database: the database alone (or a copy, or a backup without its key
//! file) reveals nothing, and `key rotate` can move every value to a new data
//! key without touching the key file, which the session tokens depend on.
//! The associated data names the column and row a value belongs to, so a
//! sealed value copied into another row or column does not open.
//!
//! Values written before encryption existed have no `s1.` prefix. They are
//! read as they are only in a database the upgrade found holding some (it
//! leaves a keyed mark, see [`Sealer::allow_legacy_plaintext`]), until `key
//! rotate` has sealed them all; anywhere else an unsealed value is refused,
//! so whoever can write the database but lacks the key file cannot slip an
//! agent a message of their own making.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::StoreError;
use crate::auth::ServerKey;

/// What every sealed value starts with.
pub const PREFIX: &str = "s1.";
/// How an empty `files_involved` list is stored: as it is, unsealed. A
/// sealed value is as long as its plaintext plus a fixed overhead, so the
/// sealed form of `[]` would tell a reader exactly as much, while costing
/// about 60 bytes in every message row without files.
pub const EMPTY_LIST: &str = "[]";
/// Nonce length of XChaCha20-Poly1305.
const NONCE_BYTES: usize = 24;
/// Tag length of Poly1305.
const TAG_BYTES: usize = 16;
/// The label the data-key subkey is derived under (see [`ServerKey::derive_subkey`]).
const SUBKEY_LABEL: &str = "mcp-bridge data-at-rest v1";
/// Bytes of a new epoch's salt.
const SALT_BYTES: usize = 16;

/// A column whose values are sealed. Its name is bound into every value, so
/// a value moved to another column does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// A message's text.
    MessageContent,
    /// A message's `files_involved`, as JSON.
    MessageFiles,
    /// A participant's status note.
    StatusNote,
    /// A proposed YOLO command.
    ProposalCommand,
}

impl Column {
    /// `table.column`, as bound into the tag.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MessageContent => "messages.content",
            Self::MessageFiles => "messages.files",
            Self::StatusNote => "participants.note",
            Self::ProposalCommand => "yolo_proposals.command",
        }
    }
}

/// Where a sealed value lives: its column and its row, bound into the tag.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// The column.
    pub column: Column,
    /// The row's key as text: a message id, `conversation/side` for a note, a proposal id.
    pub row: &'a str,
}

impl<'a> Slot<'a> {
    /// The slot of `column` in `row`.
    pub const fn new(column: Column, row: &'a str) -> Self {
        Self { column, row }
    }

    fn aad(&self) -> Vec<u8> {
        let column = self.column.as_str();
        let mut aad = Vec::with_capacity(column.len() + self.row.len() + 1);
        aad.extend_from_slice(column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row.as_bytes());
        aad
    }
}

/// The row key of a participant's note: `conversation/side`.
pub fn note_row(conversation: &str, side: &str) -> String {
    format!("{conversation}/{side}")
}

/// One epoch's key material as stored: its number and salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    /// Increases with every rotation; the largest stored one is current.
    pub number: i64,
    /// Random, hex; the data key is derived from `bridge.key` and this.
    pub salt: String,
}

/// An epoch's cipher and the salt it was derived from.
type Derived = (String, Arc<XChaCha20Poly1305>);

/// Seals and opens values under the data keys derived from one `bridge.key`.
/// Cheap to clone; every clone shares the cache of derived ciphers, so a
/// data key is derived once per epoch and process, not once per value.
#[derive(Clone)]
pub struct Sealer {
    /// `HMAC(bridge.key, SUBKEY_LABEL)`; the epoch keys are derived from it.
    subkey: Arc<[u8; 32]>,
    /// Ciphers by epoch, with the salt each was derived from, derived on first use.
    ciphers: Arc<RwLock<HashMap<i64, Derived>>>,
    /// Whether values without the prefix open (as themselves): only in a
    /// database that held plaintext from before encryption at rest.
    legacy: Arc<AtomicBool>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<secret>)")
    }
}

fn corrupt(slot: Slot<'_>, why: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "the {} value of row {} {why}",
        slot.column.as_str(),
        slot.row
    ))
}

impl Sealer {
    /// A sealer for data keys derived from `key`.
    pub fn new(key: &ServerKey) -> Self {
        Self {
            subkey: Arc::new(key.derive_subkey(SUBKEY_LABEL)),
            ciphers: Arc::new(RwLock::new(HashMap::new())),
            legacy: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Lets values without the prefix open as they are, for a database whose
    /// upgrade found plaintext from before encryption at rest (the backend
    /// checks the keyed mark it left). Off, an unsealed value is corrupt.
    pub fn allow_legacy_plaintext(&self, allowed: bool) {
        self.legacy.store(allowed, Ordering::Relaxed);
    }

    /// Registers `epoch`, so values sealed under it can be opened and sealed.
    /// A different salt for a known epoch replaces it (the stored salt is the
    /// truth; nothing is cached that the database did not commit).
    pub fn learn(&self, epoch: &Epoch) {
        if self.knows(epoch) {
            return;
        }
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.subkey[..])
            .expect("HMAC accepts keys of any length");
        mac.update(&epoch.number.to_be_bytes());
        mac.update(epoch.salt.as_bytes());
        let key = mac.finalize().into_bytes();
        let Ok(cipher) = XChaCha20Poly1305::new_from_slice(&key) else {
            unreachable!("HMAC-SHA256 gives 32 bytes, XChaCha20-Poly1305's key size")
        };
        self.ciphers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(epoch.number, (epoch.salt.clone(), Arc::new(cipher)));
    }

    /// Whether the key of `epoch` (with this salt) is known.
    pub fn knows(&self, epoch: &Epoch) -> bool {
        self.ciphers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&epoch.number)
            .is_some_and(|(salt, _)| *salt == epoch.salt)
    }

    fn cipher(&self, epoch: i64) -> Option<Arc<XChaCha20Poly1305>> {
        self.ciphers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&epoch)
            .map(|(_, cipher)| Arc::clone(cipher))
    }

    /// Seals `plain` for `slot` under `epoch`, which must have been learnt.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the epoch is unknown, a backend error
    /// when the system has no randomness.
    pub fn seal(&self, epoch: i64, slot: Slot<'_>, plain: &str) -> Result<String, StoreError> {
        let cipher = self
            .cipher(epoch)
            .ok_or_else(|| StoreError::Corrupt(format!("no data key for epoch {epoch}")))?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let aad = slot.aad();
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| corrupt(slot, "cannot be sealed"))?;
        let mut body = Vec::with_capacity(NONCE_BYTES + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        let mut out = String::with_capacity(PREFIX.len() + 21 + body.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        out.push_str(&epoch.to_string());
        out.push('.');
        STANDARD_NO_PAD.encode_string(body, &mut out);
        Ok(out)
    }

    /// The epoch a stored value was sealed under; `None` for legacy plaintext
    /// (or a value too malformed to name one).
    pub fn epoch_of(stored: &str) -> Option<i64> {
        let rest = stored.strip_prefix(PREFIX)?;
        rest.split_once('.')?.0.parse().ok()
    }

    /// Opens a stored value of `slot`. A value without the prefix is legacy
    /// plaintext: it comes back as it is if [`Self::allow_legacy_plaintext`]
    /// said so (an empty file list always does). When the value's epoch is not known
    /// yet (another process rotated), `stored_epochs` is asked for the epochs
    /// the backend holds, and they are learnt.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the value was altered, moved from another
    /// row or column, or sealed under a key this `bridge.key` cannot derive;
    /// whatever `stored_epochs` returns.
    pub fn open(
        &self,
        slot: Slot<'_>,
        stored: String,
        stored_epochs: impl FnOnce() -> Result<Vec<Epoch>, StoreError>,
    ) -> Result<String, StoreError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            let empty_list = slot.column == Column::MessageFiles && stored == EMPTY_LIST;
            if empty_list || self.legacy.load(Ordering::Relaxed) {
                return Ok(stored);
            }
            return Err(corrupt(
                slot,
                "is not sealed: it was written into the database by something other than the bridge",
            ));
        };
        let (epoch, body) = rest
            .split_once('.')
            .ok_or_else(|| corrupt(slot, "is malformed"))?;
        let epoch: i64 = epoch
            .parse()
            .map_err(|_| corrupt(slot, "has a malformed epoch"))?;
        let cipher = match self.cipher(epoch) {
            Some(cipher) => cipher,
            None => {
                for known in stored_epochs()? {
                    self.learn(&known);
                }
                self.cipher(epoch).ok_or_else(|| {
                    corrupt(
                        slot,
                        &format!(
                            "is sealed under data key {epoch}, which this database no longer holds"
                        ),
                    )
                })?
            }
        };
        let body = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| corrupt(slot, "is malformed"))?;
        if body.len() < NONCE_BYTES + TAG_BYTES {
            return Err(corrupt(slot, "is malformed"));
        }
        let (nonce, sealed) = body.split_at(NONCE_BYTES);
        let aad = slot.aad();
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                corrupt(
                    slot,
                    "does not open: it was altered, moved from another row, or sealed under another key file",
                )
            })?;
        String::from_utf8(plain).map_err(|_| corrupt(slot, "is not UTF-8"))
    }

    /// A random salt for a new epoch, in hex.
    ///
    /// # Errors
    /// When the system has no randomness.
    pub fn new_salt() -> Result<String, StoreError> {
        let mut salt = [0u8; SALT_BYTES];
        getrandom::fill(&mut salt).map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(hex::encode(salt))
    }
}

/// Seals a whole document (an export) under a key of its own, derived from
/// `key` for `label`: `base64(nonce ‖ ciphertext ‖ tag)`, with `label` as the
/// associated data. No epoch and no salt: whoever holds the same key file
/// can open it, on any bridge.
///
/// # Errors
/// When the system has no randomness.
pub fn seal_document(key: &ServerKey, label: &str, plain: &[u8]) -> Result<String, StoreError> {
    let cipher = document_cipher(key, label);
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Backend(Box::new(e)))?;
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: label.as_bytes(),
            },
        )
        .map_err(|_| StoreError::Corrupt("the document cannot be sealed".into()))?;
    let mut body = Vec::with_capacity(NONCE_BYTES + sealed.len());
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&sealed);
    Ok(STANDARD_NO_PAD.encode(body))
}

/// Opens what [`seal_document`] made with the same key and label; `None`
/// when it was altered or sealed under another key.
pub fn open_document(key: &ServerKey, label: &str, sealed: &str) -> Option<Vec<u8>> {
    let body = STANDARD_NO_PAD.decode(sealed.trim()).ok()?;
    if body.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let (nonce, sealed) = body.split_at(NONCE_BYTES);
    document_cipher(key, label)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: label.as_bytes(),
            },
        )
        .ok()
}

fn document_cipher(key: &ServerKey, label: &str) -> XChaCha20Poly1305 {
    let key = key.derive_subkey(&format!("mcp-bridge document v1 {label}"));
    let Ok(cipher) = XChaCha20Poly1305::new_from_slice(&key) else {
        unreachable!("derive_subkey gives 32 bytes, XChaCha20-Poly1305's key size")
    };
    cipher
}

/// A short public name of a key file (16 hex digits, derived one-way), so
/// a sealed export can say which key opens it without revealing the key.
pub fn key_fingerprint(key: &ServerKey) -> String {
    hex::encode(&key.derive_subkey("mcp-bridge key fingerprint v1")[..8])
}

#[cfg(test)]
mod tests;
