//! Session tokens: the server key file, HMAC derivation and constant-time checks.
//!
//! A token is `HMAC-SHA256(key, "mcp-bridge/token/v1" ‖ 0 ‖ conversation ‖ 0 ‖ side)`,
//! so it is bound to one conversation and one side, and the database holds
//! nothing from which a token could be rebuilt: whoever wants one needs the key
//! file too. The management CLI re-derives tokens the same way. This module does
//! no logging; tokens and key bytes never leave it except as return values.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::{ConversationId, InviteCode, Side};

/// Bytes of key material.
pub const KEY_BYTES: usize = 32;
/// Bytes in a session token (shown as 64 hex digits).
pub const TOKEN_BYTES: usize = 32;

/// What can go wrong with the key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or checking the file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Group or other users may read or write the key.
    #[error(
        "key file {path} has mode {mode:03o}; other users could forge tokens. Run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold 64 hex digits.
    #[error("key file {path} is corrupt (expected 64 hex digits)")]
    Corrupt {
        /// The key file.
        path: PathBuf,
    },
    /// The OS random generator failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// The server's secret key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct ServerKey {
    /// The HMAC state after absorbing the key (every use of the key is an
    /// HMAC), cloned for each use: keying HMAC costs two SHA-256 blocks, as
    /// much as a token's own MAC, and every session call verifies a token.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<secret>)")
    }
}

/// A session token as presented by a client. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Token([u8; TOKEN_BYTES]);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<secret>)")
    }
}

