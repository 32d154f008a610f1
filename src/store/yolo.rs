//! Persistence of YOLO mode: activations, command proposals with their
//! approvals, and working-tree snapshots. Shared by every server process and
//! the `mcp-bridge yolo` commands, so a human's decision in a terminal is seen
//! by both agents' servers at once.

use std::future::Future;
use std::path::PathBuf;

use super::{Guard, NewMessage, Store, StoreError};
use crate::audit::AuditDraft;
use crate::domain::{ConversationId, Side, Timestamp, YoloMode};

/// Most proposals of one conversation that wait for a human's decision at
/// once; a longer queue only hides a bad command among harmless ones.
pub const MAX_PENDING_PROPOSALS: u32 = 16;

/// Where an activation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationState {
    /// Asked for by an agent; a human has not confirmed it.
    Pending,
    /// Confirmed by a human; valid until its expiry.
    Active,
    /// Ended by a human.
    Revoked,
}

impl ActivationState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActivationState::Pending => "pending",
            ActivationState::Active => "active",
            ActivationState::Revoked => "revoked",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(ActivationState::Pending),
            "active" => Some(ActivationState::Active),
            "revoked" => Some(ActivationState::Revoked),
            _ => None,
        }
    }
}

/// An agent's request to turn YOLO mode on for a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRequest {
    /// The conversation.
    pub conversation: ConversationId,
    /// Which side asked.
    pub requested_by: Side,
    /// How much commands may do.
    pub mode: YoloMode,
    /// The canonical workspace directory.
    pub workspace: PathBuf,
    /// Per-command timeout.
    pub timeout_s: u32,
    /// Whether commands run in the sandbox.
    pub sandbox: bool,
    /// When it was asked for.
    pub requested_at: Timestamp,
}

/// A stored activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// What was asked for.
    pub request: ActivationRequest,
    /// Where it stands.
    pub state: ActivationState,
    /// When a human confirmed it.
    pub confirmed_at: Option<Timestamp>,
    /// When it stops (set on confirmation).
    pub expires_at: Option<Timestamp>,
}

impl Activation {
    /// Whether commands may run under it at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.state == ActivationState::Active && self.expires_at.is_some_and(|e| at < e)
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalState {
    /// Waiting for a human.
    Pending,
    /// Approved; its token can be redeemed once.
    Approved,
    /// Rejected by a human.
    Denied,
    /// Its approval was redeemed and the command ran.
    Used,
}

impl ProposalState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProposalState::Pending => "pending",
            ProposalState::Approved => "approved",
            ProposalState::Denied => "denied",
            ProposalState::Used => "used",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(ProposalState::Pending),
            "approved" => Some(ProposalState::Approved),
            "denied" => Some(ProposalState::Denied),
            "used" => Some(ProposalState::Used),
            _ => None,
        }
    }

    /// The SQL condition on `state` of the proposals a human may move to
    /// `to`: only a pending one may be approved; a denial also withdraws an
    /// approval not yet used, so its token stops working.
    pub const fn decidable_from(to: Self) -> &'static str {
        match to {
            ProposalState::Denied => "state IN ('pending', 'approved')",
            _ => "state = 'pending'",
        }
    }
}

/// A command waiting for (or past) a human's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// `prop_` + 16 hex digits.
    pub id: String,
    /// Its conversation.
    pub conversation: ConversationId,
    /// The side that proposed it.
    pub side: Side,
    /// The exact command text.
    pub command: String,
    /// The mode it was checked under.
    pub mode: YoloMode,
    /// When it was proposed.
    pub created_at: Timestamp,
    /// Where it stands.
    pub state: ProposalState,
    /// When a human decided.
    pub decided_at: Option<Timestamp>,
    /// Until when its approval token is valid.
    pub approval_expires_at: Option<Timestamp>,
    /// When the approval was redeemed.
    pub used_at: Option<Timestamp>,
    /// Why the stored command text does not open (sealed under another key
    /// file, altered): `command` is then empty. Listings and the lookup by
    /// id go on past such a row, so a human can still see and deny it; the
    /// service refuses to approve it, and redeeming a token reads the row
    /// strictly, so it never runs.
    pub unreadable: Option<String>,
}

/// Why an approval token could not be redeemed (nothing was changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// No approval has this token.
    Unknown,
    /// The approval belongs to another conversation.
    OtherConversation,
    /// The approval is for a different command text.
    OtherCommand,
    /// The approval has expired.
    Expired,
    /// The approval was redeemed already.
    AlreadyUsed,
    /// The approval is for a command another session proposed.
    OtherSide,
    /// The approval was withdrawn before it was redeemed: the human denied
    /// it, revoked YOLO mode, or the conversation ended.
    Withdrawn,
}

