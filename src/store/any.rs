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
    ChangeFeed, ClientBinding, Conversation, Guard, Joined, Lease, NewConversation, NewInvite,
    NewMessage, Page, PageLimit, Pending, ProcessStamp, Receipt, StatusRecord, Store, StoreError,
    Unread,
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

impl Store for AnyStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        each!(self, s => s.conversation(id).await)
    }
    async fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each!(self, s => s.create_conversation(new, max_per_hour, guard).await)
    }
    async fn send_message(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        each!(self, s => s.send_message(message, max_pending, guard).await)
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
        each!(self, s => s.take_messages(conversation, recipient, limit, lease, final_attempt, guard).await)
    }
    async fn acknowledge(&self, receipt: Receipt) -> Result<(), StoreError> {
        each!(self, s => s.acknowledge(receipt).await)
    }
    async fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<Pending, StoreError> {
        each!(self, s => s.pending(conversation, recipient, now).await)
    }
    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        each!(self, s => s.spend_quota(guard).await)
    }
    async fn set_status(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each!(self, s => s.set_status(conversation, side, status, guard).await)
    }
    async fn observe_conversation(
        &self,
        conversation: ConversationId,
        guard: Guard,
    ) -> Result<Conversation, StoreError> {
        each!(self, s => s.observe_conversation(conversation, guard).await)
    }
    async fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each!(self, s => s.create_invite(invite, max_participants, guard).await)
    }
    async fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> Result<Option<Joined>, StoreError> {
        each!(self, s => s.redeem_invite(code_hash, max_participants, failures, guard).await)
    }
    async fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each!(self, s => s.remove_participant(conversation, side, guard).await)
    }
    async fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
    ) -> Result<Unread, StoreError> {
        each!(self, s => s.peek_unread(conversation, side, limit).await)
    }
    async fn record_binding(&self, binding: ClientBinding) -> Result<(), StoreError> {
        each!(self, s => s.record_binding(binding).await)
    }
    async fn forget_bindings(&self, server: ProcessStamp) -> Result<(), StoreError> {
        each!(self, s => s.forget_bindings(server).await)
    }
    async fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> Result<Vec<ClientBinding>, StoreError> {
        each!(self, s => s.client_bindings(client).await)
    }
    async fn append_audit(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        each!(self, s => s.append_audit(at, draft).await)
    }
    async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        each!(self, s => s.audit_records(after_seq, limit).await)
    }
    async fn flush(&self) -> Result<(), StoreError> {
        each!(self, s => Store::flush(s).await)
    }
    fn changes(&self) -> ChangeFeed {
        each!(self, s => s.changes())
    }
}

impl YoloStore for AnyStore {
    async fn request_activation(
        &self,
        request: ActivationRequest,
        guard: Guard,
    ) -> Result<(), StoreError> {
        each!(self, s => s.request_activation(request, guard).await)
    }
    async fn activation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<Activation>, StoreError> {
        each!(self, s => s.activation(conversation).await)
    }
    async fn activations(&self) -> Result<Vec<Activation>, StoreError> {
        each!(self, s => s.activations().await)
    }
    async fn confirm_activation(
        &self,
        conversation: ConversationId,
        requested_at: Timestamp,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each!(self, s => s.confirm_activation(conversation, requested_at, expires_at, at, audit).await)
    }
    async fn revoke_activation(
        &self,
        conversation: ConversationId,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each!(self, s => s.revoke_activation(conversation, at, audit).await)
    }
    async fn create_proposal(&self, proposal: Proposal, guard: Guard) -> Result<(), StoreError> {
        each!(self, s => s.create_proposal(proposal, guard).await)
    }
    async fn proposal(&self, id: &str) -> Result<Option<Proposal>, StoreError> {
        each!(self, s => s.proposal(id).await)
    }
    async fn proposals(
        &self,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<Proposal>, StoreError> {
        each!(self, s => s.proposals(conversation).await)
    }
    async fn approve_proposal(
        &self,
        id: String,
        token_hash: String,
        expires_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each!(self, s => s.approve_proposal(id, token_hash, expires_at, at, audit).await)
    }
    async fn deny_proposal(
        &self,
        id: String,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        each!(self, s => s.deny_proposal(id, at, audit).await)
    }
    async fn redeem_approval(
        &self,
        conversation: ConversationId,
        command: String,
        token_hash: String,
        guard: Guard,
    ) -> Result<Result<Proposal, Redemption>, StoreError> {
        each!(self, s => s.redeem_approval(conversation, command, token_hash, guard).await)
    }
    async fn record_run(
        &self,
        result: NewMessage,
        snapshot: Option<(NewSnapshot, PathBuf)>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        each!(self, s => s.record_run(result, snapshot, guard).await)
    }
    async fn snapshot(&self, id: &str) -> Result<Option<Snapshot>, StoreError> {
        each!(self, s => s.snapshot(id).await)
    }
}

impl AdminStore for AnyStore {
    async fn conversation_summaries(&self) -> Result<Vec<ConversationSummary>, StoreError> {
        each!(self, s => s.conversation_summaries().await)
    }
    async fn conversation_records(
        &self,
        ids: Option<Vec<ConversationId>>,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        each!(self, s => s.conversation_records(ids).await)
    }
    async fn audit_query(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        each!(self, s => s.audit_query(query).await)
    }
    async fn walk_audit_chain<W: AuditWalk>(&self, walker: W) -> Result<W::Output, StoreError> {
        each!(self, s => s.walk_audit_chain(walker).await)
    }
    async fn record_management(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        each!(self, s => s.record_management(at, draft).await)
    }
    async fn cleanup(
        &self,
        now: Timestamp,
        dry_run: bool,
        audit_cutoff: Option<Timestamp>,
        audit: AuditFor<CleanupReport>,
    ) -> Result<CleanupReport, StoreError> {
        each!(self, s => s.cleanup(now, dry_run, audit_cutoff, audit).await)
    }
    async fn import(
        &self,
        records: Vec<ConversationRecord>,
        mode: ImportMode,
        at: Timestamp,
        audit: AuditFor<ImportReport>,
    ) -> Result<ImportReport, StoreError> {
        each!(self, s => s.import(records, mode, at, audit).await)
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
