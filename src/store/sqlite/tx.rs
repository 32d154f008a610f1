//! The transactions store operations run in: a read snapshot, or the write lock.

use std::cell::Cell;
use std::sync::Mutex;

use rusqlite::Connection;

use super::{keys, sql_err};
use crate::audit::{AuditKey, ChainHead};
use crate::store::StoreError;
use crate::store::sealed::{Epoch, Sealer, Slot};

/// An immediate write transaction driven by cached statements: rusqlite's own
/// `Transaction` parses `BEGIN`/`COMMIT` text on every use, which costs more
/// than a whole small tool call's SQL. Rolls back when dropped uncommitted.
/// Carries the audit key, since every write appends to the keyed chain, and
/// the sealer, since message texts, notes and commands are written sealed.
pub struct WriteTx<'c> {
    conn: &'c Connection,
    audit_key: &'c AuditKey,
    /// The chain head this process last signed (see [`WriteTx::head_is_trusted`]).
    signed_head: &'c Mutex<Option<ChainHead>>,
    sealer: &'c Sealer,
    /// The current data-key epoch, read once under this transaction's write
    /// lock the first time a value is sealed: a rotation committed before it
    /// is always seen, so no process seals under a key being retired.
    epoch: Cell<Option<i64>>,
    open: bool,
}

impl<'c> WriteTx<'c> {
    /// Takes the database's write lock (`BEGIN IMMEDIATE`).
    pub fn begin(
        conn: &'c Connection,
        audit_key: &'c AuditKey,
        signed_head: &'c Mutex<Option<ChainHead>>,
        sealer: &'c Sealer,
    ) -> Result<Self, StoreError> {
        conn.prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_err)?;
        Ok(Self {
            conn,
            audit_key,
            signed_head,
            sealer,
            epoch: Cell::new(None),
            open: true,
        })
    }

    /// The key audit records are sealed with.
    pub fn audit_key(&self) -> &AuditKey {
        self.audit_key
    }

    /// Whether `head`, as read from the database, is the very head this
    /// process last signed with the audit key. Its MAC is then known to
    /// verify (the MAC is a function of the fields and the key), so checking
    /// it again — one HMAC per append — can be skipped. Any other head, e.g.
    /// one another process wrote or someone edited, is checked in full.
    pub fn head_is_trusted(&self, head: &ChainHead) -> bool {
        self.signed_head
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|signed| signed == head)
    }

    /// Remembers `head` as signed by this process with the audit key. Even
    /// if this transaction rolls back, the head's MAC stays right for its
    /// fields, which is all [`WriteTx::head_is_trusted`] relies on.
    pub fn signed(&self, head: ChainHead) {
        *self.signed_head.lock().unwrap_or_else(|p| p.into_inner()) = Some(head);
    }

    /// The current data-key epoch (read once per transaction).
    pub fn epoch(&self) -> Result<i64, StoreError> {
        if let Some(epoch) = self.epoch.get() {
            return Ok(epoch);
        }
        let epoch = keys::current_epoch(self.conn, self.sealer)?;
        self.epoch.set(Some(epoch));
        Ok(epoch)
    }

    /// Takes `epoch` as the current one, as read under this transaction's
    /// write lock by a statement that needed other columns too (saving the
    /// separate read [`WriteTx::epoch`] would do).
    pub fn adopt_epoch(&self, epoch: Epoch) {
        self.sealer.learn(&epoch);
        self.epoch.set(Some(epoch.number));
    }

    /// `plain` sealed for `slot` under the current data key.
    pub fn seal(&self, slot: Slot<'_>, plain: &str) -> Result<String, StoreError> {
        self.sealer.seal(self.epoch()?, slot, plain)
    }

    /// What row decoders open values with in this transaction.
    pub fn opener(&self) -> keys::Opener<'_> {
        keys::Opener::new(self.conn, self.sealer)
    }

    /// A stored value of `slot`, opened.
    pub fn open_value(&self, slot: Slot<'_>, stored: String) -> Result<String, StoreError> {
        keys::open(self.conn, self.sealer, slot, stored)
    }

    /// Commits (rolling back if the commit fails).
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.open = false;
        let done = self
            .conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
        done.map(|_| ()).map_err(sql_err)
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}

/// A deferred (read) transaction: one snapshot for all reads inside it. Ends
/// when dropped; it never writes, so rolling back is the same as committing.
pub struct ReadTx<'c> {
    conn: &'c Connection,
}

impl<'c> ReadTx<'c> {
    /// Starts a read transaction (one consistent snapshot).
    pub fn begin(conn: &'c Connection) -> Result<Self, StoreError> {
        conn.prepare_cached("BEGIN DEFERRED")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_err)?;
        Ok(Self { conn })
    }
}

impl std::ops::Deref for ReadTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for ReadTx<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut s| s.execute([]));
        }
    }
}
