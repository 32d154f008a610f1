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

pub use envelope::{SEALED_FORMAT, is_sealed, open as open_sealed, seal as seal_export};

use std::collections::HashSet;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::display::json_safe;

use crate::domain::{
    ActionType, ConversationId, MAX_MESSAGE_BYTES, MAX_SESSIONS, Message, ParticipantKind, Role,
    Sender, Side, Status, Timestamp, check_files, check_note,
};
use crate::store::{Conversation, ConversationRecord, MessageRecord, Participant, StatusRecord};

/// The `format` field of every export.
pub const EXPORT_FORMAT: &str = "mcp-bridge-export";
/// The format version this build writes and the newest it reads.
pub const EXPORT_VERSION: u64 = 2;
/// Largest agent message accepted on import, in bytes: redaction placeholders
/// may make a stored text somewhat longer than the send limit.
const MAX_IMPORTED_AGENT_BYTES: usize = 2 * MAX_MESSAGE_BYTES;
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

/// Parses and validates an export file (either layout) into records, in file
/// order. Contents are returned as stored in the file (not yet redacted).
///
/// # Errors
/// [`ExportFileError::TooNew`] for a newer version, [`ExportFileError::Invalid`]
/// naming the first bad line, conversation, message or field.
pub fn read_export(text: &str) -> Result<Vec<ConversationRecord>, ExportFileError> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let jsonl = serde_json::from_str::<Header>(first)
        .ok()
        .filter(|h| h.layout.as_deref() == Some("jsonl"));
    let conversations = match jsonl {
        Some(header) => {
            check_header(&header)?;
            read_lines(text)?
        }
        None => {
            let header: Header = serde_json::from_str(text)
                .map_err(|e| invalid(format!("not an mcp-bridge export: {e}")))?;
            check_header(&header)?;
            let doc: FileDocument =
                serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
            doc.conversations
        }
    };
    validate(conversations)
}

fn read_lines(text: &str) -> Result<Vec<FileConversation>, ExportFileError> {
    let mut out: Vec<FileConversation> = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| invalid(format!("line {}: {e}", n + 1));
        match serde_json::from_str::<FileLine>(line).map_err(|e| at(e.to_string()))? {
            FileLine::Conversation(mut c) => {
                if c.messages.is_some() {
                    return Err(at(
                        "a conversation line holds no messages; they follow on their own lines"
                            .into(),
                    ));
                }
                c.messages = Some(Vec::new());
                out.push(c);
            }
            FileLine::Message(mut m) => {
                let Some(current) = out.last_mut() else {
                    return Err(at("a message before any conversation".into()));
                };
                if m.conversation_id.as_deref() != Some(current.id.as_str()) {
                    return Err(at(format!(
                        "a message of {:?} inside conversation {}",
                        m.conversation_id.as_deref().unwrap_or(""),
                        current.id
                    )));
                }
                m.conversation_id = None;
                current.messages.get_or_insert_with(Vec::new).push(m);
            }
        }
    }
    Ok(out)
}

fn time(field: &'static str, text: &str) -> Result<Timestamp, String> {
    let t = Timestamp::parse_rfc3339(text)
        .map_err(|_| format!("`{field}` is not an RFC 3339 time: {text:?}"))?;
    if !(MIN_IMPORTED_MICROS..MAX_IMPORTED_MICROS).contains(&t.as_micros()) {
        return Err(format!(
            "`{field}` {text:?} is outside the years 2000 to 2999"
        ));
    }
    Ok(t)
}

fn validate(file: Vec<FileConversation>) -> Result<Vec<ConversationRecord>, ExportFileError> {
    let mut ids = HashSet::new();
    let mut message_ids = HashSet::new();
    let mut out = Vec::with_capacity(file.len());
    for (n, c) in file.into_iter().enumerate() {
        let label = format!("conversation {} ({})", n + 1, c.id);
        let record =
            conversation(c, &mut message_ids).map_err(|e| invalid(format!("{label}: {e}")))?;
        if !ids.insert(record.conversation.id.clone()) {
            return Err(invalid(format!("{label}: appears twice")));
        }
        out.push(record);
    }
    Ok(out)
}

