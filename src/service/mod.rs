//! The rules of the bridge, independent of any transport: `Bridge<S: Store>`.
//!
//! Each tool call runs one pipeline: authenticate (HMAC, then the conversation
//! and its expiry) → size → redact → store, where the store applies the rate
//! limit and appends the audit record in the same transaction. Refusals decided
//! here (bad token, expired, too large) are audited here. The MCP layer and the
//! management CLI both call this layer; neither touches the store directly.

mod addressing;
mod admin;
mod console;
mod conversation;
mod delivery;
mod error;
mod full_quota;
mod http_token;
mod inbox;
mod invite;
mod keys;
mod lease;
mod local_quota;
mod mcp_session;
mod merge;
mod oversight;
mod own_tokens;
mod park;
mod plain_check;
mod quota_scope;
mod redaction;
mod session;
mod storage_budget;
mod team;
mod yolo;

use std::sync::Arc;

pub use addressing::Addressing;
pub use admin::{
    ChainFault, ChainReport, EXPORT_FORMAT, EXPORT_VERSION, Ended, Export, ExportFileError,
    Imported, Layout, Listing, MergeLimits, RevealedTokens, SEALED_FORMAT, Shown, is_sealed,
    validate_export, validate_sealed_export, write_export,
};
pub use console::{
    CONFIRM_PHRASE, CONSOLE_TOKEN_PREFIX, ConsoleUser, LiveSession, SESSION_TTL, SignedIn,
    random_secret, valid_token_name,
};
pub use conversation::{
    Created, PartnerStatus, SendToPartner, Sent, SessionCredentials, StatusUpdated, UpdateStatus,
};
pub use delivery::{CheckMessages, Delivered, Inbox};
pub use error::ServiceError;
pub use http_token::{HTTP_TOKEN_PREFIX, HttpIdentity, parse_token_name, token_matches};
pub use inbox::{UnreadMessage, UnreadSummary, summaries_json};
pub use invite::{Invited, JoinedSession};
pub use keys::{RESEAL_BATCH, Rotation, RotationProgress};
pub use lease::LEASE;
pub use mcp_session::{MAX_STORED_INIT_PARAMS, SharedSession, mcp_session_digest};
pub use oversight::Approval;
pub use own_tokens::redact_token_shapes;
pub use park::Parked;
pub use quota_scope::with_quota_scope;
pub use redaction::SharedRedactor;
pub use session::{ClientProcess, CredentialArgs, Scope, Session, resolve};
pub use team::{MyConversation, ParticipantView, Removed, SessionState, TeamSettings};
pub use yolo::{CommandRun, EnableYolo, ExecuteCommand, Execution, RunPlan, YoloSettings};

use crate::audit::{AuditDraft, AuditKey, Outcome};
use crate::auth::ServerKey;
use crate::domain::{ConversationId, ParticipantKind, Side, Timestamp};
use crate::ratelimit::{Limits, Quota};
use crate::store::{Conversation, Guard, Pending, Store};

/// Where "now" comes from; tests substitute their own.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Per-tool rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// `send_to_partner`.
    pub send_to_partner: Limits,
    /// `check_messages`.
    pub check_messages: Limits,
    /// `update_my_status`.
    pub update_my_status: Limits,
    /// `check_partner_status`.
    pub check_partner_status: Limits,
    /// Calls made without a valid token — `create_conversation` and every
    /// failed authentication — counted per server process (one process
    /// serves one client), so one client cannot spend the database-wide
    /// conversation quota alone.
    pub unauthenticated: Limits,
    /// Failed `join_conversation` calls, counted across all processes.
    pub join_conversation: Limits,
    /// Commands proposed with `execute_command` (stored for a human to
    /// decide; dry runs and approved runs do not count).
    pub execute_command: Limits,
    /// Invites created by one session (each stays stored until its
    /// conversation is cleaned up).
    pub create_invite: Limits,
    /// `list_my_conversations` and reads of the `bridge://inbox` resource,
    /// which need no valid session, counted per client like
    /// [`Self::unauthenticated`]: each is an audit record.
    pub overview: Limits,
}

