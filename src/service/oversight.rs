//! YOLO mode, the human's side: the decisions `mcp-bridge yolo …` records
//! (confirm an activation, approve or deny a proposal, revoke, restore a
//! snapshot). The terminal interaction itself lives in the CLI; the rules and
//! the audit records live here.

use super::yolo::random_id;
use super::{Bridge, ServiceError};
use crate::audit::{AuditDraft, Outcome};
use crate::domain::{ConversationId, Timestamp};
use crate::runner::{self, SandboxSettings, snapshot};
use crate::store::{
    Activation, ActivationState, Conversation, Proposal, ProposalState, Snapshot, YoloStore,
};

/// An approval to hand to the agent.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The single-use token (shown once; only its hash is stored).
    pub token: String,
    /// Until when it can be redeemed.
    pub expires_at: Timestamp,
}

fn cli_draft(action: &str, conversation: Option<&ConversationId>) -> AuditDraft {
    Decider::CLI.draft(action, conversation)
}

/// Who takes a human decision: the terminal (`cli`), or a named console
/// token (`console`), whose name goes into the audit record's detail.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decider<'a> {
    /// The audit actor.
    pub actor: &'static str,
    /// The console token's name, if any.
    pub name: Option<&'a str>,
}

impl Decider<'_> {
    /// The management command line.
    pub const CLI: Decider<'static> = Decider {
        actor: "cli",
        name: None,
    };

    fn draft(&self, action: &str, conversation: Option<&ConversationId>) -> AuditDraft {
        AuditDraft::new(self.actor, action).on(conversation.map(ConversationId::as_str), None)
    }

    /// Sets the draft's detail to `text`, naming the console token if any.
    fn detail(&self, draft: &mut AuditDraft, text: String) {
        draft.detail = Some(match self.name {
            Some(name) => format!("{text} by={name}"),
            None => text,
        });
    }
}

impl<S: YoloStore> Bridge<S> {
    fn cli_failure(&self, draft: AuditDraft, e: ServiceError) -> ServiceError {
        self.refuse(draft, e)
    }

    /// The pending activation of `conversation` with its conversation, for a human to review.
    ///
    /// # Errors
    /// `not_found` when the conversation has no pending activation.
    pub async fn yolo_pending_activation(
        &self,
        conversation: &ConversationId,
    ) -> Result<(Conversation, Activation), ServiceError> {
        let conv = self.store.conversation(conversation).await?;
        let activation = self.store.activation(conversation).await?;
        match (conv, activation) {
            // Refused before the human reviews it, not after they typed everything.
            (Some(c), Some(a)) if a.state == ActivationState::Pending => {
                super::yolo::stored_workspace_allowed(&a)?;
                Ok((c, a))
            }
            (Some(_), Some(a)) => Err(ServiceError::NotFound(format!(
                "{conversation} has no pending activation request (its activation is {}); the agent must call enable_yolo_mode first",
                a.state.as_str()
            ))),
            _ => Err(ServiceError::NotFound(format!(
                "{conversation} has no pending activation request; the agent must call enable_yolo_mode first"
            ))),
        }
    }

    /// Activates the reviewed request (the human typed the phrase and the code).
    ///
    /// # Errors
    /// `conflict` when the request changed meanwhile.
    pub async fn yolo_confirm(&self, activation: &Activation) -> Result<Activation, ServiceError> {
        self.yolo_confirm_by(&Decider::CLI, activation).await
    }

    /// [`Bridge::yolo_confirm`] on behalf of `by`.
    pub(super) async fn yolo_confirm_by(
        &self,
        by: &Decider<'_>,
        activation: &Activation,
    ) -> Result<Activation, ServiceError> {
        let conv = &activation.request.conversation;
        let at = self.clock.now();
        let expires_at = at.plus_micros(self.settings.yolo.activation_ttl_us);
        let mut draft = by.draft("yolo confirm", Some(conv));
        if let Err(e) = super::yolo::stored_workspace_allowed(activation) {
            return Err(self.cli_failure(draft, e));
        }
        by.detail(
            &mut draft,
            format!(
                "mode={} sandbox={}",
                activation.request.mode, activation.request.sandbox
            ),
        );
        match self
            .store
            .confirm_activation(
                conv.clone(),
                activation.request.requested_at,
                expires_at,
                at,
                draft.clone(),
            )
            .await
        {
            Ok(()) => Ok(Activation {
                state: ActivationState::Active,
                confirmed_at: Some(at),
                expires_at: Some(expires_at),
                ..activation.clone()
            }),
            Err(crate::store::StoreError::Conflict(m)) => {
                Err(self.cli_failure(draft, ServiceError::Conflict(m)))
            }
            Err(e) => Err(self.cli_failure(draft, e.into())),
        }
    }

    /// Records a confirmation the human did not complete (wrong phrase or code).
    pub async fn yolo_confirmation_failed(&self, conversation: &ConversationId, reason: &str) {
        self.yolo_confirmation_failed_by(&Decider::CLI, conversation, reason);
    }

