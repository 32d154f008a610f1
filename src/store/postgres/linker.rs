//! Deferred linking of the audit chain on PostgreSQL.
//!
//! Every write appends to the one keyed chain, and extending it means
//! holding the chain head's lock from reading the head to the commit. With
//! many servers on one database that lock, not the messages, set the pace:
//! each transaction held it for a round trip and a commit. So a write only
//! *stages* its records, in `audit_pending`, in the same transaction as what
//! they record (a record exists exactly when its change committed), and takes
//! no shared lock for them. After the commit a linker moves the staged
//! records into the chain, many at a time, under the head lock as before.
//!
//! Who links: each server's linker task after its own commits; every reader
//! of the trail (`audit`, `--verify`, cleanup's prune, the console) before it
//! reads, so a reader never misses a record committed before it asked; a
//! process that exits with records of its own still staged; and a process
//! opening the database, for what a killed one left. The last two only try
//! the lock: they block a thread, which must never wait for a linker that
//! may be a task needing that thread. A staged record is not
//! yet protected by the chain, for the ~100 ms until a linker runs (or, if
//! every process died at once, until the next one starts or writes).
//!
//! Linkers exclude each other with a transaction-scoped advisory lock. A
//! server's linker only *tries* it: whoever holds it, reader or linker,
//! checks the stage again after its commit (and tries again), so a record
//! committed before a failed try is linked by the holder's next pass, or by
//! the one that holder in turn found at work. Readers wait for it instead.
//!
//! Linking on a database that stopped answering is given up at the
//! transactions' deadline ([`deadline::linking`]): the pass under way rolls
//! back with its closed connection, and its records stay staged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::Notify;
use tokio_postgres::{Client, Statement};

use super::db::{Db, get, pg_err};
use super::deadline;
use super::{Inner, audit};
use crate::audit::{AuditDraft, AuditKey, Outcome};
use crate::domain::Timestamp;
use crate::store::StoreError;

// Both answer whether the lock is held, in their second column.
const TRY_LOCK: &str = "SELECT 0, pg_try_advisory_xact_lock(hashtext('mcp_bridge.audit_link'))";
const WAIT_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('mcp_bridge.audit_link')), true";

/// How long a server's linker lets commits gather before it links them:
/// a pass per commit would cost more than the chain head's lock it saves.
const LINK_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Records moved into the chain per transaction.
const BATCH: i64 = 2000;

const STAGE: &str = "INSERT INTO audit_pending (at, actor, action, conversation_id, side, outcome, code, bytes, count, detail)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[])";

/// Prepares the statement that stages records (on this connection's cache),
/// so that [`stage`] sends it the moment it is polled and it can share a
/// flight with the `COMMIT`.
pub async fn prepare(db: Db<'_>) -> Result<Statement, StoreError> {
    db.prepare(STAGE).await
}

/// Stages `records` in order with the prepared [`STAGE`] statement.
pub async fn stage(
    db: Db<'_>,
    statement: &Statement,
    records: &[(Timestamp, AuditDraft)],
) -> Result<(), StoreError> {
    let text = |f: fn(&AuditDraft) -> Option<String>| -> Vec<Option<String>> {
        records.iter().map(|(_, d)| f(d)).collect()
    };
    let number = |f: fn(&AuditDraft) -> Option<i64>| -> Vec<Option<i64>> {
        records.iter().map(|(_, d)| f(d)).collect()
    };
    let at: Vec<i64> = records.iter().map(|(at, _)| at.as_micros()).collect();
    db.exec_prepared(
        statement,
        &[
            &at,
            &text(|d| Some(d.actor.to_owned())),
            &text(|d| Some(d.action.clone())),
            &text(|d| d.conversation.clone()),
            &text(|d| d.side.clone()),
            &text(|d| Some(d.outcome.as_str().to_owned())),
            &text(|d| d.code.clone()),
            &number(|d| d.bytes),
            &number(|d| d.count),
            &text(|d| d.detail.clone()),
        ],
    )
    .await?;
    Ok(())
}

/// What one linking transaction did.
enum Pass {
    /// Another linker holds the lock (only when trying).
    Busy,
    /// This many records were linked.
    Linked(usize),
}

