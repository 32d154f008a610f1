//! The rules of the bridge, independent of any transport: `Bridge<S: Store>`.
//!
//! Each tool call runs one pipeline: authenticate (HMAC, then the conversation
//! and its expiry) → size → redact → store, where the store applies the rate
//! limit and appends the audit record in the same transaction. Refusals decided
//! here (bad token, expired, too large) are audited here. The MCP layer and the
//! management CLI both call this layer; neither touches the store directly.

mod admin;
mod conversation;
mod delivery;
mod error;
mod oversight;
mod redaction;
mod yolo;

use std::collections::HashMap;
use std::sync::Arc;

pub use admin::{
    ChainFault, ChainReport, EXPORT_FORMAT, EXPORT_VERSION, Export, ExportFileError, Imported,
    Layout, Listing, RevealedTokens, Shown, validate_export, write_export,
};
pub use conversation::{
    Created, PartnerStatus, SendToPartner, Sent, SessionCredentials, StatusUpdated, UpdateStatus,
};
pub use delivery::{CheckMessages, Inbox, LEASE};
pub use error::ServiceError;
pub use oversight::Approval;
pub use redaction::SharedRedactor;
pub use yolo::{CommandRun, EnableYolo, ExecuteCommand, Execution, RunPlan, YoloSettings};

use crate::audit::{AuditDraft, Outcome};
use crate::auth::ServerKey;
use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::{Limits, Quota};
use crate::store::{Conversation, Guard, Store};

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
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            conversations_per_hour: 1_000,
            max_pending_messages: 10_000,
            max_long_polls: 64,
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
}

/// Expiry times of conversations this process has seen, so that checking a
/// token does not read the database. Existence and expiry never change for a
/// live conversation; one deleted by `cleanup` had expired already, and writes
/// to a deleted conversation fail in the store anyway.
#[derive(Default)]
struct ExpiryCache {
    map: std::sync::Mutex<HashMap<ConversationId, Timestamp>>,
}

impl ExpiryCache {
    /// Entries kept before the cache starts afresh (a few hundred KiB at most).
    const CAPACITY: usize = 4096;

    fn get(&self, id: &ConversationId) -> Option<Timestamp> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    fn insert(&self, conversation: &Conversation) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(conversation.id.clone(), conversation.expires_at);
    }
}

/// The bridge's rules over a store.
pub struct Bridge<S: Store> {
    expiries: ExpiryCache,
    /// Long-polls waiting in this process right now.
    long_polls: std::sync::atomic::AtomicU32,
    store: S,
    key: ServerKey,
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
            expiries: ExpiryCache::default(),
            long_polls: std::sync::atomic::AtomicU32::new(0),
            store,
            key,
            redactor,
            settings,
            clock,
        }
    }

    /// The store (for management commands built on the same layer).
    pub fn store(&self) -> &S {
        &self.store
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
    pub async fn record_rejected_call(
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
        self.audit(draft).await;
    }

    /// Appends an audit record on its own. Failing to audit a refusal must not
    /// turn the refusal into a different answer, so the failure is only logged.
    async fn audit(&self, draft: AuditDraft) {
        if let Err(e) = self.store.append_audit(self.clock.now(), draft).await {
            tracing::error!(error = %e, "cannot append to the audit trail");
        }
    }

    /// Audits `err` for `draft`'s call and hands it back.
    async fn refuse(&self, draft: AuditDraft, err: ServiceError) -> ServiceError {
        if let ServiceError::Internal(cause) = &err {
            tracing::error!(error = %cause, action = %draft.action, "internal error");
        }
        // Quota refusals were audited by the store in the refused transaction.
        if !matches!(err, ServiceError::RateLimited { .. }) {
            self.audit(draft.failed(err.outcome(), err.code())).await;
        }
        err
    }

    /// Checks a session's credentials: the token first (no store access), then
    /// that the conversation exists and has not expired.
    async fn authorize(
        &self,
        creds: &SessionCredentials,
        draft: &AuditDraft,
        at: Timestamp,
    ) -> Result<(), ServiceError> {
        if !self
            .key
            .verify(&creds.conversation, creds.side, &creds.token)
        {
            return Err(self.refuse(draft.clone(), ServiceError::AuthFailed).await);
        }
        let expires_at = match self.expiries.get(&creds.conversation) {
            Some(t) => t,
            None => match self.store.conversation(&creds.conversation).await {
                Ok(Some(c)) => {
                    self.expiries.insert(&c);
                    c.expires_at
                }
                Ok(None) => return Err(self.refuse(draft.clone(), ServiceError::AuthFailed).await),
                Err(e) => return Err(self.refuse(draft.clone(), e.into()).await),
            },
        };
        if at >= expires_at {
            let err = ServiceError::ConversationExpired {
                expired_at: expires_at,
            };
            return Err(self.refuse(draft.clone(), err).await);
        }
        Ok(())
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

/// A session's audit draft for `tool`.
fn session_draft(tool: &'static str, creds: &SessionCredentials) -> AuditDraft {
    AuditDraft::new("mcp", tool).on(Some(creds.conversation.as_str()), Some(creds.side.as_str()))
}
