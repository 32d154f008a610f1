//! No secret in what YOLO mode stores and shows to humans: a proposed
//! command or a workspace path that holds one is refused, found by the same
//! redaction engine that cleans messages — and by the bridge's knowledge of
//! its own session tokens, which look like any digest to the engine.

use super::super::own_tokens::redact_session_tokens;
use super::super::{Bridge, ServiceError};
use crate::domain::ConversationId;
use crate::store::YoloStore;

impl<S: YoloStore> Bridge<S> {
    /// Refuses a command that holds a secret. Proposals are stored and shown
    /// to the human who approves them, and what runs must be exactly what the
    /// human saw; so a command with a secret can neither be stored as it is
    /// nor run from a redacted copy.
    pub(super) fn refuse_secrets(
        &self,
        conversation: &ConversationId,
        command: &str,
    ) -> Result<(), ServiceError> {
        let Some(kinds) = self.secret_kinds(conversation, command) else {
            return Ok(());
        };
        Err(ServiceError::CommandRefused {
            rule: "secret_in_command",
            detail: format!(
                "it holds what looks like a secret ({kinds}); commands are stored and shown to the human who approves them, so none may carry one: put the secret in a file in the workspace and have the command read it"
            ),
        })
    }

    /// The kinds of secret the redaction engine finds in `text`, or a
    /// session token of `conversation`, if any.
    fn secret_kinds(&self, conversation: &ConversationId, text: &str) -> Option<String> {
        let mut found = self.redactor.get().redact(text).counts;
        let _ = redact_session_tokens(&self.key, conversation, text, &mut found);
        let kinds: Vec<&str> = found.keys().map(String::as_str).collect();
        (!kinds.is_empty()).then(|| kinds.join(", "))
    }

    /// Refuses a workspace whose path, as given or resolved, holds a secret:
    /// workspaces are stored in the clear (and in every backup) and shown to
    /// the humans who confirm and approve, so, like a command, none may carry
    /// one, and a redacted copy would name another directory. Directory
    /// names glue words with `_`, `-` or `.` (`ws_AKIA…`), which hides a key
    /// from patterns that want it to stand alone, so the words are checked
    /// apart as well as together.
    pub(super) fn refuse_secret_workspace(
        &self,
        conversation: &ConversationId,
        raw: &str,
        resolved: &std::path::Path,
    ) -> Result<(), ServiceError> {
        let resolved = resolved.to_string_lossy();
        let apart = |text: &str| text.replace(['_', '-', '.', '+', '=', ',', '@', ':'], " ");
        let Some(kinds) = [
            raw.to_owned(),
            resolved.to_string(),
            apart(raw),
            apart(&resolved),
        ]
        .iter()
        .find_map(|text| self.secret_kinds(conversation, text)) else {
            return Ok(());
        };
        Err(ServiceError::InvalidArgument(
            crate::domain::InvalidValue::new(
                "workspace",
                format!(
                    "holds what looks like a secret ({kinds}) (rule secret_in_workspace); workspaces are stored and shown to the human who confirms them, so none may carry one: use a directory whose path holds no secret"
                ),
            ),
        ))
    }
}
