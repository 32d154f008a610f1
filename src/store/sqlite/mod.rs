//! The SQLite backend: one long-lived connection per process, WAL mode, every
//! SQLite SQL string of the crate (here and in `migrations/sqlite/`).
//!
//! rusqlite calls block, so each operation runs on Tokio's blocking pool with
//! the connection behind a std `Mutex` (held only for the operation, never
//! across an `.await`). Writes use `BEGIN IMMEDIATE`, which takes the
//! database's single write lock up front: concurrent writers in other processes
//! queue on the busy handler instead of failing halfway through a transaction.

mod admin;
mod audit;
mod checkpoint;
mod console;
mod error;
mod frames;
mod http_token;
mod keys;
mod limits;
mod mcp_session;
mod open;
mod ops;
mod rows;
mod run;
mod spooled;
mod team;
mod tx;
mod wake;
mod yolo;
mod yolo_rows;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rusqlite::Connection;

pub(crate) use error::sql_err;
pub use open::{Durability, OLDEST_RESTORABLE_SCHEMA, OpenMode, Refused, SCHEMA_VERSION};

use self::checkpoint::Checkpointer;
use self::wake::WakeFile;
use super::sealed::Sealer;
use super::signal::ChangeHub;
use super::spool::{self, AuditSpool};
use super::{
    Addressed, ChangeFeed, ClientBinding, Conversation, Guard, Joined, Lease, NewConversation,
    NewInvite, NewMessage, Page, PageLimit, Pending, ProcessStamp, Receipt, StatusRecord, Store,
    StoreError, Stored, Unread,
};
use crate::audit::{AuditDraft, AuditKey, AuditRecord, ChainHead};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::Quota;

/// How often a long-poll re-checks the database even without a wake-up.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

struct Inner {
    /// An async lock: a call that finds the connection busy waits as a
    /// parked task, not as a thread (see `run`).
    conn: tokio::sync::Mutex<Connection>,
    path: PathBuf,
    hub: Arc<ChangeHub>,
    wake: WakeFile,
    watching: OnceLock<()>,
    spool: Arc<AuditSpool>,
    checkpointer: Checkpointer,
    audit_key: AuditKey,
    /// The audit chain head this process last signed (see `WriteTx::head_is_trusted`).
    signed_head: Mutex<Option<ChainHead>>,
    sealer: Sealer,
    /// Whether a write may run on the runtime thread (see `run`): not when
    /// every commit waits for the disk.
    inline_writes: bool,
}

/// A [`Store`] on one SQLite file shared by any number of processes.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Creates the database's directory (0700) and an empty file (0600) if
    /// they are missing, so files beside it (the key) can be made first.
    ///
    /// # Errors
    /// When the directory or file cannot be created.
    pub fn prepare(path: &Path) -> Result<(), StoreError> {
        open::prepare_files(path)
    }

    /// Checks that an existing `path` is a private SQLite database, changing nothing.
    ///
    /// # Errors
    /// A [`open::Refused`] naming the problem and its fix.
    pub fn check_private_database(path: &Path) -> Result<(), StoreError> {
        open::check_existing(path)
    }

    /// Opens (or creates) the database at `path`, whose audit chain is
    /// sealed with `audit_key` and whose texts are sealed with `sealer`.
    ///
    /// # Errors
    /// See [`open::open`].
    pub fn open(
        path: &Path,
        mode: OpenMode,
        durability: Durability,
        audit_key: AuditKey,
        sealer: Sealer,
    ) -> Result<Self, StoreError> {
        let mut conn = open::open(path, mode, durability, &audit_key)?;
        sealer.allow_legacy_plaintext(keys::legacy_plaintext_allowed(&conn, &audit_key)?);
        let checkpointer = Checkpointer::install(&mut conn, path.to_owned())?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: tokio::sync::Mutex::new(conn),
                path: path.to_owned(),
                hub: Arc::new(ChangeHub::new(FALLBACK_POLL)),
                wake: WakeFile::open(path),
                watching: OnceLock::new(),
                spool: Arc::new(AuditSpool::default()),
                checkpointer,
                audit_key,
                signed_head: Mutex::new(None),
                sealer,
                inline_writes: durability != Durability::Full,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends every spooled audit record now.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.spool.close_windows(Timestamp::now(), false);
        if !self.inner.spool.has_records() {
            return Ok(());
        }
        self.write(|_| Ok(())).await
    }

    /// Tells every waiter in this and other processes that messages may have
    /// been stored (imports, system messages: changes of wide or unknown scope).
    fn announce_message(&self) {
        self.inner.hub.notify();
        self.inner.wake.touch();
    }
}