    /// [`Bridge::yolo_confirmation_failed`] on behalf of `by`.
    pub(super) fn yolo_confirmation_failed_by(
        &self,
        by: &Decider<'_>,
        conversation: &ConversationId,
        reason: &str,
    ) {
        let mut draft = by
            .draft("yolo confirm", Some(conversation))
            .failed(Outcome::Denied, "confirmation_failed");
        by.detail(&mut draft, reason.to_owned());
        self.audit(draft);
    }

    /// Records a human stage refused because of the operator passphrase
    /// (`reason`: wrong, not set, locked, or a damaged file).
    pub async fn yolo_passphrase_refused(
        &self,
        action: &str,
        conversation: Option<&ConversationId>,
        reason: &str,
    ) {
        self.yolo_passphrase_refused_by(&Decider::CLI, action, conversation, reason);
    }

    /// [`Bridge::yolo_passphrase_refused`] on behalf of `by`.
    pub(super) fn yolo_passphrase_refused_by(
        &self,
        by: &Decider<'_>,
        action: &str,
        conversation: Option<&ConversationId>,
        reason: &str,
    ) {
        let mut draft = by
            .draft(action, conversation)
            .failed(Outcome::Denied, "passphrase_refused");
        by.detail(&mut draft, reason.to_owned());
        self.audit(draft);
    }

    /// Records that the operator passphrase was set (or changed).
    pub async fn yolo_passphrase_set(&self, changed: bool) {
        let mut draft = cli_draft("yolo passphrase", None);
        draft.detail = Some(if changed { "changed" } else { "set" }.to_owned());
        self.audit(draft);
    }

    /// Ends YOLO mode for `conversation` at once; pending and approved proposals are denied.
    ///
    /// # Errors
    /// `not_found` when it had none.
    pub async fn yolo_revoke(&self, conversation: &ConversationId) -> Result<(), ServiceError> {
        self.yolo_revoke_by(&Decider::CLI, conversation).await
    }

    /// [`Bridge::yolo_revoke`] on behalf of `by`.
    pub(super) async fn yolo_revoke_by(
        &self,
        by: &Decider<'_>,
        conversation: &ConversationId,
    ) -> Result<(), ServiceError> {
        let mut draft = by.draft("yolo revoke", Some(conversation));
        if let Some(name) = by.name {
            draft.detail = Some(format!("by={name}"));
        }
        match self
            .store
            .revoke_activation(conversation.clone(), self.clock.now(), draft.clone())
            .await
        {
            Ok(()) => Ok(()),
            Err(crate::store::StoreError::NotFound) => {
                let e =
                    ServiceError::NotFound(format!("{conversation} has no activation to revoke"));
                Err(self.cli_failure(draft, e))
            }
            Err(e) => Err(self.cli_failure(draft, e.into())),
        }
    }

