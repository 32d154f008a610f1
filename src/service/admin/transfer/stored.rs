//! The rules an import checks, applied again to what is about to be stored.
//!
//! An import redacts what it reads, and redaction can make a text longer
//! (`a://:c@d` becomes `a://:PASSWORD_REDACTED@d`) or make two roles the
//! same (`GITHUB_TOKEN_REDACTED`). Stored as it came out, such a record made
//! every later export and backup of the database unreadable by `import` and
//! `restore`, which check the same rules; so the redacted records are
//! checked once more before anything is stored.

use std::collections::HashSet;

use super::{ExportFileError, MAX_IMPORTED_AGENT_BYTES, MAX_IMPORTED_SYSTEM_BYTES, invalid};
use crate::domain::{Sender, check_files, check_note};
use crate::store::ConversationRecord;

/// Checks `records` as redacted against the rules `read_export` applies.
///
/// # Errors
/// [`ExportFileError::Invalid`] naming the conversation and what redaction broke.
pub fn check_redacted(records: &[ConversationRecord]) -> Result<(), ExportFileError> {
    for r in records {
        let id = &r.conversation.id;
        let broke = |what: String| {
            invalid(format!(
                "conversation {id}: once redacted, {what}; nothing was imported"
            ))
        };
        let mut roles = HashSet::new();
        for p in &r.conversation.participants {
            if p.removed_at.is_none() && !roles.insert(p.role.to_ascii_lowercase()) {
                return Err(broke(format!(
                    "two active participants hold the role {}",
                    p.role
                )));
            }
            if let Some(note) = p.status.as_ref().and_then(|s| s.note.as_deref()) {
                check_note(note).map_err(|e| broke(format!("side {}: {e}", p.side)))?;
            }
        }
        for (n, m) in r.messages.iter().enumerate() {
            let limit = match m.message.from {
                Sender::System => MAX_IMPORTED_SYSTEM_BYTES,
                Sender::Side(_) => MAX_IMPORTED_AGENT_BYTES,
            };
            if m.message.content.len() > limit {
                return Err(broke(format!(
                    "message {} takes {} bytes, more than {limit}",
                    n + 1,
                    m.message.content.len()
                )));
            }
            check_files(&m.message.files_involved)
                .map_err(|e| broke(format!("message {}: {e}", n + 1)))?;
        }
    }
    Ok(())
}