/// Moves up to [`BATCH`] staged records into the chain, oldest first.
async fn pass(client: &mut Client, key: &AuditKey, wait: bool) -> Result<Pass, StoreError> {
    let tx = client.transaction().await.map_err(pg_err)?;
    let locked: bool = get(
        &tx.query_one(if wait { WAIT_LOCK } else { TRY_LOCK }, &[])
            .await
            .map_err(pg_err)?,
        1,
    )?;
    if !locked {
        tx.rollback().await.map_err(pg_err)?;
        return Ok(Pass::Busy);
    }
    let rows = tx
        .query(
            "DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1)
             RETURNING id, at, actor, action, conversation_id, side, outcome, code, bytes, count, detail",
            &[&BATCH],
        )
        .await
        .map_err(pg_err)?;
    let mut staged = rows
        .iter()
        .map(|row| Ok((get::<i64>(row, 0)?, decode(row)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    staged.sort_unstable_by_key(|(id, _)| *id);
    let records: Vec<_> = staged.into_iter().map(|(_, record)| record).collect();
    audit::append_all(Db::Raw(&tx), key, &records).await?;
    tx.commit().await.map_err(pg_err)?;
    Ok(Pass::Linked(records.len()))
}

/// A staged row as the record it will be linked as.
fn decode(row: &tokio_postgres::Row) -> Result<(Timestamp, AuditDraft), StoreError> {
    let outcome: String = get(row, 6)?;
    // Only this build's writers stage rows; an outcome it cannot read is
    // kept visible as an error rather than dropped.
    let outcome = Outcome::parse(&outcome).unwrap_or(Outcome::Error);
    Ok((
        Timestamp::from_micros(get(row, 1)?),
        audit::decode_draft(row, outcome)?,
    ))
}

/// Links every record staged before the call, waiting for the lock; then,
/// like every holder, looks again after its commit for records whose
/// writers found the lock busy meanwhile and left them to it.
pub async fn link_all(client: &mut Client, key: &AuditKey) -> Result<(), StoreError> {
    while let Pass::Linked(n) = pass(client, key, true).await? {
        if i64::try_from(n).unwrap_or(i64::MAX) < BATCH {
            break;
        }
    }
    link_if_free(client, key).await
}

/// Links everything staged while the lock is free; returns at once when
/// another linker holds it (that one checks the stage again after its
/// commit). For callers that block a thread: they must never wait for a
/// linker that may need that very thread to finish.
pub async fn link_if_free(client: &mut Client, key: &AuditKey) -> Result<(), StoreError> {
    while link_some(client, key).await? {}
    Ok(())
}

/// One pass if the lock is free; whether records are still staged after it.
/// When another linker holds the lock, there is nothing to do: it checks
/// again after its commit.
async fn link_some(client: &mut Client, key: &AuditKey) -> Result<bool, StoreError> {
    match pass(client, key, false).await? {
        Pass::Busy => Ok(false),
        Pass::Linked(n) if i64::try_from(n).unwrap_or(i64::MAX) >= BATCH => Ok(true),
        // After the commit released the lock: anything staged by a writer
        // whose try failed while this pass held it is visible now.
        Pass::Linked(_) => get(
            &client
                .query_one("SELECT EXISTS (SELECT 1 FROM audit_pending)", &[])
                .await
                .map_err(pg_err)?,
            0,
        ),
    }
}

/// A process's linker: a task started on the first commit that staged
/// records, woken after each such commit (wake-ups that come while it works
/// fold into one more round). Started again if the runtime it ran on ended
/// (a command's short-lived runtime, say) and a later commit runs on another.
#[derive(Default)]
pub struct Linker {
    wake: Arc<Notify>,
    /// Whether a task is running (cleared by the task's guard when it ends).
    running: Arc<AtomicBool>,
    /// Commits of this process that staged records, counted.
    staged: AtomicU64,
    /// The count of `staged` as it was when a pass that then linked
    /// everything began: until it catches up, records may be owed. (A pass
    /// cut short, say by a runtime shutting down, moves nothing.)
    linked: AtomicU64,
}

impl Linker {
    /// Called after a commit that staged records.
    pub fn staged(&self, owner: &Arc<Inner>) {
        self.staged.fetch_add(1, Ordering::AcqRel);
        if !self.running.swap(true, Ordering::AcqRel) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let task = run(
                        Arc::downgrade(owner),
                        Arc::clone(&self.wake),
                        Running(Arc::clone(&self.running)),
                    );
                    drop(runtime.spawn(task));
                }
                Err(_) => self.running.store(false, Ordering::Release),
            }
        }
        self.wake.notify_one();
    }

    /// True when records this process staged may still be unlinked.
    pub fn owes(&self) -> bool {
        self.linked.load(Ordering::Acquire) < self.staged.load(Ordering::Acquire)
    }
}

/// Links on a pooled connection: everything staged ([`link_all`]) when
/// `wait`, else one pass if the lock is free. Whether more may be staged.
pub async fn link_pooled(inner: &Inner, wait: bool) -> Result<bool, StoreError> {
    let from = inner.linker.staged.load(Ordering::Acquire);
    let key = &inner.audit_key;
    let more = deadline::linking(inner.client().await?, async |client| match wait {
        true => link_all(client, key).await.map(|()| false),
        false => link_some(client, key).await,
    })
    .await?;
    // Everything this process staged before the pass is linked (after a
    // busy try, the lock's holder links it).
    inner.linker.linked.fetch_max(from, Ordering::AcqRel);
    Ok(more)
}

/// Held by the linker task: marks it ended however it ends (its runtime
/// dropping it included).
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

async fn run(owner: Weak<Inner>, wake: Arc<Notify>, _running: Running) {
    loop {
        wake.notified().await;
        loop {
            // Commits that come meanwhile fold into this pass.
            tokio::time::sleep(LINK_DELAY).await;
            let Some(inner) = owner.upgrade() else {
                return;
            };
            match link_pooled(&inner, false).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::error!(error = %crate::store::error_chain(&e), "cannot link staged audit records into the chain; will retry with the next write");
                    break;
                }
            }
        }
    }
}

impl Drop for Linker {
    /// Lets the task see that its store is gone and end.
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}
