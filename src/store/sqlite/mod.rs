//! The SQLite backend: one long-lived connection per process, WAL mode, every
//! SQLite SQL string of the crate (here and in `migrations/sqlite/`).
//!
//! rusqlite calls block, so each operation runs on Tokio's blocking pool with
//! the connection behind a std `Mutex` (held only for the operation, never
//! across an `.await`). Writes use `BEGIN IMMEDIATE`, which takes the
//! database's single write lock up front: concurrent writers in other processes
//! queue on the busy handler instead of failing halfway through a transaction.

mod open;
mod ops;
mod wake;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

pub use open::{Durability, OpenMode, SCHEMA_VERSION};

use self::wake::WakeFile;
use super::signal::ChangeHub;
use super::{ChangeFeed, Conversation, Guard, NewConversation, NewMessage, Page, StatusRecord, Store, StoreError};
use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::{ConversationId, Side, Timestamp};

/// How often a long-poll re-checks the database even without a wake-up.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

/// Translates rusqlite errors into meanings; nothing rusqlite leaves this module.
pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Busy,
            ErrorCode::ConstraintViolation => match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound,
                _ => StoreError::Conflict(e.to_string()),
            },
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Backend(Box::new(e)),
        },
        _ => StoreError::Backend(Box::new(e)),
    }
}

struct Inner {
    conn: Mutex<Connection>,
    path: PathBuf,
    hub: Arc<ChangeHub>,
    wake: WakeFile,
    watching: OnceLock<()>,
}

/// A [`Store`] on one SQLite file shared by any number of processes.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// See [`open::open`].
    pub fn open(path: &Path, mode: OpenMode, durability: Durability) -> Result<Self, StoreError> {
        let conn = open::open(path, mode, durability)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                path: path.to_owned(),
                hub: Arc::new(ChangeHub::new(FALLBACK_POLL)),
                wake: WakeFile::open(path),
                watching: OnceLock::new(),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `op` on the connection on the blocking pool.
    async fn call<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave the connection in a
            // half-written state (transactions roll back on drop), so a
            // poisoned mutex is safe to keep using.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            op(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// Runs `op` in an immediate transaction, committing on success. When `op`
    /// fails with a quota refusal, the refusal's audit record is committed too.
    async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.call(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_err)?;
            match op(&tx) {
                Ok(value) => {
                    tx.commit().map_err(sql_err)?;
                    Ok(value)
                }
                Err(refusal @ StoreError::QuotaExceeded(_)) => {
                    tx.commit().map_err(sql_err)?;
                    Err(refusal)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Tells waiters in this and other processes that a message was stored.
    fn announce_message(&self) {
        self.inner.hub.notify();
        self.inner.wake.touch();
    }
}

impl Store for SqliteStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let id = id.clone();
        self.call(move |conn| ops::conversation(conn, &id)).await
    }

    async fn create_conversation(&self, new: NewConversation, guard: Guard) -> Result<(), StoreError> {
        self.write(move |tx| {
            ops::create_conversation(tx, &new)?;
            ops::append_audit(tx, guard.at, guard.audit)
        })
        .await
    }

    async fn send_message(&self, message: NewMessage, guard: Guard) -> Result<i64, StoreError> {
        let id = self
            .write(move |tx| {
                ops::spend_quota(tx, &guard)?;
                let id = ops::insert_message(tx, &message)?;
                ops::append_audit(tx, guard.at, guard.audit)?;
                Ok(id)
            })
            .await?;
        self.announce_message();
        Ok(id)
    }

    async fn take_messages(
        &self,
        conversation: ConversationId,
        recipient: Side,
        limit: u32,
        final_attempt: bool,
        guard: Guard,
    ) -> Result<Option<Page>, StoreError> {
        self.write(move |tx| {
            ops::spend_quota(tx, &guard)?;
            let page = ops::take_messages(tx, &conversation, recipient, limit, guard.at)?;
            if page.messages.is_empty() && !final_attempt {
                // Nothing to hand out yet and the caller will try again: leave no trace.
                return Ok(None);
            }
            let mut draft = guard.audit;
            draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
            ops::append_audit(tx, guard.at, draft)?;
            Ok(Some(page))
        })
        .await
    }

    async fn has_pending(&self, conversation: &ConversationId, recipient: Side) -> Result<bool, StoreError> {
        let conversation = conversation.clone();
        self.call(move |conn| ops::has_pending(conn, &conversation, recipient)).await
    }

    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        if guard.quota.is_none() {
            return Ok(());
        }
        self.write(move |tx| ops::spend_quota(tx, &guard)).await
    }

    async fn set_status(&self, conversation: ConversationId, side: Side, status: StatusRecord, guard: Guard) -> Result<(), StoreError> {
        self.write(move |tx| {
            ops::spend_quota(tx, &guard)?;
            ops::set_status(tx, &conversation, side, &status)?;
            ops::append_audit(tx, guard.at, guard.audit)
        })
        .await
    }

    async fn observe_conversation(&self, conversation: ConversationId, guard: Guard) -> Result<Conversation, StoreError> {
        self.write(move |tx| {
            ops::spend_quota(tx, &guard)?;
            let found = ops::conversation(tx, &conversation)?.ok_or(StoreError::NotFound)?;
            ops::append_audit(tx, guard.at, guard.audit)?;
            Ok(found)
        })
        .await
    }

    async fn append_audit(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        self.write(move |tx| ops::append_audit(tx, at, draft)).await
    }

    async fn audit_records(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.call(move |conn| ops::audit_records(conn, after_seq, limit)).await
    }

    fn changes(&self) -> ChangeFeed {
        self.inner.watching.get_or_init(|| self.inner.wake.watch(Arc::clone(&self.inner.hub)));
        self.inner.hub.subscribe()
    }
}
