//! Persistence behind one async trait, so SQLite now and PostgreSQL later are
//! interchangeable. Domain types go in and out; no driver type leaves a backend.
//!
//! Every mutating method is one transaction that also appends its audit record
//! (and, when asked, checks and spends a rate-limit quota), so an action, its
//! quota and its audit entry commit together or not at all — with one commit
//! per tool call, which is also what keeps calls cheap. What is allowed is
//! decided by the service layer and the pure `ratelimit`/`audit` modules; the
//! store only applies those decisions atomically.

mod admin;
mod signal;
pub mod sqlite;
mod yolo;

use std::future::Future;

pub use admin::{
    AdminStore, AuditFor, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, CopyProgress, CopyReport, FileCheck, ImportReport, MessageRecord,
    RemovedConversation, UnreadableRecord,
};
pub use signal::ChangeFeed;
pub use yolo::{
    Activation, ActivationRequest, ActivationState, NewSnapshot, Proposal, ProposalState,
    Redemption, Snapshot, YoloStore,
};

use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ActionType, ConversationId, Message, Role, Sender, Side, Status, Timestamp};
use crate::ratelimit::{self, Quota};

/// What can go wrong in a backend, by meaning.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The conversation (or other row) does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (e.g. the same id twice).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database stayed locked by other processes past the busy timeout.
    #[error("the database is busy; try again")]
    Busy,
    /// A rate-limit window is full; nothing was done.
    #[error("rate limit reached for the {} window", .0.window.as_str())]
    QuotaExceeded(ratelimit::Refusal),
    /// A resource bound was reached; nothing was done.
    #[error("limit reached: {what} (limit {limit})")]
    LimitReached {
        /// Which bound, in words.
        what: &'static str,
        /// Its value.
        limit: u32,
    },
    /// The database was written by a newer mcp-bridge.
    #[error(
        "the database has schema version {found}, newer than the {supported} this mcp-bridge supports; upgrade mcp-bridge"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// Stored data does not decode (hand-edited or corrupt database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Anything else from the backend.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The code the audit trail records for a quota refusal.
pub const RATE_LIMITED_CODE: &str = "rate_limited";

/// A new conversation with its two participants.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// Its id.
    pub id: ConversationId,
    /// Role of side `a` (the creator).
    pub role_a: Role,
    /// Role of side `b`.
    pub role_b: Role,
    /// Creation time.
    pub created_at: Timestamp,
    /// When it stops accepting calls.
    pub expires_at: Timestamp,
}

/// A participant's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    /// The status.
    pub status: Status,
    /// The redacted note, if any.
    pub note: Option<String>,
    /// When it was set.
    pub updated_at: Timestamp,
}

/// One side of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Which side.
    pub side: Side,
    /// Its role.
    pub role: String,
    /// Its last heartbeat, if it ever sent one.
    pub status: Option<StatusRecord>,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// Its participants, side `a` first.
    pub participants: Vec<Participant>,
}

impl Conversation {
    /// The participant on `side`.
    pub fn participant(&self, side: Side) -> Option<&Participant> {
        self.participants.iter().find(|p| p.side == side)
    }
}

/// A message to store (already redacted).
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Its conversation.
    pub conversation: ConversationId,
    /// Its writer.
    pub from: Sender,
    /// What it is for.
    pub action_type: ActionType,
    /// Redacted text.
    pub content: String,
    /// Redacted paths.
    pub files_involved: Vec<String>,
    /// When it was sent.
    pub created_at: Timestamp,
    /// Only this side receives it; `None` means every participant but the sender.
    pub to: Option<Side>,
}

/// What every mutating call carries: the time, the session it acts for, an
/// optional quota to check and spend, and the audit record to append.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The time of the call (also the audit timestamp).
    pub at: Timestamp,
    /// The session whose quota is spent.
    pub session: Option<(ConversationId, Side)>,
    /// The quota to enforce, if rate limits are on.
    pub quota: Option<Quota>,
    /// The record to append when the call is done (or refused by the quota).
    pub audit: AuditDraft,
}

