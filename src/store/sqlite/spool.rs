//! Audit records of calls that change nothing, held briefly and appended in
//! batches.
//!
//! An empty inbox check, a status read or a refused token would otherwise each
//! pay for a write transaction of their own just to append one audit record —
//! most of the cost of such a call. Instead the record waits here until this
//! process's next write transaction, or at most [`FLUSH_DELAY`], whichever comes
//! first, and is appended then (in order, before that transaction's own record).
//! Records of calls that do change something are appended in the same
//! transaction as the change. The price: if the process is killed with SIGKILL,
//! the read-only calls of its last few milliseconds go unrecorded.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;

use super::ops;
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::StoreError;

/// Longest time a record waits before it is appended.
pub const FLUSH_DELAY: Duration = Duration::from_millis(2);

/// Records waiting to be appended, oldest first.
#[derive(Debug, Default)]
pub struct AuditSpool {
    records: Mutex<Vec<(Timestamp, AuditDraft)>>,
    scheduled: AtomicBool,
}

impl AuditSpool {
    /// Queues a record; returns whether the caller must schedule a flush.
    pub fn push(&self, at: Timestamp, draft: AuditDraft) -> bool {
        self.lock().push((at, draft));
        !self.scheduled.swap(true, Ordering::AcqRel)
    }

    /// Marks the scheduled flush as started, so later records schedule another.
    pub fn flush_started(&self) {
        self.scheduled.store(false, Ordering::Release);
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Appends every waiting record inside the open transaction `tx` and
    /// returns how many; call [`AuditSpool::forget`] with that number once the
    /// transaction has committed (if it rolls back, they stay queued).
    pub fn append_all(&self, tx: &Connection) -> Result<usize, StoreError> {
        let records = self.lock();
        for (at, draft) in records.iter() {
            ops::append_audit(tx, *at, draft)?;
        }
        Ok(records.len())
    }

    /// Drops the first `n` records, which a committed transaction appended.
    pub fn forget(&self, n: usize) {
        let mut records = self.lock();
        let n = n.min(records.len());
        records.drain(..n);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Timestamp, AuditDraft)>> {
        // The vector is always in a consistent state; a panic elsewhere
        // while holding the lock does not invalidate it.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}
