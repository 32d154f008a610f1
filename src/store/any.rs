//! The store a process runs on, chosen once at start-up by the database
//! name's scheme (`postgres://…` or a file path), as atuin picks its backend:
//! every call is handed to that backend unchanged.

use std::path::{Path, PathBuf};

use super::admin::{
    AdminStore, AuditFor, AuditQuery, AuditWalk, CleanupReport, ConversationRecord,
    ConversationSummary, CopyProgress, CopyReport, DatabaseFile, FileCheck, ImportMode,
    ImportReport,
};
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::yolo::{
    Activation, ActivationRequest, NewSnapshot, Proposal, Redemption, Snapshot, YoloStore,
};
use super::{
    Addressed, ChangeFeed, ClientBinding, Conversation, Guard, Joined, Lease, NewConversation,
    NewInvite, NewMessage, Page, PageLimit, Pending, ProcessStamp, Receipt, StatusRecord, Store,
    StoreError, Stored, Unread,
};
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::Quota;

/// SQLite (embedded, the default) or PostgreSQL (shared by several hosts).
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// A database file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e,
            AnyStore::Postgres($s) => $e,
        }
    };
}

/// Awaits the backend's future `$e`. PostgreSQL's is boxed: a future is as
/// large as its largest variant, and moving the SQLite store's futures at
/// PostgreSQL's size (its pipelined statements and their parameters) was
/// most of the memory copied per stdio call (callgrind: ~190 KB per empty
/// check); a PostgreSQL call can afford an allocation beside its round trip.
macro_rules! each_await {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $e.await,
            AnyStore::Postgres($s) => Box::pin($e).await,
        }
    };
}
pub(super) use each_await;

impl Store for AnyStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        each_await!(self, s => s.conversation(id))
    }
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.create_conversation(new, max_per_hour, guard))
    }
    async fn send_message<R, F>(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
        address: F,
    ) -> Result<Result<Stored, R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<Addressed, R> + Send + Sync + 'static,
    {
        each_await!(self, s => s.send_message(message, max_pending, guard, address))
    }
    async fn take_messages(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        final_attempt: bool,
        guard: Guard,
    ) -> Result<Option<Page>, StoreError> {
        each_await!(self, s => s.take_messages(conversation, recipient, limit, lease, final_attempt, guard))
    }
    async fn take_admitted<R, F>(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: PageLimit,
        lease: Option<Lease>,
        guard: Guard,
        admit: F,
    ) -> Result<Result<(Conversation, Page), R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        each_await!(self, s => s.take_admitted(conversation, recipient, limit, lease, guard, admit))
    }
    async fn acknowledge(&self, receipt: Receipt) -> Result<(), StoreError> {
        each_await!(self, s => s.acknowledge(receipt))
    }
    async fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<Pending, StoreError> {
        each_await!(self, s => s.pending(conversation, recipient, now))
    }
    async fn ready_ids(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        each_await!(self, s => s.ready_ids(conversation, recipient, now, limit))
    }
    async fn conversation_and_pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<(Option<Conversation>, Pending), StoreError> {
        each_await!(self, s => s.conversation_and_pending(conversation, recipient, now))
    }
    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        each_await!(self, s => s.spend_quota(guard))
    }
    async fn set_status<R, F>(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
        admit: F,
    ) -> Result<Result<(), R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        each_await!(self, s => s.set_status(conversation, side, status, guard, admit))
    }
    async fn observe_conversation<R, F>(
        &self,
        conversation: ConversationId,
        guard: Guard,
        admit: F,
    ) -> Result<Result<Conversation, R>, StoreError>
    where
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<(), R> + Send + Sync + 'static,
    {
        each_await!(self, s => s.observe_conversation(conversation, guard, admit))
    }
    async fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.create_invite(invite, max_participants, guard))
    }
    async fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> Result<Option<Joined>, StoreError> {
        each_await!(self, s => s.redeem_invite(code_hash, max_participants, failures, guard))
    }
    async fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.remove_participant(conversation, side, guard))
    }
    async fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
        now: Timestamp,
    ) -> Result<Unread, StoreError> {
        each_await!(self, s => s.peek_unread(conversation, side, limit, now))
    }
    async fn record_binding(&self, binding: ClientBinding) -> Result<(), StoreError> {
        each_await!(self, s => s.record_binding(binding))
    }
    async fn forget_bindings(&self, server: ProcessStamp) -> Result<(), StoreError> {
        each_await!(self, s => s.forget_bindings(server))
    }
    async fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> Result<Vec<ClientBinding>, StoreError> {
        each_await!(self, s => s.client_bindings(client))
    }
    fn append_audit(&self, at: Timestamp, draft: AuditDraft) {
        each!(self, s => s.append_audit(at, draft));
    }
    async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        each_await!(self, s => s.audit_records(after_seq, limit))
    }
    async fn flush(&self) -> Result<(), StoreError> {
        each_await!(self, s => Store::flush(s))
    }
    fn changes(&self) -> ChangeFeed {
        each!(self, s => s.changes())
    }
    async fn database_size(&self) -> Result<u64, StoreError> {
        each_await!(self, s => s.database_size())
    }
}

