//! The export file format, version 2, and its validation on import (versions
//! 1 and 2: version 1 files, from before teams, have exactly the sides `a`
//! and `b`, no `kind`, no `to`).
//!
//! Two layouts hold the same data. A JSON document:
//!
//! ```json
//! {"format": "mcp-bridge-export", "version": 1, "exported_at": "…",
//!  "conversations": [{"id": "conv_…", "created_at": "…", "expires_at": "…",
//!    "participants": [{"side": "a", "role": "…", "kind": "owner", "status": "working",
//!                      "note": null, "status_at": "…", "joined_at": null, "removed_at": null}],
//!    "messages": [{"id": 7, "from": "a", "action_type": "info", "content": "…",
//!                  "files_involved": [], "created_at": "…", "to": ["b"], "unread_by": ["b"]}]}]}
//! ```
//!
//! or JSON lines: a header line `{"format": …, "version": 1, "exported_at": …,
//! "layout": "jsonl"}`, then one `{"conversation": {…}}` line per conversation
//! (without `messages`), each followed by its `{"message": {"conversation_id": …, …}}`
//! lines in order. Tokens and the server key are never part of it. DEL, C1,
//! bidi and invisible characters are written as `\uXXXX` escapes (the same
//! value), so printing an export cannot act on a terminal.
//!
//! Decoding checks every field with the domain constructors and returns either
//! every record or the first problem; nothing is written before that.

mod envelope;
mod read;
mod stored;
mod times;

pub use envelope::{SEALED_FORMAT, is_sealed, open as open_sealed, seal as seal_export};
pub use read::{MergeLimits, check_merge, read_export, read_export_at};
pub use stored::check_redacted;
pub use times::ImportClock;

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::auth::ServerKey;
use crate::display::json_safe;
use crate::domain::{ConversationId, MAX_STORED_MESSAGE_BYTES, Timestamp};
use crate::store::{Conversation, ConversationRecord, MessageRecord};

/// The `format` field of every export.
pub const EXPORT_FORMAT: &str = "mcp-bridge-export";
/// The format version this build writes and the newest it reads.
pub const EXPORT_VERSION: u64 = 2;
/// Largest agent message accepted on import, in bytes: redaction placeholders
/// may make a stored text somewhat longer than the send limit.
const MAX_IMPORTED_AGENT_BYTES: usize = MAX_STORED_MESSAGE_BYTES;
/// Largest bridge (`system`) message accepted on import, in bytes: a command's
/// capped output.
const MAX_IMPORTED_SYSTEM_BYTES: usize = 4 << 20;
/// Largest message id accepted on import: 2^53, the largest integer every
/// JSON reader keeps exact. New ids are one more than the largest used, so
/// a file with an id near `i64::MAX` would make every later send in every
/// conversation fail; under this bound a database needs about 2^62 more
/// messages before that could happen.
pub const MAX_IMPORTED_ID: i64 = 1 << 53;
/// Earliest time accepted on import (2000-01-01T00:00:00Z), in µs since the epoch.
const MIN_IMPORTED_MICROS: i64 = 946_684_800_000_000;
/// Latest time accepted on import (3000-01-01T00:00:00Z), in µs since the epoch.
const MAX_IMPORTED_MICROS: i64 = 32_503_680_000_000_000;

/// How an export is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON document (pretty-printed).
    Json,
    /// A header line, then one JSON object per conversation and per message.
    JsonLines,
}

/// Why an export file cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportFileError {
    /// The file is from a newer mcp-bridge.
    #[error(
        "the export file has format version {found}, newer than version {supported} that this mcp-bridge reads; upgrade mcp-bridge"
    )]
    TooNew {
        /// Its version.
        found: u64,
        /// The newest this build reads.
        supported: u64,
    },
    /// The file is not a valid export.
    #[error("the export file is invalid: {0}")]
    Invalid(String),
    /// A sealed export made with another key file.
    #[error(
        "the export is sealed with the key file whose fingerprint is {found}, but this bridge's key file is {ours}; import it with the key file of the bridge it came from (key_file or bridge.key beside the database), or export it again with --plaintext"
    )]
    OtherKey {
        /// The fingerprint the export names.
        found: String,
        /// This bridge's key fingerprint.
        ours: String,
    },
}

/// Checks an export file completely without storing anything, as an import
/// under `limits` and `conversation_ttl_minutes` = `ttl_us` would.
///
/// # Errors
/// As `Bridge::import` for the file itself.
pub fn validate_export(
    text: &str,
    limits: MergeLimits,
    ttl_us: i64,
) -> Result<(), ExportFileError> {
    check_merge(&read_export(text, ttl_us)?, limits)
}

/// Opens a sealed export with `key` and checks the export inside it
/// completely, without storing anything.
///
/// # Errors
/// As `Bridge::import` for the file itself.
pub fn validate_sealed_export(
    key: &ServerKey,
    text: &str,
    limits: MergeLimits,
    ttl_us: i64,
) -> Result<(), ExportFileError> {
    validate_export(&open_sealed(key, text)?, limits, ttl_us)
}