impl Store for SqliteStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let id = id.clone();
        let sealer = self.inner.sealer.clone();
        self.call(move |conn| ops::conversation(keys::Opener::new(conn, &sealer), conn, &id))
            .await
    }

    async fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            if let Some(limit) = max_per_hour {
                limits::check_recent_conversations(tx, new.created_at, limit)?;
            }
            ops::create_conversation(tx, &new)?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await
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
        let conversation = message.conversation.clone();
        let sent = self
            .write_admitted(conversation, address, move |tx, conversation, addressed| {
                let message = NewMessage {
                    to: addressed.to.clone(),
                    deliver_to: addressed.deliver_to.clone(),
                    ..message.clone()
                };
                if let Some(limit) = max_pending {
                    limits::check_pending(tx, &conversation, &message, limit, guard.at)?;
                }
                limits::spend_quota(tx, &guard)?;
                let id = ops::insert_message(tx, &message)?;
                ops::append_audit(tx, guard.at, &guard.audit)?;
                Ok(Stored {
                    id,
                    conversation,
                    addressed,
                })
            })
            .await?;
        if let Ok(stored) = &sent {
            let conversation = &stored.conversation.id;
            self.inner
                .hub
                .notify_inboxes(conversation, &stored.addressed.deliver_to);
            self.inner.wake.touch();
        }
        Ok(sent)
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
        let now = guard.at;
        self.write(move |tx| {
            limits::spend_quota(tx, &guard)?;
            let page = ops::take_messages(tx, &conversation, recipient, limit, lease, now)?;
            if page.messages.is_empty() && !final_attempt {
                // Nothing to hand out yet and the caller will try again: leave no trace.
                return Ok(None);
            }
            let mut draft = guard.audit.clone();
            draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
            ops::append_audit(tx, guard.at, &draft)?;
            Ok(Some(page))
        })
        .await
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
        let now = guard.at;
        let read = conversation.clone();
        self.write_admitted(read, admit, move |tx, found, ()| {
            limits::spend_quota(tx, &guard)?;
            let page = ops::take_messages(tx, &conversation, recipient, limit, lease, now)?;
            let mut draft = guard.audit.clone();
            draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
            ops::append_audit(tx, guard.at, &draft)?;
            Ok((found, page))
        })
        .await
    }

    async fn acknowledge(&self, receipt: Receipt) -> Result<(), StoreError> {
        let (conversation, recipient) = (receipt.conversation.clone(), receipt.recipient);
        self.write(move |tx| ops::acknowledge(tx, &receipt)).await?;
        // A reader of the same inbox may be waiting behind this lease.
        self.inner.hub.notify_inboxes(&conversation, &[recipient]);
        self.inner.wake.touch();
        Ok(())
    }

    async fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<Pending, StoreError> {
        let conversation = conversation.clone();
        self.call(move |conn| ops::pending(conn, &conversation, recipient, now))
            .await
    }

    async fn ready_ids(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let conversation = conversation.clone();
        self.call(move |conn| ops::ready_ids(conn, &conversation, recipient, now, limit))
            .await
    }

    async fn conversation_and_pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<(Option<Conversation>, Pending), StoreError> {
        let id = conversation.clone();
        let sealer = self.inner.sealer.clone();
        self.call(move |conn| {
            // One read transaction for both: one lock cycle on the database
            // file instead of two. It only reads, so `COMMIT` ends it
            // whatever happened; the statements are cached, not re-parsed.
            ops::run_cached(conn, "BEGIN")?;
            let read =
                ops::conversation(keys::Opener::new(conn, &sealer), conn, &id).and_then(|found| {
                    match &found {
                        Some(_) => Ok((found, ops::pending(conn, &id, recipient, now)?)),
                        None => Ok((found, Pending::Nothing)),
                    }
                });
            ops::run_cached(conn, "COMMIT")?;
            read
        })
        .await
    }

    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        if guard.quota.is_none() {
            return Ok(());
        }
        self.write(move |tx| limits::spend_quota(tx, &guard)).await
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
        let read = conversation.clone();
        self.write_admitted(read, admit, move |tx, _, ()| {
            limits::spend_quota(tx, &guard)?;
            ops::set_status(tx, &conversation, side, &status)?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await
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
        self.write_admitted(conversation, admit, move |tx, found, ()| {
            limits::spend_quota(tx, &guard)?;
            ops::append_audit(tx, guard.at, &guard.audit)?;
            Ok(found)
        })
        .await
    }

    async fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            limits::spend_quota(tx, &guard)?;
            team::create_invite(tx, &invite, max_participants)?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await
    }

    async fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> Result<Option<Joined>, StoreError> {
        self.write(move |tx| {
            team::redeem_invite(tx, &code_hash, max_participants, failures.as_ref(), &guard)
        })
        .await
    }

    async fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> Result<(), StoreError> {
        let removed_from = conversation.clone();
        self.write(move |tx| {
            team::remove_participant(tx, &conversation, side, guard.at)?;
            ops::append_audit(tx, guard.at, &guard.audit)
        })
        .await?;
        // A long-poll of the removed session wakes and finds its token dead.
        self.inner.hub.notify_conversation(&removed_from);
        self.inner.wake.touch();
        Ok(())
    }

    async fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
        now: Timestamp,
    ) -> Result<Unread, StoreError> {
        let conversation = conversation.clone();
        let sealer = self.inner.sealer.clone();
        self.call(move |conn| team::peek_unread(conn, &sealer, &conversation, side, limit, now))
            .await
    }

    async fn record_binding(&self, binding: ClientBinding) -> Result<(), StoreError> {
        self.write(move |tx| team::record_binding(tx, &binding))
            .await
    }

    async fn forget_bindings(&self, server: ProcessStamp) -> Result<(), StoreError> {
        self.write(move |tx| team::forget_bindings(tx, server))
            .await
    }

    async fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> Result<Vec<ClientBinding>, StoreError> {
        self.call(move |conn| team::client_bindings(conn, client))
            .await
    }

    fn append_audit(&self, at: Timestamp, draft: AuditDraft) {
        spool::defer(self, at, draft);
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush().await?;
        self.call(move |conn| audit::records_after(conn, after_seq, limit))
            .await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        SqliteStore::flush(self).await
    }

    fn changes(&self) -> ChangeFeed {
        self.inner
            .watching
            .get_or_init(|| self.watch_other_writers());
        self.inner.hub.subscribe()
    }

    async fn database_size(&self) -> Result<u64, StoreError> {
        self.call(limits::database_size).await
    }
}
