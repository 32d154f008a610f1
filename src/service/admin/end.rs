//! `mcp-bridge end`: an operator ends a live conversation now — a hostile or
//! runaway participant, a leaked token, a conversation filling the storage
//! budget — instead of waiting for its expiry. Its tokens and invite codes
//! stop working at once (every call answers `conversation_expired`) and
//! `cleanup` removes it with everything it holds.

use super::{Bridge, ServiceError, cli};
use crate::audit::AuditDraft;
use crate::domain::{ConversationId, Timestamp};
use crate::store::{AdminStore, Conversation};

/// What `end` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It was live and is over now; it was to expire at `was`.
    Now {
        /// The conversation, as it was before.
        conversation: Conversation,
        /// When it ended.
        at: Timestamp,
    },
    /// It had expired already (at its `expires_at`); nothing changed.
    Already(Conversation),
}

impl<S: AdminStore> Bridge<S> {
    /// Ends conversation `id` now, for `mcp-bridge end`. Ending one that is
    /// over already changes nothing and is no error, so a script can end a
    /// list twice.
    ///
    /// # Errors
    /// [`ServiceError::UnknownConversation`] (audited as denied), or storage failures.
    pub async fn end_conversation(&self, id: &ConversationId) -> Result<Ended, ServiceError> {
        self.end_as(cli("end").on(Some(id.as_str()), None), id)
            .await
    }

    /// [`Self::end_conversation`] audited as `draft` (whose actor and detail
    /// say who asked: the CLI, or a console user).
    pub(in crate::service) async fn end_as(
        &self,
        draft: AuditDraft,
        id: &ConversationId,
    ) -> Result<Ended, ServiceError> {
        let at = self.clock.now();
        let conversation = match self.store.conversation(id).await? {
            Some(c) => c,
            None => {
                let err = ServiceError::UnknownConversation(id.clone());
                return Err(self.refused(at, draft, err).await);
            }
        };
        if at < conversation.expires_at {
            let done = noted(
                draft.clone(),
                &format!(
                    "ended; it was to expire at {}",
                    conversation.expires_at.to_rfc3339()
                ),
            );
            if self.store.end_conversation(id.clone(), at, done).await? {
                return Ok(Ended::Now { conversation, at });
            }
            // It expired (or was cleaned up) between the read and the write.
            return match self.store.conversation(id).await? {
                Some(c) => self.already(at, draft, c).await,
                None => {
                    let err = ServiceError::UnknownConversation(id.clone());
                    Err(self.refused(at, draft, err).await)
                }
            };
        }
        self.already(at, draft, conversation).await
    }

    async fn already(
        &self,
        at: Timestamp,
        draft: AuditDraft,
        conversation: Conversation,
    ) -> Result<Ended, ServiceError> {
        let text = format!(
            "already expired at {}; nothing changed",
            conversation.expires_at.to_rfc3339()
        );
        self.record(at, noted(draft, &text)).await?;
        Ok(Ended::Already(conversation))
    }
}

/// `draft` with `text` after whatever detail it has (a console user's name).
fn noted(mut draft: AuditDraft, text: &str) -> AuditDraft {
    draft.detail = Some(match draft.detail.take() {
        Some(by) => format!("{by} {text}"),
        None => text.to_owned(),
    });
    draft
}