impl Redemption {
    /// Judges the approval found for a token (if any) against the command
    /// about to run, in the order the refusals are reported: every backend
    /// applies this inside its redeeming transaction, then marks the
    /// proposal used only if it is still approved at that moment.
    ///
    /// `side` is the redeeming session's (the guard's): a human approved a
    /// command that side proposed, so only that side may run it.
    pub fn judge(
        found: Option<&Proposal>,
        conversation: &ConversationId,
        side: Option<Side>,
        command: &str,
        at: Timestamp,
    ) -> Result<(), Redemption> {
        match found {
            None => Err(Redemption::Unknown),
            Some(p) if p.conversation != *conversation => Err(Redemption::OtherConversation),
            Some(p) if p.state == ProposalState::Used => Err(Redemption::AlreadyUsed),
            Some(p) if p.state == ProposalState::Denied && p.approval_expires_at.is_some() => {
                Err(Redemption::Withdrawn)
            }
            Some(p) if p.state != ProposalState::Approved => Err(Redemption::Unknown),
            Some(p) if side.is_some_and(|s| s != p.side) => Err(Redemption::OtherSide),
            Some(p) if p.command != command => Err(Redemption::OtherCommand),
            Some(p) if p.approval_expires_at.is_none_or(|e| at >= e) => Err(Redemption::Expired),
            Some(_) => Ok(()),
        }
    }

    /// The code the audit trail records for this refusal.
    pub const fn code(self) -> &'static str {
        match self {
            Redemption::Expired => "approval_expired",
            Redemption::AlreadyUsed => "approval_used",
            _ => "approval_invalid",
        }
    }
}

/// Why a proposal was not stored: its conversation's YOLO mode ended
/// between the call's check and the proposal's transaction.
pub const REVOKED_MEANWHILE: &str = "YOLO mode was revoked or expired meanwhile; nothing was proposed: ask for it again with enable_yolo_mode";

/// A snapshot to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSnapshot {
    /// `snap_` + 16 hex digits.
    pub id: String,
    /// The proposal whose run it precedes.
    pub proposal_id: String,
    /// The git ref holding it (`refs/mcp-bridge/snapshots/…`).
    pub git_ref: String,
    /// The commit it points to.
    pub commit_id: String,
}

/// A recorded snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// What was recorded.
    pub snapshot: NewSnapshot,
    /// Its conversation.
    pub conversation: ConversationId,
    /// The workspace it was taken of.
    pub workspace: PathBuf,
    /// When.
    pub created_at: Timestamp,
}

/// YOLO persistence. Each method is atomic across processes.
pub trait YoloStore: Store {
    /// Records (or replaces) a pending activation for the request's conversation;
    /// the conversation's pending and approved proposals are denied, as on revoke.
    fn request_activation(
        &self,
        request: ActivationRequest,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The conversation's activation, if any.
    fn activation(
        &self,
        conversation: &ConversationId,
    ) -> impl Future<Output = Result<Option<Activation>, StoreError>> + Send;

    /// Every activation, newest request first.
    fn activations(&self) -> impl Future<Output = Result<Vec<Activation>, StoreError>> + Send;

    /// Makes the pending activation requested at `requested_at` active until
    /// `expires_at`; [`StoreError::Conflict`] if it changed meanwhile.
    fn confirm_activation(
        &self,
        conversation: ConversationId,
        requested_at: Timestamp,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Revokes the conversation's activation and denies its pending proposals;
    /// [`StoreError::NotFound`] if there was none.
    fn revoke_activation(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new pending proposal, spending the guard's quota; refused
    /// with [`StoreError::LimitReached`] when its conversation already has
    /// [`MAX_PENDING_PROPOSALS`] undecided ones, and with
    /// [`StoreError::Conflict`] ([`REVOKED_MEANWHILE`]) when the
    /// conversation's activation is not active any more.
    fn create_proposal(
        &self,
        proposal: Proposal,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A proposal by id; a command that does not open is marked
    /// ([`Proposal::unreadable`]), not an error.
    fn proposal(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Proposal>, StoreError>> + Send;

    /// Proposals, newest first, of one conversation or all.
    fn proposals(
        &self,
        conversation: Option<ConversationId>,
    ) -> impl Future<Output = Result<Vec<Proposal>, StoreError>> + Send;

    /// Approves a pending proposal, binding the SHA-256 of a fresh token to it;
    /// [`StoreError::Conflict`] if it is no longer pending.
    fn approve_proposal(
        &self,
        id: String,
        token_hash: String,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Denies a pending proposal; [`StoreError::Conflict`] if it is no longer pending.
    fn deny_proposal(
        &self,
        id: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Redeems an approval token for exactly `command` in `conversation`: marks
    /// the proposal used and returns it, or says why not (auditing the refusal).
    /// Two processes racing with one token: exactly one succeeds.
    fn redeem_approval(
        &self,
        conversation: ConversationId,
        command: String,
        token_hash: String,
        guard: Guard,
    ) -> impl Future<Output = Result<Result<Proposal, Redemption>, StoreError>> + Send;

    /// Records a command's outcome: the result message to the partner, the
    /// snapshot taken before it (if any) and the audit record. Returns the message id.
    fn record_run(
        &self,
        result: NewMessage,
        snapshot: Option<(NewSnapshot, PathBuf)>,
        guard: Guard,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// A snapshot by id.
    fn snapshot(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// Records `paths` (raw bytes of absolute paths) as kept from commands
    /// by a server of `host`, so that every server of that host keeps them
    /// too; a path already recorded has its time refreshed.
    fn keep_hidden(
        &self,
        host: String,
        paths: Vec<Vec<u8>>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every path some server of `host` keeps from commands.
    fn hidden_paths(
        &self,
        host: String,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StoreError>> + Send;
}
