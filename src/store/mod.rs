//! Persistence behind one async trait, so SQLite and PostgreSQL are
//! interchangeable ([`AnyStore`] picks one by the database's name). Domain types go in and out; no driver type leaves a backend.
//!
//! Every mutating method is one transaction that also appends its audit record
//! (and, when asked, checks and spends a rate-limit quota), so an action, its
//! quota and its audit entry commit together or not at all — with one commit
//! per tool call, which is also what keeps calls cheap. What is allowed is
//! decided by the service layer and the pure `ratelimit`/`audit` modules; the
//! store only applies those decisions atomically.

mod admin;
mod any;
mod any_extras;
mod console;
pub mod data_keys;
mod error;
mod http_token;
mod import_merge;
pub(crate) mod mcp_session;
mod page;
pub mod patience;
pub mod postgres;
pub mod prune;
pub mod rekey;
pub mod sealed;
mod signal;
mod spool;
pub mod sqlite;
mod team;
mod yolo;

use std::future::Future;

pub use admin::{
    AdminStore, AuditFor, AuditPrune, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, CopyProgress, CopyReport, DatabaseFile, FileCheck, ImportMode,
    ImportReport, MessageRecord, RemovedConversation, UnreadableRecord,
};
pub use any::AnyStore;
pub use console::{
    ConsoleRole, ConsoleSession, ConsoleStore, ConsoleToken, MAX_SESSIONS_PER_TOKEN,
};
pub use error::{StoreError, error_chain};
pub use http_token::{HttpRole, HttpToken, HttpTokenStore, NewHttpToken, RequestBucket};
pub use mcp_session::{
    McpSessionRecord, McpSessionStore, StoredMcpSession, UNBOUND_MCP_SESSION_TTL_US,
};
pub use page::{Lease, Page, PageFill, PageLimit, Pending, Receipt};
pub use signal::ChangeFeed;
pub use team::{ClientBinding, INVITE_INVALID_CODE, Joined, NewInvite, ProcessStamp, Unread};
pub use yolo::{
    Activation, ActivationRequest, ActivationState, MAX_PENDING_PROPOSALS, NewSnapshot, Proposal,
    ProposalState, REVOKED_MEANWHILE, Redemption, Snapshot, YoloStore,
};

use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{
    ActionType, ConversationId, ParticipantKind, Role, Sender, Side, Status, Timestamp,
};
use crate::ratelimit::Quota;

/// The code the audit trail records for a quota refusal.
pub const RATE_LIMITED_CODE: &str = "rate_limited";

/// What each bound a backend checks inside its transaction is called in a
/// [`StoreError::LimitReached`]: one wording for both stores.
pub mod limit {
    /// `limits.conversations_per_hour`.
    pub const CONVERSATIONS_PER_HOUR: &str =
        "conversations created in the last hour in this database";
    /// `limits.max_pending_messages`.
    pub const UNREAD: &str = "unread messages waiting for the recipient";
    /// Seats of a conversation: participants plus outstanding invites.
    pub const SEATS: &str = "participants and outstanding invites of this conversation";
    /// Active participants of a conversation.
    pub const ACTIVE: &str = "active participants of this conversation";
    /// Session ids, one letter each, never reused: removed participants
    /// and outstanding invites hold theirs.
    pub const SESSION_IDS: &str = "session ids of this conversation (a to z, never reused; removed participants and outstanding invites hold one each)";
    /// Proposed commands no human has approved or denied yet.
    pub const PENDING_PROPOSALS: &str =
        "undecided command proposals of this conversation (yolo status lists them)";
}

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

/// One participant of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Its session id.
    pub side: Side,
    /// Its role, unique among the conversation's active participants.
    pub role: String,
    /// What it may do.
    pub kind: ParticipantKind,
    /// Its last heartbeat, if it ever sent one.
    pub status: Option<StatusRecord>,
    /// When it joined with an invite (`None` for the two sides made with the conversation).
    pub joined_at: Option<Timestamp>,
    /// When the owner removed it; its token no longer works.
    pub removed_at: Option<Timestamp>,
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
    /// Its participants in session order (`a` first), removed ones included.
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
    /// The participants it is addressed to (kept with the message, shown as `to`).
    pub to: Vec<Side>,
    /// Every participant that gets a copy: the addressees and the observers.
    /// Copies for participants removed meanwhile are not queued.
    pub deliver_to: Vec<Side>,
}

/// Whom a message goes to: what a send's rule decides from its conversation
/// (see [`Store::send_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    /// The participants it is addressed to ([`NewMessage::to`]).
    pub to: Vec<Side>,
    /// Every participant that gets a copy ([`NewMessage::deliver_to`]).
    pub deliver_to: Vec<Side>,
}

