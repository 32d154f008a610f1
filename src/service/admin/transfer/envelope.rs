//! Sealed exports: an export file (either layout) wrapped whole in one
//! XChaCha20-Poly1305 envelope under a key derived from `bridge.key`, so an
//! export is readable only with the key file — on this bridge or any other
//! that uses the same key file. The envelope names the key by its
//! fingerprint, so importing with another key says so instead of failing
//! obscurely.
//!
//! ```json
//! {"format":"mcp-bridge-export-sealed","version":1,"key_fingerprint":"…","sealed":"…"}
//! ```

use serde::{Deserialize, Serialize};

use super::{ExportFileError, invalid};
use crate::auth::ServerKey;
use crate::store::StoreError;
use crate::store::sealed::{key_fingerprint, open_document, seal_document};

/// The `format` of a sealed export.
pub const SEALED_FORMAT: &str = "mcp-bridge-export-sealed";
/// The envelope's version.
const SEALED_VERSION: u64 = 1;
/// What the export key is derived for, and the associated data.
const LABEL: &str = "export";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    version: u64,
    key_fingerprint: String,
    sealed: String,
}

/// `plain` (a whole export file) sealed under `key`, as one JSON line.
///
/// # Errors
/// When the system has no randomness.
pub fn seal(key: &ServerKey, plain: &[u8]) -> Result<String, StoreError> {
    let envelope = Envelope {
        format: SEALED_FORMAT.to_owned(),
        version: SEALED_VERSION,
        key_fingerprint: key_fingerprint(key),
        sealed: seal_document(key, LABEL, plain)?,
    };
    let mut text =
        serde_json::to_string(&envelope).map_err(|e| StoreError::Backend(Box::new(e)))?;
    text.push('\n');
    Ok(text)
}

/// Whether `text` is a sealed export (rather than a plaintext one).
pub fn is_sealed(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Format {
        format: String,
    }
    serde_json::from_str::<Format>(text).is_ok_and(|f| f.format == SEALED_FORMAT)
}

/// The export file inside a sealed export.
///
/// # Errors
/// [`ExportFileError::OtherKey`] when another key file sealed it,
/// [`ExportFileError::Invalid`] when it is malformed or was altered.
pub fn open(key: &ServerKey, text: &str) -> Result<String, ExportFileError> {
    let envelope: Envelope = serde_json::from_str(text)
        .map_err(|e| invalid(format!("not a sealed mcp-bridge export: {e}")))?;
    if envelope.format != SEALED_FORMAT {
        return Err(invalid(format!(
            "`format` is {:?}, expected {SEALED_FORMAT:?}",
            envelope.format
        )));
    }
    if envelope.version > SEALED_VERSION {
        return Err(ExportFileError::TooNew {
            found: envelope.version,
            supported: SEALED_VERSION,
        });
    }
    let ours = key_fingerprint(key);
    if envelope.key_fingerprint != ours {
        return Err(ExportFileError::OtherKey {
            found: envelope.key_fingerprint,
            ours,
        });
    }
    let plain = open_document(key, LABEL, &envelope.sealed)
        .ok_or_else(|| invalid("the sealed export was altered or is damaged"))?;
    String::from_utf8(plain).map_err(|_| invalid("the sealed export does not hold UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_export_opens_with_its_key_only() {
        let key = ServerKey::from_bytes([3; 32]);
        let text = seal(&key, b"{\"format\":\"mcp-bridge-export\"}").unwrap();
        assert!(is_sealed(&text));
        assert!(!is_sealed("{\"format\":\"mcp-bridge-export\"}"));
        assert!(!text.contains("mcp-bridge-export\\\""));
        assert_eq!(
            open(&key, &text).unwrap(),
            "{\"format\":\"mcp-bridge-export\"}"
        );
        let other = ServerKey::from_bytes([4; 32]);
        assert!(matches!(
            open(&other, &text),
            Err(ExportFileError::OtherKey { .. })
        ));
        let tampered = text.replacen("\"sealed\":\"", "\"sealed\":\"AAAA", 1);
        assert!(matches!(
            open(&key, &tampered),
            Err(ExportFileError::Invalid(_))
        ));
    }
}