/// Bounds that keep one database and one process from being overwhelmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Conversations the database accepts per hour (all processes together).
    pub conversations_per_hour: u32,
    /// Unread messages a recipient may have waiting in one conversation.
    pub max_pending_messages: u32,
    /// Long-polls one server process keeps waiting at once.
    pub max_long_polls: u32,
    /// MiB the database may hold before calls that store agent content are
    /// refused (see `storage_budget`).
    pub max_database_mb: u32,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            conversations_per_hour: 1_000,
            max_pending_messages: 10_000,
            max_long_polls: 64,
            // Generous: the audit trail counts too and, kept forever by
            // default, grows with every call (see `storage_budget`).
            max_database_mb: 10_240,
        }
    }
}

/// The validated settings the service needs.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    /// Lifetime of a conversation, in microseconds.
    pub conversation_ttl_us: i64,
    /// A partner is alive if its last heartbeat is at most this old.
    pub heartbeat_timeout_s: u64,
    /// Rate limits, or `None` when turned off.
    pub rate_limits: Option<ToolLimits>,
    /// Command execution.
    pub yolo: YoloSettings,
    /// Resource bounds.
    pub limits: ResourceLimits,
    /// Audit records older than this (µs) are pruned by `cleanup`; `None`
    /// keeps them forever.
    pub audit_retention_us: Option<i64>,
    /// Conversations of more than two participants.
    pub teams: TeamSettings,
}

/// An authenticated caller: the conversation as read for this call and the
/// caller's own seat in it.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The conversation, with every participant.
    pub conversation: Conversation,
    /// The caller's session id.
    pub side: Side,
    /// What the caller may do.
    pub kind: ParticipantKind,
}

/// The bridge's rules over a store.
pub struct Bridge<S: Store> {
    /// Failed joins in this process, for the per-process guessing limit.
    join_failures: invite::FailureWindow,
    /// Long-polls waiting in this process right now.
    long_polls: std::sync::atomic::AtomicU32,
    /// Unauthenticated calls per client (see [`ToolLimits::unauthenticated`]).
    unauthenticated: local_quota::LocalQuota,
    /// Overview reads per client (see [`ToolLimits::overview`]).
    overview: local_quota::LocalQuota,
    /// Sessions whose send quota was found full here, until it reopens.
    full_sends: full_quota::FullQuotas,
    /// `limits.max_database_mb` and this process's last reading of the size.
    storage: storage_budget::StorageBudget,
    store: S,
    key: ServerKey,
    /// The audit chain's key, for verifying it and for digests of client text.
    audit_key: AuditKey,
    redactor: Arc<SharedRedactor>,
    settings: BridgeSettings,
    clock: Arc<dyn Clock>,
}

