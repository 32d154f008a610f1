//! The transactions store operations run in: a read snapshot, or the write lock.

use rusqlite::Connection;

use super::sql_err;
use crate::audit::AuditKey;
use crate::store::StoreError;

/// An immediate write transaction driven by cached statements: rusqlite's own
/// `Transaction` parses `BEGIN`/`COMMIT` text on every use, which costs more
/// than a whole small tool call's SQL. Rolls back when dropped uncommitted.
/// Carries the audit key, since every write appends to the keyed chain.
pub struct WriteTx<'c> {
    conn: &'c Connection,
    audit_key: &'c AuditKey,
    open: bool,
}

impl<'c> WriteTx<'c> {
    /// Takes the database's write lock (`BEGIN IMMEDIATE`).
    pub fn begin(conn: &'c Connection, audit_key: &'c AuditKey) -> Result<Self, StoreError> {
        conn.prepare_cached("BEGIN IMMEDIATE")
            .and_then(|mut s| s.execute([]))
            .map_err(sql_err)?;
        Ok(Self {
            conn,
            audit_key,
            open: true,
        })
    }

    /// The key audit records are sealed with.
    pub fn audit_key(&self) -> &AuditKey {
        self.audit_key
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