fn invalid(text: impl Into<String>) -> ExportFileError {
    ExportFileError::Invalid(text.into())
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exported_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    layout: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDocument {
    format: String,
    version: u64,
    exported_at: Option<String>,
    conversations: Vec<FileConversation>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConversation {
    id: String,
    created_at: String,
    expires_at: String,
    participants: Vec<FileParticipant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<FileMessage>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileParticipant {
    side: String,
    role: String,
    /// Absent in version 1: `a` is the owner, `b` a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    status: Option<String>,
    note: Option<String>,
    status_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    joined_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    removed_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conversation_id: Option<String>,
    id: i64,
    from: String,
    action_type: String,
    content: String,
    files_involved: Vec<String>,
    created_at: String,
    /// The addressees; absent in version 1 (every participant but the sender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<Vec<String>>,
    unread_by: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum FileLine {
    #[serde(rename = "conversation")]
    Conversation(FileConversation),
    #[serde(rename = "message")]
    Message(FileMessage),
}

fn file_conversation(c: &Conversation) -> FileConversation {
    FileConversation {
        id: c.id.as_str().to_owned(),
        created_at: c.created_at.to_rfc3339(),
        expires_at: c.expires_at.to_rfc3339(),
        participants: c
            .participants
            .iter()
            .map(|p| FileParticipant {
                side: p.side.as_str().to_owned(),
                role: p.role.clone(),
                kind: Some(p.kind.as_str().to_owned()),
                status: p.status.as_ref().map(|s| s.status.as_str().to_owned()),
                note: p.status.as_ref().and_then(|s| s.note.clone()),
                status_at: p.status.as_ref().map(|s| s.updated_at.to_rfc3339()),
                joined_at: p.joined_at.map(Timestamp::to_rfc3339),
                removed_at: p.removed_at.map(Timestamp::to_rfc3339),
            })
            .collect(),
        messages: None,
    }
}

fn file_message(m: &MessageRecord, conversation: Option<&ConversationId>) -> FileMessage {
    FileMessage {
        conversation_id: conversation.map(|c| c.as_str().to_owned()),
        id: m.message.id,
        from: m.message.from.as_str().to_owned(),
        action_type: m.message.action_type.as_str().to_owned(),
        content: m.message.content.clone(),
        files_involved: m.message.files_involved.clone(),
        created_at: m.message.created_at.to_rfc3339(),
        to: m
            .message
            .to
            .as_ref()
            .map(|to| to.iter().map(|s| s.as_str().to_owned()).collect()),
        unread_by: m.unread_by.iter().map(|s| s.as_str().to_owned()).collect(),
    }
}

/// Writes `records` as an export made at `at`.
///
/// # Errors
/// When `out` fails.
pub fn write_export(
    out: &mut dyn Write,
    records: &[ConversationRecord],
    at: Timestamp,
    layout: Layout,
) -> std::io::Result<()> {
    match layout {
        Layout::Json => {
            let doc = FileDocument {
                format: EXPORT_FORMAT.to_owned(),
                version: EXPORT_VERSION,
                exported_at: Some(at.to_rfc3339()),
                conversations: records
                    .iter()
                    .map(|r| FileConversation {
                        messages: Some(r.messages.iter().map(|m| file_message(m, None)).collect()),
                        ..file_conversation(&r.conversation)
                    })
                    .collect(),
            };
            let text = serde_json::to_string_pretty(&doc)?;
            out.write_all(json_safe(&text).as_bytes())?;
            out.write_all(b"\n")
        }
        Layout::JsonLines => {
            let header = Header {
                format: EXPORT_FORMAT.to_owned(),
                version: EXPORT_VERSION.into(),
                exported_at: Some(at.to_rfc3339()),
                layout: Some("jsonl".to_owned()),
            };
            json_line(out, &header)?;
            for r in records {
                json_line(
                    out,
                    &FileLine::Conversation(file_conversation(&r.conversation)),
                )?;
                for m in &r.messages {
                    json_line(
                        out,
                        &FileLine::Message(file_message(m, Some(&r.conversation.id))),
                    )?;
                }
            }
            Ok(())
        }
    }
}

/// Writes `value` as one JSON line, with every character that could act on
/// a terminal escaped (the same JSON value; see [`json_safe`]).
fn json_line(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string(value)?;
    out.write_all(json_safe(&text).as_bytes())?;
    out.write_all(b"\n")
}

/// Checks the header: the right format and a version this build reads.
fn check_header(header: &Header) -> Result<(), ExportFileError> {
    if header.format != EXPORT_FORMAT {
        return Err(invalid(format!(
            "`format` is {:?}, expected {EXPORT_FORMAT:?}",
            header.format
        )));
    }
    let version = header
        .version
        .as_u64()
        .filter(|v| *v >= 1)
        .ok_or_else(|| invalid("`version` must be a positive integer"))?;
    if version > EXPORT_VERSION {
        return Err(ExportFileError::TooNew {
            found: version,
            supported: EXPORT_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
