//! What an import stores of a file's texts: redacted as live calls are.
//!
//! Roles as at creation (a file may come from an older bridge; a message's
//! role is its sender's, so both get the same text), then every note,
//! message and path: the secrets, and the conversation's own session
//! tokens, which look like any digest so only this database's key
//! recognises them (a live send removes them too).

use std::collections::BTreeMap;

use crate::auth::ServerKey;
use crate::domain::{ConversationId, Sender};
use crate::redact::Redactor;
use crate::service::own_tokens::redact_session_tokens;
use crate::service::redaction::redact_role;
use crate::store::ConversationRecord;

/// Redacts `records` in place; how many secrets were replaced.
pub(super) fn redact_records(
    redactor: &Redactor,
    key: &ServerKey,
    records: &mut [ConversationRecord],
) -> usize {
    let mut role_counts = BTreeMap::new();
    let mut clean_role = |conversation: &ConversationId, role: &mut String| {
        if let Some(text) = redact_role(redactor, Some((key, conversation)), role, &mut role_counts)
        {
            *role = text;
        }
    };
    for record in records.iter_mut() {
        let conversation = &record.conversation.id;
        for p in &mut record.conversation.participants {
            clean_role(conversation, &mut p.role);
        }
        for m in &mut record.messages {
            if m.message.from != Sender::System {
                clean_role(conversation, &mut m.message.from_role);
            }
        }
    }
    let mut redactions = role_counts.values().sum::<usize>();
    let mut clean = |conversation: &ConversationId, text: &mut String| {
        let r = redactor.redact(text);
        let mut counts = r.counts;
        let mut out = r.text.into_owned();
        if let Some(clean) = redact_session_tokens(key, conversation, &out, &mut counts) {
            out = clean;
        }
        redactions += counts.values().sum::<usize>();
        *text = out;
    };
    for record in records.iter_mut() {
        let id = record.conversation.id.clone();
        for p in &mut record.conversation.participants {
            if let Some(note) = p.status.as_mut().and_then(|s| s.note.as_mut()) {
                clean(&id, note);
            }
        }
        for m in &mut record.messages {
            clean(&id, &mut m.message.content);
            for path in &mut m.message.files_involved {
                clean(&id, path);
            }
        }
    }
    redactions
}
