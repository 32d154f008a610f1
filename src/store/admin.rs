//! Management persistence: what the `mcp-bridge` management commands need
//! beyond the tools' [`Store`] — summaries with counts, whole conversations
//! with read state, audit queries and chain walks, cleanup, import, backup and
//! restore. Domain types in and out, like [`Store`]; the rules (what to audit,
//! what an import file may hold) belong to the service layer.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use super::{Conversation, Store, StoreError};
use crate::audit::{AuditDraft, AuditRecord, ChainHead};
use crate::domain::{ConversationId, Message, Side, Timestamp};

/// A conversation with its message counts, for `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation, its participants and their last status.
    pub conversation: Conversation,
    /// Messages stored in it.
    pub messages: u64,
    /// Messages each side has not read yet, side `a` first (every participant listed).
    pub unread: Vec<(Side, u64)>,
    /// When its newest message was sent.
    pub last_message_at: Option<Timestamp>,
}

impl ConversationSummary {
    /// Unread messages waiting for `side`.
    pub fn unread_by(&self, side: Side) -> u64 {
        self.unread
            .iter()
            .find(|(s, _)| *s == side)
            .map_or(0, |(_, n)| *n)
    }
}

/// A stored message with its read state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// The message as its recipients see it.
    pub message: Message,
    /// The participants that have not read it yet.
    pub unread_by: Vec<Side>,
}

/// A whole conversation: header, participants with status, and every message
/// in send order. What `show` prints, `export` writes and `import` stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    /// The conversation and its participants.
    pub conversation: Conversation,
    /// Its messages, oldest first.
    pub messages: Vec<MessageRecord>,
}

/// Which audit records to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records about this conversation.
    pub conversation: Option<ConversationId>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Only records of this action (tool or command name).
    pub action: Option<String>,
    /// At most this many of the newest matching records.
    pub limit: u32,
}

/// An audit row that could not be decoded (e.g. a hand-edited outcome); for a
/// chain walk this is itself evidence of tampering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRecord {
    /// Its sequence number.
    pub seq: i64,
    /// What is wrong with it.
    pub reason: String,
}

/// A visitor for [`AdminStore::walk_audit_chain`]. The walk may be retried from
/// the start (the backend re-runs it on a busy database), so the store clones
/// the visitor for each attempt.
pub trait AuditWalk: Clone + Send + 'static {
    /// What the walk produces.
    type Output: Send + 'static;
    /// Sees the stored chain head (`None` when there is none) before any
    /// record; returns `false` to stop at once.
    fn begin(&mut self, head: Option<ChainHead>) -> bool;
    /// Sees the next record in `seq` order; returns `false` to stop early.
    fn visit(&mut self, record: Result<AuditRecord, UnreadableRecord>) -> bool;
    /// Ends the walk.
    fn finish(self) -> Self::Output;
}

/// What retention pruning of the audit trail did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditPrune {
    /// No retention is configured.
    #[default]
    Off,
    /// Nothing was old enough.
    Nothing,
    /// `records` records were removed; `first_kept` is the oldest left.
    Pruned {
        /// Records removed by this pruning.
        records: i64,
        /// The `seq` of the oldest record kept.
        first_kept: i64,
    },
    /// Nothing was removed because the trail is not intact; says where.
    Refused(String),
}

/// A conversation removed (or to be removed) by cleanup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedConversation {
    /// The conversation as it was.
    pub conversation: Conversation,
    /// Its messages.
    pub messages: u64,
    /// Of those, deliveries nobody had taken yet.
    pub unread: u64,
}

/// What cleanup removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Whether nothing was actually deleted.
    pub dry_run: bool,
    /// The expired conversations, oldest expiry first.
    pub removed: Vec<RemovedConversation>,
    /// Rate-limit counters removed with them (and any left by deleted conversations).
    pub rate_buckets: u64,
    /// Stored MCP sessions removed for having no seat left.
    pub mcp_sessions: u64,
    /// Audit records pruned for retention.
    pub audit: AuditPrune,
}

