//! Reading an export file back: either layout, every field checked with the
//! domain constructors, every record or the first problem.

use std::collections::HashSet;

use super::times::{self, ImportClock};
use super::{
    ExportFileError, FileConversation, FileDocument, FileLine, FileMessage, Header,
    MAX_IMPORTED_AGENT_BYTES, MAX_IMPORTED_ID, MAX_IMPORTED_SYSTEM_BYTES, check_header, invalid,
};
use crate::domain::{
    ActionType, ConversationId, MAX_SESSIONS, Message, ParticipantKind, Role, Sender, Side, Status,
    Timestamp, check_files, check_note,
};
use crate::store::{Conversation, ConversationRecord, MessageRecord, Participant, StatusRecord};

/// What a participant's own times follow: a version 1 file names no joining,
/// and the conversation's creation stands for it.
const SINCE_JOINED: &str = "the participant joined (or the conversation was created)";

/// [`read_export_at`] at the current time, for a bridge whose conversations
/// live `ttl_us` (`conversation_ttl_minutes`).
///
/// # Errors
/// As [`read_export_at`].
pub fn read_export(text: &str, ttl_us: i64) -> Result<Vec<ConversationRecord>, ExportFileError> {
    read_export_at(text, ImportClock::now(ttl_us))
}

/// Parses and validates an export file (either layout) into records, in file
/// order, as of `clock` (no time may lie in the future, no expiry further
/// than its TTL from now). Contents are returned as stored in the file (not
/// yet redacted).
///
/// # Errors
/// [`ExportFileError::TooNew`] for a newer version, [`ExportFileError::Invalid`]
/// naming the first bad line, conversation, message or field.
pub fn read_export_at(
    text: &str,
    clock: ImportClock,
) -> Result<Vec<ConversationRecord>, ExportFileError> {
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
    validate(conversations, clock)
}

/// The configured bounds an import that adds to live conversations must
/// keep, since the tools could never pass them.
#[derive(Debug, Clone, Copy)]
pub struct MergeLimits {
    /// `limits.max_pending_messages`.
    pub max_pending: u32,
    /// `teams.max_participants`.
    pub max_participants: u32,
}

/// Refuses records that leave a session more unread messages than
/// `limits.max_pending` allows, or a conversation more active participants
/// than `limits.max_participants`.
///
/// # Errors
/// [`ExportFileError::Invalid`] naming the first conversation over a bound.
pub fn check_merge(
    records: &[ConversationRecord],
    limits: MergeLimits,
) -> Result<(), ExportFileError> {
    for r in records {
        let active = r
            .conversation
            .participants
            .iter()
            .filter(|p| p.removed_at.is_none())
            .count();
        if active > limits.max_participants as usize {
            return Err(invalid(format!(
                "conversation {}: {active} active participants, more than teams.max_participants ({}) allows",
                r.conversation.id, limits.max_participants
            )));
        }
        let mut unread = std::collections::BTreeMap::<Side, u64>::new();
        for m in &r.messages {
            for side in &m.unread_by {
                *unread.entry(*side).or_default() += 1;
            }
        }
        let limit = limits.max_pending;
        if let Some((side, n)) = unread.into_iter().find(|(_, n)| *n > u64::from(limit)) {
            return Err(invalid(format!(
                "conversation {}: side {side} has {n} unread messages, more than limits.max_pending_messages ({limit}) allows",
                r.conversation.id
            )));
        }
    }
    Ok(())
}

