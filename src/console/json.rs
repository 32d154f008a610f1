//! The console's JSON shapes, shared by the `/api` endpoints and the live
//! event stream: conversations, participants, messages, audit records and
//! YOLO state as scripts read them. Pure: values in, `serde_json` out.

use serde_json::{Value, json};

use crate::audit::AuditRecord;
use crate::domain::{Message, Timestamp};
use crate::service::{ChainReport, ParticipantView};
use crate::store::{
    Activation, ActivationState, Conversation, ConversationSummary, MessageRecord, Participant,
    Proposal,
};

/// A participant with its heartbeat as seen at `now`.
pub fn participant(p: &Participant, now: Timestamp, timeout_s: u64) -> Value {
    let v = ParticipantView::of(p, now, timeout_s);
    json!({
        "session_id": v.side.as_str(),
        "role": v.role,
        "kind": v.kind.as_str(),
        "status": v.status.map_or("unknown", |s| s.as_str()),
        "note": v.note,
        "last_heartbeat": v.last_heartbeat.map(Timestamp::to_rfc3339),
        "seconds_since_heartbeat": v.seconds_since_heartbeat,
        "alive": v.alive,
        "heartbeat_timeout_s": timeout_s,
        "removed_at": p.removed_at.map(Timestamp::to_rfc3339),
    })
}

fn header(c: &Conversation, now: Timestamp, timeout_s: u64) -> Value {
    json!({
        "id": c.id.as_str(),
        "created_at": c.created_at.to_rfc3339(),
        "expires_at": c.expires_at.to_rfc3339(),
        "expired": now >= c.expires_at,
        "participants": c.participants.iter().map(|p| participant(p, now, timeout_s)).collect::<Vec<_>>(),
    })
}

/// A conversation line of the overview.
pub fn summary(s: &ConversationSummary, now: Timestamp, timeout_s: u64) -> Value {
    let mut v = header(&s.conversation, now, timeout_s);
    v["messages"] = json!(s.messages);
    v["last_message_at"] = json!(s.last_message_at.map(Timestamp::to_rfc3339));
    v["unread"] = s
        .unread
        .iter()
        .map(|(side, n)| (side.as_str().to_owned(), json!(n)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    v
}

/// A message (already redacted when it was stored).
pub fn message(m: &Message) -> Value {
    json!({
        "id": m.id,
        "from": m.from.as_str(),
        "from_role": m.from_role,
        "action_type": m.action_type.as_str(),
        "content": m.content,
        "files_involved": m.files_involved,
        "created_at": m.created_at.to_rfc3339(),
        "to": m.to.as_ref().map(|to| to.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
    })
}

/// A message with who has not read it yet.
pub fn message_record(r: &MessageRecord) -> Value {
    let mut v = message(&r.message);
    v["unread_by"] = json!(r.unread_by.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    v
}

/// A whole conversation with its messages.
pub fn conversation(
    c: &Conversation,
    messages: &[MessageRecord],
    now: Timestamp,
    timeout_s: u64,
) -> Value {
    let mut v = header(c, now, timeout_s);
    v["messages"] = messages
        .iter()
        .map(message_record)
        .collect::<Vec<_>>()
        .into();
    v
}

/// An audit record, as `mcp-bridge audit --json` prints it.
pub fn audit(r: &AuditRecord) -> Value {
    let d = &r.draft;
    json!({
        "seq": r.seq,
        "at": r.at.to_rfc3339(),
        "actor": d.actor,
        "action": d.action,
        "conversation_id": d.conversation,
        "side": d.side,
        "outcome": d.outcome.as_str(),
        "code": d.code,
        "bytes": d.bytes,
        "count": d.count,
        "detail": d.detail,
        "hash": r.hash,
    })
}

/// The result of walking the audit chain.
pub fn verify(r: &ChainReport) -> Value {
    json!({
        "intact": r.fault.is_none(),
        "records": r.records,
        "fault": r.fault.as_ref().map(ToString::to_string),
    })
}

/// An activation's state as a human should read it (an active one past its
/// expiry is `expired`).
pub fn activation_state(a: &Activation, now: Timestamp) -> &'static str {
    if a.state == ActivationState::Active && !a.is_active(now) {
        "expired"
    } else {
        a.state.as_str()
    }
}

/// A YOLO activation.
pub fn activation(a: &Activation, now: Timestamp) -> Value {
    let r = &a.request;
    json!({
        "conversation_id": r.conversation.as_str(),
        "state": activation_state(a, now),
        "mode": r.mode.as_str(),
        "workspace": r.workspace.to_string_lossy(),
        "sandbox": r.sandbox,
        "timeout_s": r.timeout_s,
        "requested_by": r.requested_by.as_str(),
        "requested_at": r.requested_at.to_rfc3339(),
        "requested_at_us": r.requested_at.as_micros(),
        "expires_at": a.expires_at.map(Timestamp::to_rfc3339),
    })
}

/// A YOLO proposal (its command as `yolo status` shows it).
pub fn proposal(p: &Proposal) -> Value {
    json!({
        "id": p.id,
        "conversation_id": p.conversation.as_str(),
        "side": p.side.as_str(),
        "command": p.command,
        "mode": p.mode.as_str(),
        "state": p.state.as_str(),
        "created_at": p.created_at.to_rfc3339(),
    })
}