/// How much one inbox check may take: a count and a size, so that a page of
/// large messages stays a reply of bounded size. At least one message is
/// always taken when one is available, whatever its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// Most messages.
    pub count: u32,
    /// Most bytes of text and paths together.
    pub bytes: usize,
}

/// A lease on the messages of one take: they stay queued, invisible to
/// other readers of the same inbox, until [`Store::acknowledge`] removes them
/// or `until` passes (the reader died before its reply was written), when
/// they are handed out again, with the same ids, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Random per take, so an acknowledgement removes exactly its own rows.
    pub id: i64,
    /// When an unacknowledged lease lapses.
    pub until: Timestamp,
}

/// Proof that a page was handed out under a lease, for [`Store::acknowledge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The conversation.
    pub conversation: ConversationId,
    /// The reader.
    pub recipient: Side,
    /// The lease.
    pub lease_id: i64,
    /// First message id of the page.
    pub first: i64,
    /// Last message id of the page.
    pub last: i64,
}

/// What an inbox holds for its reader right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Nothing queued.
    Nothing,
    /// Messages ready to take.
    Ready,
    /// The oldest queued message is leased to another reader until then;
    /// nothing after it may be delivered before it (order per recipient).
    LeasedUntil(Timestamp),
}

/// A page of messages taken from an inbox.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Messages in send order.
    pub messages: Vec<Message>,
    /// Whether more were waiting beyond this page.
    pub more: bool,
    /// When the page was taken under a lease: what acknowledges it.
    pub receipt: Option<Receipt>,
}

/// Persistence for the bridge. Implementations must make each mutating method
/// atomic across every process sharing the store.
pub trait Store: Send + Sync + 'static {
    /// Looks a conversation up, with its participants and their status.
    fn conversation(
        &self,
        id: &ConversationId,
    ) -> impl Future<Output = Result<Option<Conversation>, StoreError>> + Send;

    /// Stores a new conversation, unless `max_per_hour` conversations were
    /// created in the last hour ([`StoreError::LimitReached`]).
    fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a message and queues it for every other participant; returns its
    /// id. Refused with [`StoreError::LimitReached`] when a recipient already
    /// has `max_pending` unread messages.
    fn send_message(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Takes up to `limit` undelivered messages of `recipient`, oldest first,
    /// stopping before the first one leased to another reader. Without a
    /// `lease` they are removed from the inbox at once; with one they are
    /// leased (see [`Lease`]) and the page carries the [`Receipt`] that
    /// removes them. When the page is empty and `final_attempt` is false,
    /// nothing is written at all (no audit, no quota): the caller is
    /// long-polling and will try again.
    fn take_messages(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        final_attempt: bool,
        guard: Guard,
    ) -> impl Future<Output = Result<Option<Page>, StoreError>> + Send;

    /// Removes the messages of a leased page from the inbox: its reply has
    /// been written. Rows whose lease has since passed to another reader are
    /// left alone. Wakes waiting readers of the same inbox.
    fn acknowledge(&self, receipt: Receipt) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What `recipient` has queued at `now`. Read-only.
    fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> impl Future<Output = Result<Pending, StoreError>> + Send;

    /// Spends one call of quota without doing anything else (start of a long-poll).
    /// The guard's audit record is appended only if the quota is refused.
    fn spend_quota(&self, guard: Guard) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets `side`'s heartbeat.
    fn set_status(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a conversation for a status check and records the call.
    fn observe_conversation(
        &self,
        conversation: ConversationId,
        guard: Guard,
    ) -> impl Future<Output = Result<Conversation, StoreError>> + Send;

    /// Appends an audit record on its own (refusals decided before any store
    /// work). It may be batched with other records and land a moment later;
    /// [`Store::flush`] forces it out.
    fn append_audit(
        &self,
        at: Timestamp,
        draft: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Audit records, oldest first, from `after_seq` on, at most `limit`.
    fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// Appends every audit record still held back for batching.
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A feed that wakes whenever a message may have been stored by any process.
    fn changes(&self) -> ChangeFeed;
}