/// A message [`Store::send_message`] stored.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its id.
    pub id: i64,
    /// Its conversation, as the send read it.
    pub conversation: Conversation,
    /// Whom it went to.
    pub addressed: Addressed,
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

    /// Stores a message and queues it for its recipients. `address` decides,
    /// from the conversation as read in the send's own transaction, under its
    /// lock (`None`: there is no such conversation), whether the sender may
    /// send and to whom: the message's `to` and `deliver_to` are what it
    /// returns (whatever the caller put there is replaced). Its refusal comes
    /// back as `Ok(Err(_))`, with nothing written and no quota spent. Reading
    /// the conversation in the transaction, rather than before it, saves a
    /// read (a round trip on PostgreSQL) per send, and no membership change
    /// can fall between the check and the message. Refused with
    /// [`StoreError::LimitReached`] when a recipient already has
    /// `max_pending` unread messages, not counting those leased at
    /// `guard.at` (in flight to their reader: see the service's send).
    fn send_message<R, F>(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
        address: F,
    ) -> impl Future<Output = Result<Result<Stored, R>, StoreError>> + Send
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<Addressed, R> + Send + Sync + 'static;

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

    /// [`Store::take_messages`] (a final attempt) for a caller not admitted
    /// yet: `admit` decides, from the conversation as read in the take's own
    /// transaction (`None`: there is no such conversation), whether
    /// `recipient` may read. Its refusal comes back as `Ok(Err(_))`, with
    /// nothing taken, written or spent. Saves the separate authorisation
    /// read (a round trip on PostgreSQL) of a check that spends a quota.
    fn take_admitted<R, F>(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        guard: Guard,
        admit: F,
    ) -> impl Future<Output = Result<Result<(Conversation, Page), R>, StoreError>> + Send
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static;

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

    /// The ids of the first `limit` messages `recipient` could take at `now`,
    /// in order: up to the first one still leased to another reader, as a
    /// take stops there. Read-only; lets a page over several inboxes be
    /// merged in send order before anything is taken.
    fn ready_ids(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;

    /// [`Store::conversation`] and [`Store::pending`] for `recipient`, read
    /// together: one read transaction, one round trip over a network. A
    /// check that waits for nothing authorizes and looks at once.
    fn conversation_and_pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> impl Future<Output = Result<(Option<Conversation>, Pending), StoreError>> + Send;

    /// Spends one call of quota without doing anything else (start of a long-poll).
    /// The guard's audit record is appended only if the quota is refused.
    fn spend_quota(&self, guard: Guard) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Sets `side`'s heartbeat. `admit` decides on the conversation as
    /// read in the same transaction (`None`: there is no such conversation)
    /// whether `side` may; its refusal comes back as `Ok(Err(_))`, with
    /// nothing written or spent.
    fn set_status<R, F>(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
        admit: F,
    ) -> impl Future<Output = Result<Result<(), R>, StoreError>> + Send
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static;

    /// Reads a conversation for a status check, spends the guard's quota and
    /// records the call. `admit` decides on the conversation as read (`None`:
    /// there is no such conversation) whether the caller may see it; its
    /// refusal comes back as `Ok(Err(_))`, with nothing spent or recorded.
    fn observe_conversation<R, F>(
        &self,
        conversation: ConversationId,
        guard: Guard,
        admit: F,
    ) -> impl Future<Output = Result<Result<Conversation, R>, StoreError>> + Send
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static;

    /// Stores an invite, unless its role is taken case-insensitively by an
    /// active participant or an outstanding invite ([`StoreError::Conflict`]),
    /// or active participants and outstanding invites already number
    /// `max_participants`, or participants ever (removed ones too) and
    /// outstanding invites already hold every session id
    /// ([`StoreError::LimitReached`]), or the guard's quota is spent
    /// ([`StoreError::QuotaExceeded`]).
    fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Redeems the invite whose code hashes to `code_hash` if it is unused and
    /// unexpired at `guard.at`: marks it used and adds its participant with the
    /// next session id, in one transaction, so a code works once however many
    /// processes race for it. `Ok(None)` when there is no such invite; that
    /// failure is counted in `failures` (a global quota of failures only: a
    /// genuine code is redeemed however many guesses failed, and a failure
    /// over the quota is [`StoreError::QuotaExceeded`]) and audited as
    /// [`INVITE_INVALID_CODE`]. [`StoreError::LimitReached`] when the
    /// conversation already has `max_participants` active participants or has
    /// used every session id; [`StoreError::Conflict`] when the role was taken
    /// meanwhile (nothing is written then).
    fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> impl Future<Output = Result<Option<Joined>, StoreError>> + Send;

    /// Marks `side` removed at `guard.at` and drops its undelivered copies and
    /// client bindings. [`StoreError::NotFound`] if it is not an active participant.
    fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many messages wait for `side`, how many of them are leased at
    /// `now` (in flight), and the oldest `limit` of those that are not,
    /// without marking anything read. Read-only.
    fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<Unread, StoreError>> + Send;

    /// Records that a server process is bound to a session (idempotent).
    fn record_binding(
        &self,
        binding: ClientBinding,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets every binding of the server process `server` (it is exiting).
    fn forget_bindings(
        &self,
        server: ProcessStamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The bindings recorded for servers spawned by `client`, oldest first.
    fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> impl Future<Output = Result<Vec<ClientBinding>, StoreError>> + Send;

    /// Appends an audit record on its own (refusals decided before any store
    /// work). It is batched with other records and lands a moment later
    /// ([`Store::flush`] forces it out); it never waits, so a call given up
    /// by its client can still be recorded as its future is dropped.
    fn append_audit(&self, at: Timestamp, draft: AuditDraft);

    /// Audit records, oldest first, from `after_seq` on, at most `limit`.
    fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// Appends every audit record still held back for batching (PostgreSQL:
    /// and links every staged one into the chain).
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A feed that wakes whenever a message may have been stored by any process.
    fn changes(&self) -> ChangeFeed;

    /// The bytes the database holds, for `limits.max_database_mb`: on
    /// SQLite its pages in use (`page_count − freelist_count`, so what a
    /// delete frees counts at once though the file keeps its length; the
    /// WAL's frames are copies of those pages, not counted again), on
    /// PostgreSQL `pg_database_size` (its files: space a delete frees is
    /// reused for new rows but counts until a VACUUM cuts empty pages off a
    /// table's end, or `VACUUM FULL` rewrites it). Read-only and cheap (no
    /// table scan); the service reads it about once a second, never per call.
    fn database_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