impl CleanupReport {
    /// Messages removed in all.
    pub fn messages(&self) -> u64 {
        self.removed.iter().map(|r| r.messages).sum()
    }
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Conversations that were not in the database.
    pub conversations_added: u64,
    /// Conversations already present that gained messages or a newer status.
    pub conversations_updated: u64,
    /// Conversations already present and left as they were.
    pub conversations_unchanged: u64,
    /// Messages stored.
    pub messages_added: u64,
    /// Messages already present: as many as the conversation held before the
    /// import with the same sender, time, action type, text, files and
    /// recipients (see `import_merge`).
    pub messages_skipped: u64,
    /// Messages stored under a new id because theirs was taken or below the id floor.
    pub messages_renumbered: u64,
    /// Conversations deleted first because the import replaced the database's
    /// conversations ([`ImportMode::Replace`]).
    pub conversations_removed: u64,
}

/// How an import treats the conversations already in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Keep them; merge the file's into them (`import`).
    Merge,
    /// Delete every conversation first, in the same transaction, so the
    /// database holds exactly the file's (`restore` of an export-based
    /// backup). The audit trail stays, and no message id is handed out again.
    Replace,
}

/// The size of a copied database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Pages copied.
    pub pages: u64,
    /// Bytes per page.
    pub page_size: u64,
}

impl CopyReport {
    /// Bytes copied.
    pub const fn bytes(&self) -> u64 {
        self.pages * self.page_size
    }
}

/// Progress of a copy: pages done so far and pages in all.
pub type CopyProgress = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// The highest message id an import (or a restore) keeps: a conversation of
/// the file with an id above it is numbered anew, in order, above every id
/// kept. A file may hold ids up to 2^53 (what JSON carries exactly), but one
/// stored near that bound left the sends after it ids past 2^53, which no
/// later export or backup could bring back: 2^52 leaves room for 2^52 sends.
pub const MAX_KEPT_IMPORT_ID: i64 = 1 << 52;

/// Whether an import keeps the ids of a conversation's `new` messages: all
/// above `keep_above` (never used here) and none past [`MAX_KEPT_IMPORT_ID`].
pub fn keeps_ids(mut ids: impl Iterator<Item = i64>, keep_above: i64) -> bool {
    ids.all(|id| id > keep_above && id <= MAX_KEPT_IMPORT_ID)
}

/// The highest id of `records` an import may keep (0 for none): renumbered
/// messages go above it, so they never take an id a later conversation of
/// the file keeps.
pub fn highest_kept_id(records: &[ConversationRecord]) -> i64 {
    records
        .iter()
        .flat_map(|r| r.messages.iter().map(|m| m.message.id))
        .filter(|id| *id <= MAX_KEPT_IMPORT_ID)
        .max()
        .unwrap_or(0)
}

/// What a database file holds, checked without modifying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// Problems the integrity check found (empty when the file is sound).
    pub problems: Vec<String>,
    /// Its schema version.
    pub schema_version: i64,
    /// The newest schema version this build can use.
    pub supported_schema_version: i64,
    /// The oldest schema version a backup may have: bringing an older one up
    /// to date would have this build vouch, with the key, for what it finds
    /// (sign its audit chain's head, mark its plaintext legitimate, key its
    /// credential digests), and a backup file is what anyone may have written.
    pub oldest_restorable_schema_version: i64,
    /// Whether it has the bridge's tables.
    pub is_bridge: bool,
    /// What it holds that the bridge never writes: schema objects other than
    /// its migrations' (or changed ones), counters out of range. Each names
    /// the object or the value.
    pub unexpected: Vec<String>,
}

/// Builds the audit record of an action once its outcome is known (inside the
/// transaction that performs it).
pub type AuditFor<R> = Arc<dyn Fn(&R) -> AuditDraft + Send + Sync>;

/// Management operations on a [`Store`]. Every read is one consistent snapshot,
/// every write one transaction that also appends its audit record.
pub trait AdminStore: Store {
    /// Every conversation, oldest first, with message counts.
    fn conversation_summaries(
        &self,
    ) -> impl Future<Output = Result<Vec<ConversationSummary>, StoreError>> + Send;

    /// The named conversations (or all, for `None`), oldest first, with their
    /// messages. Unknown ids are simply absent from the answer.
    fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> impl Future<Output = Result<Vec<ConversationRecord>, StoreError>> + Send;

