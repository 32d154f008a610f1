//! Audit records of calls that change nothing, held briefly and appended in
//! batches; repeated refusals folded into summaries.
//!
//! An empty inbox check, a status read or a refused token would otherwise each
//! pay for a write transaction of their own just to append one audit record —
//! most of the cost of such a call. Instead the record waits here until this
//! process's next write transaction, or at most [`FLUSH_DELAY`], whichever comes
//! first, and is appended then (in order, before that transaction's own record).
//! Records of calls that do change something are appended in the same
//! transaction as the change.
//!
//! Refusals pass through [`RefusalFolder`] on the way in: a repeat of a
//! refusal within its window is only counted, and the window's summary record
//! is appended once the window has ended (a timer makes sure it does even if
//! nothing else happens) or when the store is dropped. The price of both: if
//! the process is killed with SIGKILL, the read-only calls of its last few
//! milliseconds, and the repeats of its last refusal window, go unrecorded.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::audit::AuditDraft;
use crate::audit::refusals::RefusalFolder;
use crate::domain::Timestamp;
use crate::store::StoreError;

/// Longest time a record waits before it is appended.
pub const FLUSH_DELAY: Duration = Duration::from_millis(2);

/// A store that spools: how [`defer`] reaches its spool and appends it.
pub trait Spooling: Clone + Send + Sync + 'static {
    /// The store's spool.
    fn spool(&self) -> &AuditSpool;

    /// Appends every spooled record now (the windows that ended first).
    fn flush_spooled(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Queues the audit record of a call that wrote nothing on `store`, and
/// schedules what makes sure it is appended: a flush within [`FLUSH_DELAY`],
/// and a timer for the end of a refusal window that counted it.
pub fn defer<S: Spooling>(store: &S, at: Timestamp, draft: AuditDraft) {
    let pushed = store.spool().push(at, draft);
    if pushed.counted {
        arm_window_timer(store);
    }
    if !pushed.schedule_flush {
        return;
    }
    let owned = store.clone();
    let flush = async move {
        tokio::time::sleep(FLUSH_DELAY).await;
        owned.spool().flush_started();
        if let Err(e) = owned.flush_spooled().await {
            tracing::error!(error = %crate::store::error_chain(&e), "cannot append spooled audit records; will retry with the next write");
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(flush)),
        // No runtime (a synchronous caller): the records are appended by
        // the next write or when the store is dropped.
        Err(_) => store.spool().flush_started(),
    }
}

/// Makes sure the summary of the earliest open refusal window is appended
/// when the window ends, even if no other call comes.
fn arm_window_timer<S: Spooling>(store: &S) {
    let Some(due) = store.spool().claim_window_timer() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime (a synchronous caller): summaries go out with the
        // next write or when the store is dropped.
        store.spool().window_timer_fired();
        return;
    };
    let store = store.clone();
    drop(runtime.spawn(async move {
        let wait = due.micros_since(Timestamp::now()).max(0);
        tokio::time::sleep(Duration::from_micros(wait.unsigned_abs())).await;
        store.spool().window_timer_fired();
        if let Err(e) = store.flush_spooled().await {
            tracing::error!(error = %crate::store::error_chain(&e), "cannot append refusal summaries; will retry with the next write");
        }
        arm_window_timer(&store);
    }));
}

#[derive(Debug, Default)]
struct Waiting {
    /// Records to append, oldest first.
    records: Vec<(Timestamp, AuditDraft)>,
    /// Refusal windows still counting repeats.
    folder: RefusalFolder,
}

/// What [`AuditSpool::push`] did, and what the caller must arrange.
#[derive(Debug, Clone, Copy)]
pub struct Pushed {
    /// A record was queued and no flush is scheduled yet: schedule one.
    pub schedule_flush: bool,
    /// The record was only counted as a repeat: its window's summary must be
    /// appended when the window ends.
    pub counted: bool,
}

/// Records waiting to be appended, and the refusal windows still open.
#[derive(Debug, Default)]
pub struct AuditSpool {
    waiting: Mutex<Waiting>,
    scheduled: AtomicBool,
    /// Whether a timer is set for the end of the earliest refusal window.
    window_timer: AtomicBool,
}

impl AuditSpool {
    /// Queues a record, or counts it as a repeat of a refusal.
    pub fn push(&self, at: Timestamp, draft: AuditDraft) -> Pushed {
        let queued = {
            let mut w = self.lock();
            let ready = w.folder.admit(at, draft);
            let queued = !ready.is_empty();
            w.records.extend(ready);
            queued
        };
        Pushed {
            schedule_flush: queued && !self.scheduled.swap(true, Ordering::AcqRel),
            counted: !queued,
        }
    }

    /// Marks the scheduled flush as started, so later records schedule another.
    pub fn flush_started(&self) {
        self.scheduled.store(false, Ordering::Release);
    }

    /// When the earliest refusal window with counted repeats ends, if no timer
    /// is set for it yet (claiming the timer).
    pub fn claim_window_timer(&self) -> Option<Timestamp> {
        let due = self.lock().folder.next_due()?;
        (!self.window_timer.swap(true, Ordering::AcqRel)).then_some(due)
    }

    /// Releases the window timer once it has fired.
    pub fn window_timer_fired(&self) {
        self.window_timer.store(false, Ordering::Release);
    }

    /// Whether nothing is waiting (no record, no repeat to summarise).
    pub fn is_empty(&self) -> bool {
        let w = self.lock();
        w.records.is_empty() && !w.folder.holds_refusals()
    }

    /// Whether records are waiting to be appended (open windows aside).
    pub fn has_records(&self) -> bool {
        !self.lock().records.is_empty()
    }

    /// Moves the summaries of refusal windows that ended by `now` (all of
    /// them with `all`) to the records waiting.
    pub fn close_windows(&self, now: Timestamp, all: bool) {
        let mut w = self.lock();
        let due = if all {
            w.folder.take_all()
        } else {
            w.folder.take_due(now)
        };
        w.records.extend(due);
    }

    /// Runs `append` on the waiting records (oldest first) and returns how
    /// many; call [`AuditSpool::forget`] with that number once the transaction
    /// they were appended in has committed (if it rolls back, they stay
    /// queued). For a backend whose writes are serialised by one connection.
    pub fn append_all<E>(
        &self,
        append: impl FnOnce(&[(Timestamp, AuditDraft)]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let records = self.lock();
        append(&records.records)?;
        Ok(records.records.len())
    }

    /// Takes every waiting record out, for a backend whose writes run
    /// concurrently: each record goes to exactly one transaction. Hand them
    /// back with [`AuditSpool::put_back`] if that transaction fails.
    pub fn take(&self) -> Vec<(Timestamp, AuditDraft)> {
        std::mem::take(&mut self.lock().records)
    }

    /// Returns records taken by [`AuditSpool::take`] whose transaction failed,
    /// ahead of any queued since, so the trail keeps their order.
    pub fn put_back(&self, mut taken: Vec<(Timestamp, AuditDraft)>) {
        if taken.is_empty() {
            return;
        }
        let mut w = self.lock();
        taken.append(&mut w.records);
        w.records = taken;
    }

    /// Drops the first `n` records, which a committed transaction appended.
    pub fn forget(&self, n: usize) {
        let mut w = self.lock();
        let n = n.min(w.records.len());
        w.records.drain(..n);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // The state is always consistent between statements; a panic
        // elsewhere while holding the lock does not invalidate it.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}