fn read_lines(text: &str) -> Result<Vec<FileConversation>, ExportFileError> {
    let mut out: Vec<FileConversation> = Vec::new();
    // The header is the first line with anything on it, as it was found.
    let header = text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0);
    for (n, line) in text.lines().enumerate().skip(header + 1) {
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

fn validate(
    file: Vec<FileConversation>,
    clock: ImportClock,
) -> Result<Vec<ConversationRecord>, ExportFileError> {
    let mut ids = HashSet::new();
    let mut message_ids = HashSet::new();
    let mut out = Vec::with_capacity(file.len());
    for (n, c) in file.into_iter().enumerate() {
        let label = format!("conversation {} ({})", n + 1, c.id);
        let record = conversation(c, &mut message_ids, clock)
            .map_err(|e| invalid(format!("{label}: {e}")))?;
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
    clock: ImportClock,
) -> Result<ConversationRecord, String> {
    let id = ConversationId::parse(&c.id).map_err(|e| e.to_string())?;
    let created_at = times::parse("created_at", &c.created_at)?;
    let expires_at = times::parse("expires_at", &c.expires_at)?;
    if expires_at <= created_at {
        return Err("`expires_at` must be after `created_at`".into());
    }
    clock.not_future("created_at", created_at)?;
    clock.check_expiry(expires_at)?;
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
        // Exported before some names were reserved, perhaps.
        let role =
            Role::parse_existing("role", &p.role).map_err(|e| format!("side {side}: {e}"))?;
        let kind = match &p.kind {
            None if side == Side::A => ParticipantKind::Owner,
            None => ParticipantKind::Member,
            Some(k) => ParticipantKind::parse(k).map_err(|e| format!("side {side}: {e}"))?,
        };
        if (kind == ParticipantKind::Owner) != (side == Side::A) {
            return Err(format!("side {side}: the owner is side a, and only side a"));
        }
        let optional_time = |field: &'static str, t: &Option<String>| {
            t.as_deref()
                .map(|t| times::parse(field, t))
                .transpose()
                .map_err(|e| format!("side {side}: {e}"))
        };
        let joined_at = optional_time("joined_at", &p.joined_at)?;
        if let Some(joined_at) = joined_at {
            clock
                .check(
                    "joined_at",
                    joined_at,
                    created_at,
                    "the conversation was created",
                )
                .map_err(|e| format!("side {side}: {e}"))?;
        }
        // What a participant does comes after it joined.
        let joined = joined_at.unwrap_or(created_at);
        let status = match (p.status, p.status_at) {
            (None, None) if p.note.is_none() => None,
            (Some(status), Some(at)) => {
                if let Some(note) = &p.note {
                    check_note(note).map_err(|e| format!("side {side}: {e}"))?;
                }
                let updated_at = times::parse("status_at", &at)
                    .and_then(|t| {
                        clock
                            .check("status_at", t, joined, SINCE_JOINED)
                            .map(|()| t)
                    })
                    .map_err(|e| format!("side {side}: {e}"))?;
                Some(StatusRecord {
                    status: Status::parse(&status).map_err(|e| format!("side {side}: {e}"))?,
                    note: p.note,
                    updated_at,
                })
            }
            _ => {
                return Err(format!(
                    "side {side}: `status` and `status_at` come together (and `note` only with them)"
                ));
            }
        };
        let removed_at = optional_time("removed_at", &p.removed_at)?;
        if let Some(removed_at) = removed_at {
            check_removal(side, kind, joined, removed_at, clock)?;
            // The tools refuse a removed participant's status, so a status
            // dated after the removal was made up (it would show a removed
            // seat as working on).
            if let Some(status) = &status {
                clock
                    .check(
                        "removed_at",
                        removed_at,
                        status.updated_at,
                        "its last status (`status_at`)",
                    )
                    .map_err(|e| format!("side {side}: {e}"))?;
            }
        }
        participants.push(Participant {
            side,
            role: role.as_str().to_owned(),
            kind,
            status,
            joined_at,
            removed_at,
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
        let record = message(m, &conversation, clock).map_err(|e| format!("{label}: {e}"))?;
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

/// A removal the tools could have made: never the owner (a conversation
/// keeps someone who can invite and remove), after joining, and not ahead of
/// now by more than clock skew (a future removal would lock the session
/// out at once while it still looked like a member).
fn check_removal(
    side: Side,
    kind: ParticipantKind,
    joined_at: Timestamp,
    removed_at: Timestamp,
    clock: ImportClock,
) -> Result<(), String> {
    if kind == ParticipantKind::Owner {
        return Err(format!(
            "side {side}: the owner cannot be removed (`removed_at` is set)"
        ));
    }
    clock
        .check("removed_at", removed_at, joined_at, SINCE_JOINED)
        .map_err(|e| format!("side {side}: {e}"))
}

fn message(
    m: FileMessage,
    conversation: &Conversation,
    clock: ImportClock,
) -> Result<MessageRecord, String> {
    if !(1..=MAX_IMPORTED_ID).contains(&m.id) {
        return Err(format!("`id` must be 1 to {MAX_IMPORTED_ID} (2^53)"));
    }
    let from = Sender::parse(&m.from)
        .map_err(|_| format!("`from` {:?} must be a session id or \"system\"", m.from))?;
    let from_role = match from {
        Sender::System => "system".to_owned(),
        Sender::Side(side) => {
            let sender = conversation
                .participant(side)
                .ok_or_else(|| format!("`from` names a missing side {side}"))?;
            if sender.kind == ParticipantKind::Observer {
                return Err(format!(
                    "`from` is side {side}, an observer (observers cannot send)"
                ));
            }
            sender.role.clone()
        }
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
    let created_at = times::parse("created_at", &m.created_at)?;
    clock.check(
        "created_at",
        created_at,
        conversation.created_at,
        "the conversation was created",
    )?;
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
    // A removal empties the participant's inbox, and long-polls rely on it
    // (a take that finds messages ran while the session was a member).
    if let Some(side) = unread_by.iter().find(|side| {
        conversation
            .participant(**side)
            .is_some_and(|p| p.removed_at.is_some())
    }) {
        return Err(format!(
            "`unread_by` holds {side}, a removed participant (a removal empties its inbox)"
        ));
    }
    if m.to.as_ref().is_some_and(Vec::is_empty) {
        // A send with `to` names at least one participant.
        return Err("`to` names nobody; leave it out for a message to everyone".into());
    }
    let to = m.to.as_deref().map(|to| sides("to", to)).transpose()?;
    // Only addressees get a copy to read, and observers, who see everything.
    let delivered = |side: &Side| {
        to.as_ref().is_none_or(|to| to.contains(side))
            || conversation
                .participant(*side)
                .is_some_and(|p| p.kind.sees_everything())
    };
    if let Some(side) = unread_by.iter().find(|side| !delivered(side)) {
        return Err(format!(
            "`unread_by` holds {side}, which is not in `to` (only addressees and observers get the message)"
        ));
    }
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
