//! Where SQLite work runs: on the runtime thread or on Tokio's blocking pool.
//!
//! rusqlite blocks, and a runtime thread that blocks stalls every other call
//! it serves (every client of `serve --http`). The rule:
//! - A per-call operation ([`SqliteStore::call`]) touches a handful of rows
//!   and takes tens of microseconds, less than handing it to another thread
//!   would cost, so it runs right on the runtime thread. While this process's
//!   connection is busy it waits for it as a parked task (an async lock: no
//!   thread is handed the work or blocked), then runs. If another process
//!   holds the database's lock, it runs again from the start on the blocking
//!   pool, where waiting is allowed (the busy handler refuses to wait on a
//!   runtime thread).
//! - A write ([`SqliteStore::write`]) is such an operation too, except with
//!   `durability = "full"`: then its commit waits for the disk, so every
//!   write goes to the blocking pool.
//! - An operation whose cost grows with the data (a whole-database read, an
//!   audit chain walk, a backup, a cleanup, an import:
//!   [`SqliteStore::call_off_thread`], [`SqliteStore::write_large`]) always
//!   runs on the blocking pool.

use std::sync::Arc;

use rusqlite::Connection;

use super::tx::WriteTx;
use super::{SqliteStore, open};
use crate::domain::{ConversationId, Timestamp};
use crate::store::{Conversation, StoreError};

impl SqliteStore {
    /// Runs the per-call operation `op` on the connection: inline when that
    /// cannot wait, otherwise on the blocking pool (see the module doc).
    pub(super) async fn call<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        {
            let mut conn = self.inner.conn.lock().await;
            match op(&mut conn) {
                Err(StoreError::Busy) => {}
                done => return done,
            }
        }
        self.call_off_thread(op).await
    }

    /// Runs `op` on the connection on the blocking pool, never on the
    /// runtime thread: for operations whose cost grows with the data.
    pub(super) async fn call_off_thread<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave the connection in a
            // half-written state (transactions roll back on drop).
            let mut conn = inner.conn.blocking_lock();
            open::allow_waiting(|| op(&mut conn))
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
    }

    /// Runs the per-call `op` in an immediate transaction, committing on
    /// success. Spooled audit records are appended first, so the chain keeps
    /// call order. When `op` fails with a quota refusal, the spooled records
    /// are committed anyway.
    pub(super) async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_on(op, !self.inner.inline_writes).await
    }

    /// [`Self::write`] of `op` for a call whose rule `admit` runs on
    /// `conversation` as the transaction reads it (`None`: it is gone):
    /// `op` gets the conversation and the rule's decision; a refusal comes
    /// back as `Ok(Err(_))` before anything is written.
    pub(super) async fn write_admitted<T, R, A, F, Op>(
        &self,
        conversation: ConversationId,
        admit: F,
        op: Op,
    ) -> Result<Result<T, R>, StoreError>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Option<&Conversation>) -> Result<A, R> + Send + Sync + 'static,
        Op: Fn(&WriteTx<'_>, Conversation, A) -> Result<T, StoreError> + Send + 'static,
    {
        self.write(move |tx| {
            let found = super::ops::conversation(tx.opener(), tx, &conversation)?;
            let decided = match admit(found.as_ref()) {
                Ok(decided) => decided,
                // Nothing written yet: the commit only ends the read.
                Err(refused) => return Ok(Err(refused)),
            };
            let found = found.ok_or(StoreError::NotFound)?;
            op(tx, found, decided).map(Ok)
        })
        .await
    }

    /// [`Self::write`] for a transaction whose size grows with the data (a
    /// cleanup, an import): always on the blocking pool.
    pub(super) async fn write_large<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_on(op, true).await
    }

    async fn write_on<T, F>(&self, op: F, off_thread: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let spool = Arc::clone(&self.inner.spool);
        let inner = Arc::clone(&self.inner);
        spool.close_windows(Timestamp::now(), false);
        let transaction = move |conn: &mut Connection| {
            let tx = WriteTx::begin(conn, &inner.audit_key, &inner.signed_head, &inner.sealer)?;
            let spooled = super::audit::append_spooled(&tx, &spool)?;
            let result = match op(&tx) {
                Ok(value) => Ok(value),
                Err(refusal @ StoreError::QuotaExceeded(_)) => Err(refusal),
                Err(e) => return Err(e),
            };
            tx.commit()?;
            spool.forget(spooled);
            result
        };
        let result = if off_thread {
            self.call_off_thread(transaction).await
        } else {
            self.call(transaction).await
        };
        // Spawned, so it runs only after this call (and any announcement) is done.
        self.checkpoint_if_due();
        result
    }
}

#[cfg(test)]
mod tests {
    use std::thread::{self, ThreadId};

    use super::*;
    use crate::audit::AuditKey;
    use crate::auth::ServerKey;
    use crate::store::sealed::Sealer;
    use crate::store::sqlite::{Durability, OpenMode};

    fn store(dir: &tempfile::TempDir, durability: Durability) -> SqliteStore {
        let path = dir.path().join("bridge.db");
        SqliteStore::prepare(&path).expect("prepare");
        SqliteStore::open(
            &path,
            OpenMode::Create,
            durability,
            AuditKey::from_bytes(&[5; 32]),
            Sealer::new(&ServerKey::from_bytes([6; 32])),
        )
        .expect("open")
    }

    fn here() -> ThreadId {
        thread::current().id()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn per_call_work_runs_inline_and_data_sized_work_off_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir, Durability::Normal);
        let me = here();
        assert_eq!(store.call(|_| Ok(here())).await.expect("call"), me);
        assert_ne!(
            store.call_off_thread(|_| Ok(here())).await.expect("off"),
            me
        );
        assert_eq!(store.write(|_| Ok(here())).await.expect("write"), me);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writes_that_wait_for_the_disk_run_off_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir, Durability::Full);
        let me = here();
        assert_ne!(store.write(|_| Ok(here())).await.expect("write"), me);
        assert_eq!(store.call(|_| Ok(here())).await.expect("read"), me);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_that_waits_for_the_connection_waits_as_a_task_and_runs_inline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(&dir, Durability::Normal);
        let held = store.inner.conn.lock().await;
        let me = here();
        let call = store.call(|_| Ok(here()));
        let release = async {
            tokio::task::yield_now().await;
            drop(held);
        };
        let (ran_on, ()) = tokio::join!(call, release);
        assert_eq!(ran_on.expect("call"), me);
    }
}
