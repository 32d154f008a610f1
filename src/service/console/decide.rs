//! The YOLO decisions an admin takes from the console: confirm an
//! activation, approve or deny a proposal. The same rules and audit records
//! as the terminal ([`super::super::oversight`]), with the token's name as
//! the decider, and the same operator passphrase file, so wrong answers are
//! counted and slowed down exactly as at the terminal.

use super::{CONFIRM_PHRASE, ConsoleUser};
use crate::domain::{ConversationId, InvalidValue};
use crate::operator::{Passphrase, PassphraseError};
use crate::service::{Approval, Bridge, ServiceError};
use crate::store::{
    Activation, AdminStore, ConsoleRole, ConsoleStore, Proposal, StoreError, YoloStore,
};

impl<S: ConsoleStore + AdminStore + YoloStore> Bridge<S> {
    /// Refuses unless `user` is an admin (audited).
    async fn console_admin(
        &self,
        user: &ConsoleUser,
        action: &str,
        conversation: Option<&ConversationId>,
    ) -> Result<(), ServiceError> {
        if user.role == ConsoleRole::Admin {
            return Ok(());
        }
        self.console_refused(Some(user), action, conversation, "forbidden")
            .await;
        Err(ServiceError::Forbidden(
            "this console token is an observer's: it may look, not act".into(),
        ))
    }

    /// Checks the operator passphrase on a blocking thread (Argon2id is slow
    /// on purpose); wrong answers are counted and slowed down by the file,
    /// exactly as at the terminal, and audited.
    async fn console_passphrase(
        &self,
        user: &ConsoleUser,
        passphrase: &Passphrase,
        answer: String,
        action: &str,
        conversation: Option<&ConversationId>,
    ) -> Result<(), ServiceError> {
        let file = passphrase.clone();
        let checked = tokio::task::spawn_blocking(move || file.check(&answer))
            .await
            .map_err(|e| ServiceError::Internal(StoreError::Backend(Box::new(e))))?;
        let Err(e) = checked else { return Ok(()) };
        let reason = match &e {
            PassphraseError::Wrong { .. } => "wrong passphrase",
            PassphraseError::Locked { .. } => "locked after wrong passphrases",
            PassphraseError::NotSet { .. } => "not set",
            PassphraseError::Busy => "another check running",
            _ => "unusable file",
        };
        self.yolo_passphrase_refused_by(&user.decider(), action, conversation, reason);
        Err(ServiceError::Conflict(e.to_string()))
    }

    /// Confirms `conversation`'s pending activation for an admin who typed
    /// [`CONFIRM_PHRASE`] and the operator passphrase; `requested_at` is the
    /// request the page showed, so a request replaced meanwhile is not confirmed.
    ///
    /// # Errors
    /// `forbidden` for an observer; `conflict` for a wrong phrase or
    /// passphrase or a changed request; `not_found` without a pending request.
    pub async fn console_confirm(
        &self,
        user: &ConsoleUser,
        passphrase: &Passphrase,
        conversation: &ConversationId,
        requested_at: i64,
        phrase: &str,
        answer: String,
    ) -> Result<Activation, ServiceError> {
        const ACTION: &str = "yolo confirm";
        self.console_admin(user, ACTION, Some(conversation)).await?;
        let (_, activation) = self.yolo_pending_activation(conversation).await?;
        if activation.request.requested_at.as_micros() != requested_at {
            return Err(ServiceError::Conflict(
                "the request changed since the page was shown; review it again".into(),
            ));
        }
        if phrase.trim() != CONFIRM_PHRASE {
            self.yolo_confirmation_failed_by(&user.decider(), conversation, "wrong phrase");
            return Err(ServiceError::Conflict(format!(
                "the phrase did not match (type `{CONFIRM_PHRASE}`); nothing was enabled"
            )));
        }
        self.console_passphrase(user, passphrase, answer, ACTION, Some(conversation))
            .await?;
        self.yolo_confirm_by(&user.decider(), &activation).await
    }

    /// Approves a pending proposal for an admin who gave the operator
    /// passphrase; returns the single-use token to show once.
    ///
    /// # Errors
    /// `forbidden` for an observer; `conflict` for a wrong passphrase;
    /// `not_found` for a proposal that is not pending.
    pub async fn console_approve(
        &self,
        user: &ConsoleUser,
        passphrase: &Passphrase,
        id: &str,
        answer: String,
    ) -> Result<(Proposal, Approval), ServiceError> {
        const ACTION: &str = "yolo approve";
        let (proposal, _) = self.yolo_pending_proposal(id).await?;
        self.console_admin(user, ACTION, Some(&proposal.conversation))
            .await?;
        self.console_passphrase(
            user,
            passphrase,
            answer,
            ACTION,
            Some(&proposal.conversation),
        )
        .await?;
        let approval = self.yolo_approve_by(&user.decider(), &proposal).await?;
        Ok((proposal, approval))
    }

    /// Denies a pending proposal for an admin (no passphrase: denying only
    /// makes things safer).
    ///
    /// # Errors
    /// `forbidden` for an observer; `not_found`/`conflict` when it is not pending.
    pub async fn console_deny(
        &self,
        user: &ConsoleUser,
        id: &str,
    ) -> Result<Proposal, ServiceError> {
        let conversation = self.store.proposal(id).await?.map(|p| p.conversation);
        self.console_admin(user, "yolo deny", conversation.as_ref())
            .await?;
        self.yolo_deny_by(&user.decider(), id).await
    }

    /// Ends `conversation` now (see `mcp-bridge end`), for an admin who
    /// confirmed that it ends for every participant (`confirmed`: the page's
    /// ticked box). No passphrase: ending only takes power away from agents.
    ///
    /// # Errors
    /// `forbidden` for an observer; `invalid_argument` (audited, nothing
    /// changed) without the confirmation; `unknown_conversation`.
    pub async fn console_end(
        &self,
        user: &ConsoleUser,
        conversation: &ConversationId,
        confirmed: bool,
    ) -> Result<super::super::Ended, ServiceError> {
        self.console_admin(user, "end", Some(conversation)).await?;
        // The box is `required` in the page, but a browser is not the only
        // client: a hand-made or scripted post must confirm just the same,
        // as ending cannot be undone.
        if !confirmed {
            self.console_refused(Some(user), "end", Some(conversation), "not_confirmed")
                .await;
            return Err(ServiceError::InvalidArgument(InvalidValue::new(
                "sure",
                "must be ticked (\"End it for every participant\"): ending cannot be undone; nothing was changed",
            )));
        }
        self.end_as(user.draft("end", Some(conversation)), conversation)
            .await
    }

    /// Ends command execution for `conversation` at once, for an admin (no
    /// passphrase: revoking only makes things safer).
    ///
    /// # Errors
    /// `forbidden` for an observer; `not_found` without an activation.
    pub async fn console_revoke(
        &self,
        user: &ConsoleUser,
        conversation: &ConversationId,
    ) -> Result<(), ServiceError> {
        self.console_admin(user, "yolo revoke", Some(conversation))
            .await?;
        self.yolo_revoke_by(&user.decider(), conversation).await
    }
}