impl YoloStore for AnyStore {
    async fn request_activation(
        &self,
        request: ActivationRequest,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.request_activation(request, guard))
    }
    async fn activation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Activation>, StoreError> {
        each_await!(self, s => s.activation(conversation))
    }
    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        each_await!(self, s => s.activations())
    }
    async fn confirm_activation(
        &self,
        conversation: ConversationId,
        requested_at: Timestamp,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.confirm_activation(conversation, requested_at, expires_at, at, audit))
    }
    async fn revoke_activation(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.revoke_activation(conversation, at, audit))
    }
    async fn create_proposal(&self, proposal: Proposal, guard: Guard) -> Result<(), StoreError> {
        each_await!(self, s => s.create_proposal(proposal, guard))
    }
    async fn proposal(&self, id: &str) -> Result<Option<Proposal>, StoreError> {
        each_await!(self, s => s.proposal(id))
    }
    async fn proposals(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<Proposal>, StoreError> {
        each_await!(self, s => s.proposals(conversation))
    }
    async fn approve_proposal(
        &self,
        id: String,
        token_hash: String,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.approve_proposal(id, token_hash, expires_at, at, audit))
    }
    async fn deny_proposal(
        &self,
        id: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.deny_proposal(id, at, audit))
    }
    async fn redeem_approval(
        &self,
        conversation: ConversationId,
        command: String,
        token_hash: String,
        guard: Guard,
    ) -> Result<Result<Proposal, Redemption>, StoreError> {
        each_await!(self, s => s.redeem_approval(conversation, command, token_hash, guard))
    }
    async fn record_run(
        &self,
        result: NewMessage,
        snapshot: Option<(NewSnapshot, PathBuf)>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        each_await!(self, s => s.record_run(result, snapshot, guard))
    }
    async fn snapshot(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        each_await!(self, s => s.snapshot(id))
    }
    async fn keep_hidden(
        &self,
        host: String,
        paths: Vec<Vec<u8>>,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        each_await!(self, s => s.keep_hidden(host, paths, at))
    }
    async fn hidden_paths(&self, host: String) -> Result<Vec<Vec<u8>>, StoreError> {
        each_await!(self, s => s.hidden_paths(host))
    }
}

impl AdminStore for AnyStore {
    async fn conversation_summaries(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        each_await!(self, s => s.conversation_summaries())
    }
    async fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        each_await!(self, s => s.conversation_records(ids))
    }
    async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        each_await!(self, s => s.audit_query(query))
    }
    async fn walk_audit_chain<W: AuditWalk>(&self, walker: W) -> Result<W::Output, StoreError> {
        each_await!(self, s => s.walk_audit_chain(walker))
    }
    async fn record_management(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        each_await!(self, s => s.record_management(at, draft))
    }
    async fn cleanup(
        &self,
        now: Timestamp,
        dry_run: bool,
        audit_cutoff: Option<Timestamp>,
        sessions_cutoff: Timestamp,
        audit: AuditFor<CleanupReport>,
    ) -> Result<CleanupReport, StoreError> {
        each_await!(self, s => s.cleanup(now, dry_run, audit_cutoff, sessions_cutoff, audit))
    }
    async fn end_conversation(
        &self,
        id: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        each_await!(self, s => s.end_conversation(id, at, audit))
    }
    async fn import(
        &self,
        records: Vec<ConversationRecord>,
        mode: ImportMode,
        at: Timestamp,
        audit: AuditFor<ImportReport>,
    ) -> Result<ImportReport, StoreError> {
        each_await!(self, s => s.import(records, mode, at, audit))
    }
}

impl DatabaseFile for AnyStore {
    async fn backup_to(
        &self,
        dest: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.backup_to(dest, progress).await,
            AnyStore::Postgres(_) => Err(no_file()),
        }
    }
    async fn restore_from(
        &self,
        src: &Path,
        progress: CopyProgress,
    ) -> Result<CopyReport, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.restore_from(src, progress).await,
            AnyStore::Postgres(_) => Err(no_file()),
        }
    }
    fn check_file(path: &Path) -> Result<FileCheck, StoreError> {
        // Backup files are SQLite files whichever store is live.
        SqliteStore::check_file(path)
    }
    fn in_use(path: &Path) -> Result<Option<u32>, StoreError> {
        SqliteStore::in_use(path)
    }
}

/// A PostgreSQL database has no file to copy (its backups are export-based).
fn no_file() -> StoreError {
    StoreError::Backend(
        "a PostgreSQL database has no file to copy: `mcp-bridge backup` writes an export-based \
         backup for it (or use pg_dump)"
            .into(),
    )
}