    /// The newest `query.limit` matching audit records, oldest first.
    fn audit_query(
        &self,
        query: AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditRecord>, StoreError>> + Send;

    /// Feeds every audit record, in `seq` order, and then the chain head to
    /// `walker`, all from one snapshot.
    fn walk_audit_chain<W: AuditWalk>(
        &self,
        walker: W,
    ) -> impl Future<Output = Result<W::Output, StoreError>> + Send;

    /// Appends the audit record of a management action now (not batched).
    fn record_management(
        &self,
        at: Timestamp,
        draft: AuditDraft,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes every conversation expired at `now` with its messages,
    /// deliveries, statuses and rate counters, keeping the audit trail and
    /// raising the message-id floor so no id is reused; with
    /// `audit_cutoff`, also prunes the audit records older than it (only
    /// when what goes is intact), leaving a signed checkpoint. With
    /// `dry_run`, only reports. Either way appends `audit(&report)`. MCP
    /// sessions begun before `sessions_cutoff` that are left with no seat
    /// (counting only conversations that stay) go too.
    fn cleanup(
        &self,
        now: Timestamp,
        dry_run: bool,
        audit_cutoff: Option<Timestamp>,
        sessions_cutoff: Timestamp,
        audit: AuditFor<CleanupReport>,
    ) -> impl Future<Output = Result<CleanupReport, StoreError>> + Send;

    /// Ends conversation `id` at `at` if it is live then: its expiry (and its
    /// open invites') becomes `at`, so its tokens and invite codes stop
    /// working at once and `cleanup` removes it. Appends `audit` in the same
    /// transaction when it ends it; whether it did (`false`: unknown, or
    /// already over).
    fn end_conversation(
        &self,
        id: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores already validated conversations in one transaction. A
    /// conversation already present must match in creation time, expiry and
    /// roles ([`StoreError::Conflict`] otherwise); its messages are merged: a
    /// message of `records` is present when it is one of the copies stored
    /// before the import with the same sender, time, action type, content,
    /// files and recipients, each stored copy standing for one message of
    /// `records` (identical messages of a file are distinct sends, and all are
    /// stored into an empty conversation). Messages keep their ids when every new one of a
    /// conversation is above every id the database has used, and are
    /// renumbered (in order, above every id in the database and in `records`)
    /// otherwise. With [`ImportMode::Replace`], every conversation is deleted
    /// first (as by cleanup), so none can conflict. Appends `audit(&report)`.
    fn import(
        &self,
        records: Vec<ConversationRecord>,
        mode: ImportMode,
        at: Timestamp,
        audit: AuditFor<ImportReport>,
    ) -> impl Future<Output = Result<ImportReport, StoreError>> + Send;
}

/// Copying the database as a file, for stores that have one (SQLite): what
/// `backup` and `restore` use there. A PostgreSQL database has no file to
/// copy; its backups are export-based (a sealed export through
/// [`AdminStore::conversation_records`] and [`AdminStore::import`]).
pub trait DatabaseFile: AdminStore {
    /// Copies the database to a new file at `dest` (mode 0600) through the
    /// backend's online backup, from one consistent snapshot, while other
    /// processes keep writing. `dest` is overwritten if it exists.
    fn backup_to(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> impl Future<Output = Result<CopyReport, StoreError>> + Send;

    /// Replaces this database's content with the database at `src` through
    /// the online backup, so other connections see the new content instead of
    /// a file swapped under them. Check `src` with [`AdminStore::check_file`]
    /// first. The schema is as old as `src`'s until the store is opened again.
    fn restore_from(
        &self,
        src: &Path,
        progress: CopyProgress,
    ) -> impl Future<Output = Result<CopyReport, StoreError>> + Send;

    /// Checks the database file at `path` read-only: integrity, schema version,
    /// whether it is a bridge database.
    ///
    /// # Errors
    /// When the file cannot be opened or is not a database at all.
    fn check_file(path: &Path) -> Result<FileCheck, StoreError>
    where
        Self: Sized;

    /// The id of a process that has the database at `path` open, if any.
    /// Must be called before this process opens it.
    ///
    /// # Errors
    /// When the lock state cannot be read.
    fn in_use(path: &Path) -> Result<Option<u32>, StoreError>
    where
        Self: Sized;
}
