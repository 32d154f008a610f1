//! `mcp-bridge end`: an operator ends a live conversation now — a hostile or
//! runaway participant, a leaked token, a conversation filling the storage
//! budget — instead of waiting for its expiry. Its tokens and invite codes
//! stop working at once (every call answers `conversation_expired`) and
//! `cleanup` removes it with everything it holds.

use super::{Bridge, ServiceError, cli};
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
    /// Ends conversation `id` now. Ending one that is over already changes
    /// nothing and is no error, so a script can end a list twice.
    ///
    /// # Errors
    /// [`ServiceError::UnknownConversation`] (audited as denied), or storage failures.
    pub async fn end_conversation(&self, id: &ConversationId) -> Result<Ended, ServiceError> {
        let at = self.clock.now();
        let draft = cli("end").on(Some(id.as_str()), None);
        let conversation = match self.store.conversation(id).await? {
            Some(c) => c,
            None => {
                let err = ServiceError::UnknownConversation(id.clone());
                return Err(self.refused(at, draft, err).await);
            }
        };
        let mut done = draft.clone();
        if at < conversation.expires_at {
            done.detail = Some(format!(
                "ended; it was to expire at {}",
                conversation.expires_at.to_rfc3339()
            ));
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
        mut draft: crate::audit::AuditDraft,
        conversation: Conversation,
    ) -> Result<Ended, ServiceError> {
        draft.detail = Some(format!(
            "already expired at {}; nothing changed",
            conversation.expires_at.to_rfc3339()
        ));
        self.record(at, draft).await?;
        Ok(Ended::Already(conversation))
    }
}
