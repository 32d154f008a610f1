//! The process's redaction engine, compiled once in the background.
//!
//! Compiling every rule takes longer than the rest of start-up together, and
//! the first message usually arrives well after `initialize`; so the server
//! starts compiling on a thread at launch and the first redaction waits for it
//! only if it comes first. User patterns were already validated when the
//! configuration was loaded, so compiling here cannot fail for a bad regex.

use std::sync::{Arc, OnceLock};

use super::own_tokens::redact_session_tokens;
use crate::redact::{RedactionSettings, Redactor};

/// A lazily compiled [`Redactor`] shared by every call.
pub struct SharedRedactor {
    cell: OnceLock<Redactor>,
    settings: RedactionSettings,
}

impl SharedRedactor {
    /// A handle that compiles `settings` on first use.
    pub fn new(settings: RedactionSettings) -> Arc<Self> {
        Arc::new(Self {
            cell: OnceLock::new(),
            settings,
        })
    }

    /// Starts compiling on a background thread.
    pub fn warm_up(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("redactor".into())
            .spawn(move || {
                me.get();
            });
        if let Err(e) = spawned {
            tracing::debug!(error = %e, "cannot pre-compile the redactor; it compiles on first use");
        }
    }

    /// The engine, compiling it now if nobody has yet.
    pub fn get(&self) -> &Redactor {
        self.cell.get_or_init(|| match Redactor::new(&self.settings) {
            Ok(r) => r,
            Err(e) => {
                // Unreachable after config validation; never run without redaction.
                tracing::error!(error = %e, "user redaction patterns failed to compile; using the built-in rules only");
                Redactor::builtin()
            }
        })
    }
}

/// Redacts a role name like any other text an agent sends (a role is free
/// text that the partner, the CLI and the audit views show). A placeholder
/// can be longer than the secret it replaces, so the result is cut to the
/// role length limit: losing the tail of a placeholder is better than
/// refusing the conversation or storing a role no parser accepts.
///
/// With `own`, the session tokens of that conversation are replaced too: a
/// role given to an invite is shown to everyone who joins, so a member's
/// token written as a role would hand the seat to an observer.
pub(crate) fn redact_role(
    redactor: &Redactor,
    own: Option<Own<'_>>,
    role: &str,
    counts: &mut std::collections::BTreeMap<String, usize>,
) -> Option<String> {
    let r = redactor.redact(role);
    let mut found = r.counts;
    let mut text = r.text;
    if let Some((key, conversation)) = own
        && let Some(clean) = redact_session_tokens(key, conversation, &text, &mut found)
    {
        text = std::borrow::Cow::Owned(clean);
    }
    if found.is_empty() {
        return None;
    }
    for (kind, n) in found {
        *counts.entry(kind).or_insert(0) += n;
    }
    Some(text.chars().take(crate::domain::MAX_ROLE_CHARS).collect())
}

/// The conversation whose session tokens a text must not carry, with the key
/// they are derived from.
pub(crate) type Own<'a> = (
    &'a crate::auth::ServerKey,
    &'a crate::domain::ConversationId,
);

/// A role with any secret in it replaced (see [`redact_role`]), still a
/// valid role: placeholders and cut role text use only the role alphabet, so
/// this parses; the constant is the fallback for the impossible rest.
pub(crate) fn clean_role(
    redactor: &Redactor,
    own: Option<Own<'_>>,
    field: &'static str,
    role: crate::domain::Role,
    counts: &mut std::collections::BTreeMap<String, usize>,
) -> crate::domain::Role {
    match redact_role(redactor, own, role.as_str(), counts) {
        None => role,
        Some(text) => crate::domain::Role::parse(field, &text)
            .or_else(|_| crate::domain::Role::parse(field, "ROLE_REDACTED"))
            .expect("a constant role is valid"),
    }
}

/// Records what redaction replaced in an audit draft: counts only.
pub(crate) fn note_redactions(
    draft: &mut crate::audit::AuditDraft,
    counts: &std::collections::BTreeMap<String, usize>,
) {
    if counts.is_empty() {
        return;
    }
    let kinds: Vec<String> = counts.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    draft.count = Some(i64::try_from(counts.values().sum::<usize>()).unwrap_or(i64::MAX));
    let redactions = format!("redactions={}", kinds.join(","));
    draft.detail = Some(match draft.detail.take() {
        Some(d) => format!("{d} {redactions}"),
        None => redactions,
    });
}