    /// Every activation and proposal, for `mcp-bridge yolo status`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn yolo_status(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<(Vec<Activation>, Vec<Proposal>), ServiceError> {
        let mut activations = self.store.activations().await?;
        if let Some(c) = &conversation {
            activations.retain(|a| &a.request.conversation == c);
        }
        let mut proposals = self.store.proposals(conversation).await?;
        for p in &mut proposals {
            self.redact_command(p);
        }
        Ok((activations, proposals))
    }

    /// Redacts a stored command before it is shown. Commands with a secret
    /// are refused before they are stored; this covers proposals stored by
    /// older versions and secrets of kinds configured since.
    fn redact_command(&self, proposal: &mut Proposal) {
        if let std::borrow::Cow::Owned(clean) = self.redactor.get().redact(&proposal.command).text {
            proposal.command = clean;
        }
    }

    /// A pending proposal with its conversation's activation, for a human to review.
    ///
    /// # Errors
    /// `not_found` for an unknown or already decided proposal, or when YOLO
    /// mode is not active for its conversation.
    pub async fn yolo_pending_proposal(
        &self,
        id: &str,
    ) -> Result<(Proposal, Activation), ServiceError> {
        let proposal = self
            .store
            .proposal(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no proposal {id}")))?;
        if proposal.state != ProposalState::Pending {
            return Err(ServiceError::NotFound(format!(
                "proposal {id} is already {}",
                proposal.state.as_str()
            )));
        }
        if let Some(why) = &proposal.unreadable {
            return Err(ServiceError::Conflict(format!(
                "proposal {id}'s command does not open ({why}), so it cannot be shown for approval; deny it (`mcp-bridge yolo deny {id}`) and have the agent propose the command again"
            )));
        }
        // What the human approves must be exactly what runs, shown whole.
        if !self
            .redactor
            .get()
            .redact(&proposal.command)
            .counts
            .is_empty()
        {
            return Err(ServiceError::NotFound(format!(
                "proposal {id} holds what looks like a secret, so it cannot be shown for approval; deny it (`mcp-bridge yolo deny {id}`) and have the agent propose the command without the secret"
            )));
        }
        match self.store.activation(&proposal.conversation).await? {
            Some(a) if a.is_active(self.clock.now()) => Ok((proposal, a)),
            _ => Err(ServiceError::NotFound(format!(
                "YOLO mode is not active for {} (expired or revoked); the proposal cannot be approved",
                proposal.conversation
            ))),
        }
    }

    /// Approves a reviewed proposal and returns its single-use token.
    ///
    /// # Errors
    /// `conflict` when it was decided meanwhile.
    pub async fn yolo_approve(&self, proposal: &Proposal) -> Result<Approval, ServiceError> {
        self.yolo_approve_by(&Decider::CLI, proposal).await
    }

    /// [`Bridge::yolo_approve`] on behalf of `by`.
    pub(super) async fn yolo_approve_by(
        &self,
        by: &Decider<'_>,
        proposal: &Proposal,
    ) -> Result<Approval, ServiceError> {
        let at = self.clock.now();
        let mut draft = by.draft("yolo approve", Some(&proposal.conversation));
        by.detail(&mut draft, format!("proposal={}", proposal.id));
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw)
            .map_err(|e| ServiceError::Internal(crate::store::StoreError::Backend(Box::new(e))))?;
        let token = format!("apv_{}", hex::encode(raw));
        let expires_at = at.plus_micros(self.settings.yolo.approval_ttl_us);
        match self
            .store
            .approve_proposal(
                proposal.id.clone(),
                self.credential_digest(&token),
                expires_at,
                at,
                draft.clone(),
            )
            .await
        {
            Ok(()) => Ok(Approval { token, expires_at }),
            Err(crate::store::StoreError::Conflict(m)) => {
                Err(self.cli_failure(draft, ServiceError::Conflict(m)))
            }
            Err(e) => Err(self.cli_failure(draft, e.into())),
        }
    }

    /// Denies a pending proposal.
    ///
    /// # Errors
    /// `not_found` or `conflict` when it is unknown or already decided.
    pub async fn yolo_deny(&self, id: &str) -> Result<Proposal, ServiceError> {
        self.yolo_deny_by(&Decider::CLI, id).await
    }

    /// [`Bridge::yolo_deny`] on behalf of `by`.
    pub(super) async fn yolo_deny_by(
        &self,
        by: &Decider<'_>,
        id: &str,
    ) -> Result<Proposal, ServiceError> {
        let proposal = self
            .store
            .proposal(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no proposal {id}")))?;
        let mut draft = by.draft("yolo deny", Some(&proposal.conversation));
        by.detail(&mut draft, format!("proposal={id}"));
        match self
            .store
            .deny_proposal(id.to_owned(), self.clock.now(), draft.clone())
            .await
        {
            Ok(()) => {
                let mut proposal = proposal;
                self.redact_command(&mut proposal);
                Ok(proposal)
            }
            Err(crate::store::StoreError::Conflict(m)) => {
                Err(self.cli_failure(draft, ServiceError::Conflict(m)))
            }
            Err(e) => Err(self.cli_failure(draft, e.into())),
        }
    }

    /// Writes a snapshot's files back into its workspace.
    ///
    /// # Errors
    /// `not_found` for an unknown snapshot; git or sandbox failures.
    pub async fn yolo_restore(&self, id: &str) -> Result<Snapshot, ServiceError> {
        let snap = self
            .store
            .snapshot(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no snapshot {id}")))?;
        let mut draft = cli_draft("yolo restore", Some(&snap.conversation));
        draft.detail = Some(format!("snapshot={id}"));
        // Restoring runs git in the workspace, and so the repository's
        // filters, which an approved command may have set: in the sandbox, or
        // on the host only where the operator allows unsandboxed commands
        // anyway (it used to fall back to the host silently; red team).
        let hide = match self.hidden_paths().await {
            Ok(h) => h,
            Err(e) => return Err(self.cli_failure(draft, e)),
        };
        let sandbox = runner::find_bwrap().map(|bwrap| SandboxSettings {
            bwrap,
            writable_workspace: true,
            hide,
            extra_ro_binds: self.settings.yolo.extra_ro_binds.clone(),
        });
        if sandbox.is_none() && !self.settings.yolo.allow_unsandboxed {
            let e = ServiceError::SandboxUnavailable(
                "bubblewrap (bwrap) is not on PATH, and a restore runs git with the repository's own configuration, which an agent's command may have written; install bubblewrap (apt-get install bubblewrap) and restore again, or check .git/config and run `git restore --source=<commit> .` yourself".into(),
            );
            return Err(self.cli_failure(draft, e));
        }
        let budget = snapshot::Budget {
            limits: self.settings.yolo.limits,
            timeout: std::time::Duration::MAX,
        };
        let restored = snapshot::restore(
            &snap.workspace,
            &snap.snapshot.commit_id,
            sandbox.as_ref(),
            budget,
        );
        match restored.await {
            Ok(()) => {
                self.audit(draft);
                self.store.flush().await?;
                Ok(snap)
            }
            Err(e) => Err(self.cli_failure(draft, ServiceError::RestoreFailed(e.to_string()))),
        }
    }

    /// A fresh one-time confirmation code (shown to the human, retyped by them).
    ///
    /// # Errors
    /// When the OS random generator fails.
    pub fn yolo_confirmation_code(&self) -> Result<String, ServiceError> {
        let id = random_id("")?;
        Ok(id[..8].to_uppercase())
    }
}