fn conversation(
    c: FileConversation,
    message_ids: &mut HashSet<i64>,
) -> Result<ConversationRecord, String> {
    let id = ConversationId::parse(&c.id).map_err(|e| e.to_string())?;
    let created_at = time("created_at", &c.created_at)?;
    let expires_at = time("expires_at", &c.expires_at)?;
    if expires_at <= created_at {
        return Err("`expires_at` must be after `created_at`".into());
    }
    let mut participants = Vec::with_capacity(c.participants.len());
    for p in c.participants {
        let side = Side::parse(&p.side).map_err(|_| {
            format!(
                "participant side {:?} must be one lowercase letter (\"a\", \"b\", …)",
                p.side
            )
        })?;
        if participants.iter().any(|q: &Participant| q.side == side) {
            return Err(format!("side {side} appears twice"));
        }
        let role = Role::parse("role", &p.role).map_err(|e| format!("side {side}: {e}"))?;
        let kind = match &p.kind {
            None if side == Side::A => ParticipantKind::Owner,
            None => ParticipantKind::Member,
            Some(k) => ParticipantKind::parse(k).map_err(|e| format!("side {side}: {e}"))?,
        };
        if (kind == ParticipantKind::Owner) != (side == Side::A) {
            return Err(format!("side {side}: the owner is side a, and only side a"));
        }
        let status = match (p.status, p.status_at) {
            (None, None) if p.note.is_none() => None,
            (Some(status), Some(at)) => {
                if let Some(note) = &p.note {
                    check_note(note).map_err(|e| format!("side {side}: {e}"))?;
                }
                Some(StatusRecord {
                    status: Status::parse(&status).map_err(|e| format!("side {side}: {e}"))?,
                    note: p.note,
                    updated_at: time("status_at", &at).map_err(|e| format!("side {side}: {e}"))?,
                })
            }
            _ => {
                return Err(format!(
                    "side {side}: `status` and `status_at` come together (and `note` only with them)"
                ));
            }
        };
        let optional_time = |field: &'static str, t: &Option<String>| {
            t.as_deref()
                .map(|t| time(field, t))
                .transpose()
                .map_err(|e| format!("side {side}: {e}"))
        };
        participants.push(Participant {
            side,
            role: role.as_str().to_owned(),
            kind,
            status,
            joined_at: optional_time("joined_at", &p.joined_at)?,
            removed_at: optional_time("removed_at", &p.removed_at)?,
        });
    }
    participants.sort_by_key(|p| p.side);
    let contiguous = participants
        .iter()
        .enumerate()
        .all(|(i, p)| p.side.index() == i);
    if participants.len() < 2 || !contiguous {
        return Err(format!(
            "must have the participants \"a\", \"b\" and any others in order without gaps (at most {MAX_SESSIONS})"
        ));
    }
    let mut roles = HashSet::new();
    for p in participants.iter().filter(|p| p.removed_at.is_none()) {
        if !roles.insert(p.role.to_ascii_lowercase()) {
            return Err(format!(
                "role {} is held by two active participants",
                p.role
            ));
        }
    }
    let conversation = Conversation {
        id,
        created_at,
        expires_at,
        participants,
    };
    let mut messages = Vec::new();
    let mut last_id = 0;
    for m in c.messages.unwrap_or_default() {
        let label = format!("message {}", m.id);
        let record = message(m, &conversation).map_err(|e| format!("{label}: {e}"))?;
        if record.message.id <= last_id {
            return Err(format!("{label}: messages must be in increasing id order"));
        }
        if !message_ids.insert(record.message.id) {
            return Err(format!("{label}: the id is used twice in the file"));
        }
        last_id = record.message.id;
        messages.push(record);
    }
    Ok(ConversationRecord {
        conversation,
        messages,
    })
}

fn message(m: FileMessage, conversation: &Conversation) -> Result<MessageRecord, String> {
    if !(1..=MAX_IMPORTED_ID).contains(&m.id) {
        return Err(format!("`id` must be 1 to {MAX_IMPORTED_ID} (2^53)"));
    }
    let from = Sender::parse(&m.from)
        .map_err(|_| format!("`from` {:?} must be a session id or \"system\"", m.from))?;
    let from_role = match from {
        Sender::System => "system".to_owned(),
        Sender::Side(side) => conversation
            .participant(side)
            .map(|p| p.role.clone())
            .ok_or_else(|| format!("`from` names a missing side {side}"))?,
    };
    let action_type = ActionType::parse(&m.action_type).map_err(|e| e.to_string())?;
    let limit = match from {
        Sender::System => MAX_IMPORTED_SYSTEM_BYTES,
        Sender::Side(_) => MAX_IMPORTED_AGENT_BYTES,
    };
    if m.content.is_empty() || m.content.len() > limit {
        return Err(format!("`content` must be 1 to {limit} bytes"));
    }
    check_files(&m.files_involved).map_err(|e| e.to_string())?;
    let created_at = time("created_at", &m.created_at)?;
    let sides = |field: &str, names: &[String]| -> Result<Vec<Side>, String> {
        let mut out: Vec<Side> = Vec::with_capacity(names.len());
        for s in names {
            let side = Side::parse(s)
                .ok()
                .filter(|side| conversation.participant(*side).is_some())
                .ok_or_else(|| format!("`{field}` holds {s:?}, not a participant"))?;
            if Sender::Side(side) == from {
                return Err(format!("`{field}` holds its own sender {side}"));
            }
            if out.contains(&side) {
                return Err(format!("`{field}` holds {side} twice"));
            }
            out.push(side);
        }
        Ok(out)
    };
    let unread_by = sides("unread_by", &m.unread_by)?;
    let to = m.to.as_deref().map(|to| sides("to", to)).transpose()?;
    Ok(MessageRecord {
        message: Message {
            id: m.id,
            from,
            from_role,
            action_type,
            content: m.content,
            files_involved: m.files_involved,
            created_at,
            to,
        },
        unread_by,
    })
}

#[cfg(test)]
mod tests;