impl<S: Store> Bridge<S> {
    /// Assembles a bridge.
    pub fn new(
        store: S,
        key: ServerKey,
        redactor: Arc<SharedRedactor>,
        settings: BridgeSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            join_failures: invite::FailureWindow::default(),
            long_polls: std::sync::atomic::AtomicU32::new(0),
            unauthenticated: local_quota::LocalQuota::default(),
            overview: local_quota::LocalQuota::default(),
            full_sends: full_quota::FullQuotas::default(),
            storage: storage_budget::StorageBudget::new(settings.limits.max_database_mb),
            store,
            audit_key: AuditKey::derive(&key),
            key,
            redactor,
            settings,
            clock,
        }
    }

    /// How a console token, console session id or YOLO approval token is
    /// stored and looked up: hex of `AuditKey::credential_hash`.
    pub fn credential_digest(&self, secret: &str) -> String {
        hex::encode(self.audit_key.credential_hash(secret))
    }

    /// The store (for management commands built on the same layer).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// How long a new conversation and a new invite code live, in
    /// microseconds (the tools' descriptions name them).
    pub fn lifetimes_us(&self) -> (i64, i64) {
        (
            self.settings.conversation_ttl_us,
            self.settings.teams.invite_ttl_us,
        )
    }

    /// Whether this server offers command execution.
    pub fn yolo_enabled(&self) -> bool {
        self.settings.yolo.enabled
    }

    /// The redaction engine.
    pub fn redactor(&self) -> &SharedRedactor {
        &self.redactor
    }

    /// Records a call that was refused before it reached the service, e.g. for
    /// arguments that do not fit the schema. Ids are recorded only when they are
    /// well-formed, so the audit trail never stores arbitrary client text.
    pub fn record_rejected_call(
        &self,
        action: &str,
        conversation: Option<&str>,
        side: Option<&str>,
        code: &str,
    ) {
        let conversation = conversation.and_then(|c| ConversationId::parse(c).ok());
        let side = side.and_then(|s| Side::parse(s).ok());
        let draft = AuditDraft::new("mcp", action)
            .on(
                conversation.as_ref().map(ConversationId::as_str),
                side.map(Side::as_str),
            )
            .failed(Outcome::Error, code);
        self.audit(draft);
    }

    /// Appends an audit record on its own, through the store's batch (a
    /// failure to write it is logged there, and never turns a refusal into
    /// a different answer).
    fn audit(&self, draft: AuditDraft) {
        self.store.append_audit(self.clock.now(), draft);
    }

    /// Audits `err` for `draft`'s call and hands it back. The record goes
    /// through the store's batching, where repeats of a refusal are folded
    /// into one record with a count.
    fn refuse(&self, draft: AuditDraft, err: ServiceError) -> ServiceError {
        match &err {
            ServiceError::Internal(cause) => {
                tracing::error!(error = %crate::store::error_chain(cause), action = %draft.action, "internal error");
            }
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %crate::store::error_chain(cause), action = %draft.action, "database unreachable");
            }
            _ => {}
        }
        self.audit(draft.failed(err.outcome(), err.code()));
        err
    }

    /// Refuses a call whose credentials failed: `auth_failed`, or
    /// `rate_limited` once this process has used up its unauthenticated quota.
    fn refuse_credentials(&self, draft: &AuditDraft, at: Timestamp) -> ServiceError {
        let err = match self.spend_unauthenticated(at) {
            Ok(()) => ServiceError::AuthFailed,
            Err(limited) => limited,
        };
        self.refuse(draft.clone(), err)
    }

    /// Refuses a call whose token is not `creds`' session's (no store access).
    fn verify_token(
        &self,
        creds: &SessionCredentials,
        draft: &AuditDraft,
        at: Timestamp,
    ) -> Result<(), ServiceError> {
        if self
            .key
            .verify(&creds.conversation, creds.side, &creds.token)
        {
            Ok(())
        } else {
            Err(self.refuse_credentials(draft, at))
        }
    }

    /// Refuses a call its conversation does not admit ([`admitted`]).
    fn deny(&self, draft: &AuditDraft, at: Timestamp, denied: Denied) -> ServiceError {
        match denied {
            Denied::Credentials => self.refuse_credentials(draft, at),
            Denied::Refused(err) => self.refuse(draft.clone(), err),
        }
    }

    /// Checks a session's credentials: the token first (no store access), then
    /// that the conversation exists and has not expired, and that the caller
    /// is still one of its participants (a removed participant's token stops
    /// working at once, in every process).
    async fn authorize(
        &self,
        creds: &SessionCredentials,
        draft: &AuditDraft,
        at: Timestamp,
    ) -> Result<Caller, ServiceError> {
        let (caller, _) = self.admit(creds, draft, at, false).await?;
        Ok(caller)
    }

    /// [`Self::authorize`], reading in the same go, when `peek`, what the
    /// session's inbox holds at `at` ([`Store::conversation_and_pending`]).
    async fn admit(
        &self,
        creds: &SessionCredentials,
        draft: &AuditDraft,
        at: Timestamp,
        peek: bool,
    ) -> Result<(Caller, Option<Pending>), ServiceError> {
        self.verify_token(creds, draft, at)?;
        let found = if peek {
            self.store
                .conversation_and_pending(&creds.conversation, creds.side, at)
                .await
                .map(|(c, p)| (c, Some(p)))
        } else {
            self.store
                .conversation(&creds.conversation)
                .await
                .map(|c| (c, None))
        };
        let (conversation, pending) = match found {
            Ok((Some(c), pending)) => (c, pending),
            Ok((None, _)) => return Err(self.refuse_credentials(draft, at)),
            Err(e) => return Err(self.refuse(draft.clone(), e.into())),
        };
        let kind = match admitted(&conversation, creds.side, at) {
            Ok(kind) => kind,
            Err(e) => return Err(self.refuse(draft.clone(), e)),
        };
        let caller = Caller {
            conversation,
            side: creds.side,
            kind,
        };
        Ok((caller, pending))
    }

    /// Why `side` may no longer wait in `conversation` at `at`: removed, or
    /// the conversation expired or was ended (`mcp-bridge end`), as
    /// [`admitted`] rules; `None` while it may, or when the store cannot
    /// say (the wait goes on and looks again).
    async fn no_longer_admitted(
        &self,
        conversation: &ConversationId,
        side: Side,
        at: Timestamp,
    ) -> Option<ServiceError> {
        match self.store.conversation(conversation).await {
            Ok(Some(c)) => admitted(&c, side, at).err(),
            Ok(None) => Some(ServiceError::AuthFailed),
            Err(_) => None,
        }
    }

    /// The guard for a session's call to `tool`.
    fn guard(
        &self,
        creds: &SessionCredentials,
        tool: &'static str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Guard {
        let quota = self.settings.rate_limits.map(|l| Quota {
            class: tool,
            limits: match tool {
                "send_to_partner" => l.send_to_partner,
                "check_messages" => l.check_messages,
                "update_my_status" => l.update_my_status,
                "join_conversation" => l.join_conversation,
                "execute_command" => l.execute_command,
                "create_invite" => l.create_invite,
                _ => l.check_partner_status,
            },
        });
        Guard {
            at,
            session: Some((creds.conversation.clone(), creds.side)),
            quota,
            audit,
        }
    }
}