impl Token {
    /// Decodes 64 hex digits. Upper- and lower-case are both accepted, since a
    /// human may retype a token.
    ///
    /// # Errors
    /// When the text is not 64 hex digits; the error does not echo it.
    pub fn parse(text: &str) -> Result<Self, crate::domain::InvalidValue> {
        let mut bytes = [0u8; TOKEN_BYTES];
        if text.len() != TOKEN_BYTES * 2 || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(crate::domain::InvalidValue::new(
                "token",
                "must be 64 hex digits",
            ));
        }
        Ok(Self(bytes))
    }

    /// The token as 64 lowercase hex digits, for handing to its owner.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl ServerKey {
    /// Wraps raw key bytes (tests and imports).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        Self {
            keyed: <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// Loads the key at `path`, creating it (mode 0600, atomically) on first use.
    ///
    /// Two servers starting at once on a fresh directory must end up with the
    /// same key, so a new key is written to a private temporary file and then
    /// hard-linked into place, which fails if another process got there first;
    /// the loser simply reads the winner's key.
    ///
    /// # Errors
    /// [`KeyError::TooOpen`] when group or others have any access,
    /// [`KeyError::Corrupt`] for a malformed file, [`KeyError::Io`] otherwise.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match Self::load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            other => return other,
        }
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(hex::encode(bytes).as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::hard_link(&tmp, path)
        })();
        let _ = fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(Self::from_bytes(bytes)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Self::load(path),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Loads an existing key file, refusing one that others can read.
    ///
    /// # Errors
    /// As for [`ServerKey::load_or_create`], and `NotFound` when missing.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        // Non-blocking, and judged by what was opened: a FIFO or device put
        // in its place would otherwise block or feed the read forever.
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            // A symlink to a readable file (`/etc/passwd`, say) is no key file
            // to `chmod`: the advice would change the file it points to.
            if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
                return Err(io_err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a symlink to {}, which other users can read (mode {mode:o}); point it at a key file only its owner can read",
                        target.display()
                    ),
                )));
            }
            return Err(KeyError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        let mut text = String::new();
        io::Read::read_to_string(&mut io::Read::take(file, 1024), &mut text).map_err(io_err)?;
        let mut bytes = [0u8; KEY_BYTES];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::Corrupt {
            path: path.to_owned(),
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// A 32-byte key for another purpose, derived as `HMAC-SHA256(key, label)`,
    /// so one key file serves several uses without one use revealing another's
    /// key. Labels are fixed strings such as `"mcp-bridge audit chain v1"`;
    /// none starts with the token derivation's `mcp-bridge/token/` prefix.
    pub fn derive_subkey(&self, label: &str) -> [u8; KEY_BYTES] {
        let mut mac = self.keyed.clone();
        mac.update(label.as_bytes());
        let mut out = [0u8; KEY_BYTES];
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// The token of `side` in `conversation`.
    pub fn derive(&self, conversation: &ConversationId, side: Side) -> Token {
        let mut mac = self.keyed.clone();
        mac.update(b"mcp-bridge/token/v1\0");
        mac.update(conversation.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(side.as_str().as_bytes());
        let mut out = [0u8; TOKEN_BYTES];
        out.copy_from_slice(&mac.finalize().into_bytes());
        Token(out)
    }

    /// The stored form of an invite code: `HMAC-SHA256(key, "mcp-bridge/invite/v1" ‖ 0 ‖ code)`
    /// in hex. Keyed, so a copy of the database alone cannot test guesses
    /// offline; looked up by equality (the hash of a guess reveals nothing).
    pub fn invite_hash(&self, code: &InviteCode) -> String {
        let mut mac = self.keyed.clone();
        mac.update(b"mcp-bridge/invite/v1\0");
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `token` belongs to `side` of `conversation`, compared in constant time.
    pub fn verify(&self, conversation: &ConversationId, side: Side, token: &Token) -> bool {
        self.derive(conversation, side).0.ct_eq(&token.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(n: u8) -> ConversationId {
        ConversationId::parse(&format!("conv_{:016x}", n)).unwrap()
    }

    #[test]
    fn tokens_are_bound_to_conversation_and_side() {
        let key = ServerKey::from_bytes([7; KEY_BYTES]);
        let a = key.derive(&conv(1), Side::A);
        assert!(key.verify(&conv(1), Side::A, &a));
        assert!(!key.verify(&conv(1), Side::B, &a));
        assert!(!key.verify(&conv(2), Side::A, &a));
        let other_key = ServerKey::from_bytes([8; KEY_BYTES]);
        assert!(!other_key.verify(&conv(1), Side::A, &a));
        assert_eq!(Token::parse(&a.to_hex()).unwrap().to_hex(), a.to_hex());
        assert_eq!(
            Token::parse(&a.to_hex().to_uppercase()).unwrap().to_hex(),
            a.to_hex()
        );
        assert!(Token::parse("abc").is_err());
        assert!(!format!("{a:?}").contains(&a.to_hex()));
        let c = key.derive(&conv(1), Side::nth(2).unwrap());
        assert!(!key.verify(&conv(1), Side::B, &c));
        assert!(key.verify(&conv(1), Side::nth(2).unwrap(), &c));
    }

    #[test]
    fn invite_hashes_are_keyed_and_distinct() {
        let key = ServerKey::from_bytes([7; KEY_BYTES]);
        let code = InviteCode::parse("7KQ2-M9XD-4HTP-0R3C").unwrap();
        let same = InviteCode::parse("7kq2m9xd4htp0r3c").unwrap();
        assert_eq!(key.invite_hash(&code), key.invite_hash(&same));
        assert_eq!(key.invite_hash(&code).len(), 64);
        let other = InviteCode::parse("7KQ2-M9XD-4HTP-0R3D").unwrap();
        assert_ne!(key.invite_hash(&code), key.invite_hash(&other));
        let other_key = ServerKey::from_bytes([8; KEY_BYTES]);
        assert_ne!(key.invite_hash(&code), other_key.invite_hash(&code));
        assert!(!key.invite_hash(&code).contains("7KQ2"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.key");
        let first = ServerKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = ServerKey::load_or_create(&path).unwrap();
        assert_eq!(
            first.derive_subkey("same key"),
            second.derive_subkey("same key")
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            ServerKey::load(&path),
            Err(KeyError::TooOpen { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "nonsense").unwrap();
        assert!(matches!(
            ServerKey::load(&path),
            Err(KeyError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_fifo_or_a_symlink_to_a_readable_file_is_no_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.key");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Refused at once, not blocked waiting for a writer.
        let e = ServerKey::load(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");

        let open = dir.path().join("open");
        fs::write(&open, "00").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.key");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        let e = ServerKey::load(&link).unwrap_err().to_string();
        assert!(e.contains("a symlink to") && !e.contains("chmod"), "{e}");
    }
}