/// Why a conversation, as a call's own transaction read it, refuses the call
/// (a send, a plain check, a status check, a heartbeat).
enum Denied {
    /// No such conversation: refused like a wrong token.
    Credentials,
    /// Any other rule: expired, not an active participant, or, for a send, an
    /// observer or a recipient that is nobody.
    Refused(ServiceError),
}

/// The rule a store runs on the conversation its transaction reads, for a
/// call by `side` at `at` that needs only to be admitted ([`admitted`]).
fn admission(
    side: Side,
    at: Timestamp,
) -> impl Fn(Option<&Conversation>) -> Result<(), Denied> + Send + Sync + 'static {
    move |found| {
        let conversation = found.ok_or(Denied::Credentials)?;
        admitted(conversation, side, at)
            .map(drop)
            .map_err(Denied::Refused)
    }
}

/// The kind of participant `side` is in `conversation` if it may act there
/// at `at`: the conversation has not expired and `side` is an active
/// participant (a removed participant's token stops working at once, in
/// every process). Pure, so a send can run it on the conversation its own
/// transaction reads ([`Store::send_message`]).
fn admitted(
    conversation: &Conversation,
    side: Side,
    at: Timestamp,
) -> Result<ParticipantKind, ServiceError> {
    if at >= conversation.expires_at {
        return Err(ServiceError::ConversationExpired {
            expired_at: conversation.expires_at,
        });
    }
    conversation
        .active_participant(side)
        .map(|p| p.kind)
        .ok_or(ServiceError::AuthFailed)
}

/// A session's audit draft for `tool`.
fn session_draft(tool: &'static str, creds: &SessionCredentials) -> AuditDraft {
    AuditDraft::new("mcp", tool).on(Some(creds.conversation.as_str()), Some(creds.side.as_str()))
}
