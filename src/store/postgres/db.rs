//! The driver's edge: error translation, one statement helper over a pooled
//! client or an open transaction, and the write transaction every mutating
//! call runs in (its audit records and wake-up go out just before the commit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object, Transaction};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{Row, Statement};

use crate::audit::AuditDraft;
use crate::domain::{ConversationId, Side, Timestamp};
use crate::store::StoreError;
use crate::store::sealed::{Sealer, Slot};

/// Statement parameters.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Translates driver errors into meanings; nothing tokio-postgres leaves this backend.
pub fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StoreError::Duplicate(Box::new(e)),
        Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => StoreError::NotFound,
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::LOCK_NOT_AVAILABLE =>
        {
            StoreError::Busy
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// A read-only repeatable-read transaction: one snapshot for a whole listing.
pub async fn snapshot(client: &mut Object) -> Result<Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)
}

/// Reads column `i` of `row`.
pub fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(pg_err)
}

/// Where statements run: a pooled client (reads) or a transaction.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    /// Autocommit, one statement at a time.
    Client(&'a ClientWrapper),
    /// Inside an open transaction.
    Tx(&'a Transaction<'a>),
    /// Inside a transaction on a connection of its own (no statement cache).
    Raw(&'a tokio_postgres::Transaction<'a>),
}

impl Db<'_> {
    /// `sql` prepared (once per connection: statements are cached).
    pub async fn prepare(&self, sql: &str) -> Result<Statement, StoreError> {
        self.stmt(sql).await
    }

    /// Runs the prepared `stmt`; the number of rows it changed. The
    /// statement goes out when the future is first polled.
    pub async fn exec_prepared(
        &self,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<u64, StoreError> {
        match self {
            Db::Client(c) => c.execute(stmt, params).await,
            Db::Tx(t) => t.execute(stmt, params).await,
            Db::Raw(t) => t.execute(stmt, params).await,
        }
        .map_err(pg_err)
    }

    async fn stmt(&self, sql: &str) -> Result<Statement, StoreError> {
        match self {
            Db::Client(c) => c.prepare_cached(sql).await,
            Db::Tx(t) => t.prepare_cached(sql).await,
            Db::Raw(t) => t.prepare(sql).await,
        }
        .map_err(pg_err)
    }

    /// Every row of `sql`.
    pub async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let stmt = self.stmt(sql).await?;
        self.query_prepared(&stmt, params).await
    }

    /// Every row of the prepared `stmt`, which goes out when the future is
    /// first polled.
    pub async fn query_prepared(
        &self,
        stmt: &Statement,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Client(c) => c.query(stmt, params).await,
            Db::Tx(t) => t.query(stmt, params).await,
            Db::Raw(t) => t.query(stmt, params).await,
        }
        .map_err(pg_err)
    }

    /// The row of `sql`, if any.
    pub async fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// The one row of `sql`.
    pub async fn one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        self.opt(sql, params).await?.ok_or(StoreError::NotFound)
    }

    /// Runs `sql`; the number of rows it changed.
    pub async fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let stmt = self.stmt(sql).await?;
        self.exec_prepared(&stmt, params).await
    }
}

/// A write transaction on a pooled connection, begun and ended by hand (not
/// through the driver's `Transaction`) so that its last statements and its
/// `COMMIT` can go out in one flight (see [`Write::commit_after`]).
///
/// Audit records are collected and staged by [`super::PgStore::finish`]
/// right before the commit (see `linker`): a write takes no lock for them.
/// Every transaction takes its locks in the same order (conversation or
/// inbox, rate buckets; the audit head only when linking), so none deadlock.
pub struct Write {
    /// `None` only once dropped.
    client: Option<Object>,
    /// Set once `COMMIT` or `ROLLBACK` has been answered.
    ended: AtomicBool,
    /// Set when the database stopped answering this transaction (see
    /// `deadline`): its connection is closed, never rolled back and reused.
    broken: AtomicBool,
    audit: Mutex<Vec<(Timestamp, AuditDraft)>>,
    wake: Mutex<Vec<String>>,
    sealer: Sealer,
    /// The current data-key epoch, read once in this transaction.
    epoch: Mutex<Option<i64>>,
    /// The store's tag in `NOTIFY` payloads (see `listen`).
    origin: Arc<str>,
    /// Statements left for the commit's flight (see [`Write::defer`]).
    deferred: Mutex<Vec<Deferred>>,
}

/// An owned statement parameter, kept until the commit's flight.
pub type Owned = Box<dyn ToSql + Sync + Send>;

/// A prepared statement and its parameters, sent with the commit.
pub(super) struct Deferred {
    stmt: Statement,
    params: Vec<Owned>,
}

impl Deferred {
    /// Runs it; sent when first polled.
    pub(super) async fn exec(&self, db: Db<'_>) -> Result<u64, StoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        db.exec_prepared(&self.stmt, &params).await
    }
}

impl Drop for Write {
    /// A transaction dropped before it ended (its call was cancelled, say by
    /// a client that went away, while a statement was in flight) must not go
    /// back to the pool as it is. A task sends `ROLLBACK` after whatever is
    /// in flight and returns the connection only once that has succeeded;
    /// otherwise (no runtime, an error, the task dropped at shutdown) the
    /// connection is closed and the server rolls the transaction back.
    /// Reusing it keeps a client that keeps hanging up from costing a new
    /// connection each time.
    fn drop(&mut self) {
        if *self.ended.get_mut() {
            return;
        }
        let Some(client) = self.client.take() else {
            return;
        };
        let closing = Closing(Some(client));
        if *self.broken.get_mut() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(closing.roll_back()));
        }
    }
}

/// How long a `ROLLBACK` is waited for before its connection is closed
/// instead (which rolls back as well, once the server notices).
const ROLLBACK_WAIT: Duration = Duration::from_secs(2);

/// A connection in an unknown transaction state: closed when dropped,
/// unless [`Closing::roll_back`] made it clean first.
struct Closing(Option<Object>);

impl Closing {
    async fn roll_back(mut self) {
        let clean = match &self.0 {
            Some(client) => matches!(
                tokio::time::timeout(ROLLBACK_WAIT, client.batch_execute("ROLLBACK")).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        if clean {
            // Back to the pool.
            drop(self.0.take());
        }
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            drop(Object::take(client));
        }
    }
}

impl Write {
    /// A transaction on `client`, not begun yet: [`Write::begin`] or
    /// [`Write::begin_with`] begins it.
    pub(super) fn new(client: Object, sealer: Sealer, origin: Arc<str>) -> Self {
        Self {
            client: Some(client),
            ended: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            audit: Mutex::new(Vec::new()),
            wake: Mutex::new(Vec::new()),
            sealer,
            epoch: Mutex::new(None),
            origin,
            deferred: Mutex::new(Vec::new()),
        }
    }

    /// Begins the transaction.
    pub(super) async fn begin(&self) -> Result<(), StoreError> {
        self.conn().batch_execute("BEGIN").await.map_err(pg_err)
    }

    /// Begins the transaction in the same flight as `first`'s statements,
    /// which then need no round trip of their own; what `first` returns.
    ///
    /// `first` may only read and lock, and change nothing but what would do
    /// no harm on its own (a rate-limit count, see
    /// [`super::ops::PreparedQuota`]): should `BEGIN` fail, its statements
    /// have run outside any transaction (and only the `BEGIN` error is
    /// returned). Its statements must be prepared before it
    /// sends the first of them (see [`Db::prepare`]), since a statement that
    /// waits for its preparation would go out after the ones polled later.
    /// The server runs them one after another, each with a fresh snapshot,
    /// exactly as if each had waited for the one before.
    pub(super) async fn begin_with<'a, T, Fut>(
        &'a self,
        first: impl FnOnce(&'a Self) -> Fut,
    ) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let (begun, first) = tokio::join!(biased; self.begin(), first(self));
        begun?;
        first
    }

    fn conn(&self) -> &ClientWrapper {
        // Only `drop` empties it.
        self.client
            .as_deref()
            .unwrap_or_else(|| unreachable!("a Write is used after drop"))
    }

    /// Statements inside this transaction.
    pub fn db(&self) -> Db<'_> {
        Db::Client(self.conn())
    }

    /// Sends `last` (whose statements must be prepared beforehand: it may
    /// not prepare anything once polled) and then `COMMIT` without waiting
    /// for `last`'s answer, so the two share one round trip. If a statement of `last` fails
    /// on the server, the transaction is aborted there and the `COMMIT`
    /// rolls it back; the statement's error is returned.
    pub async fn commit_after<F>(&self, last: F) -> Result<(), StoreError>
    where
        F: Future<Output = Result<(), StoreError>>,
    {
        let mut last = std::pin::pin!(last);
        // Polled once on its own first: it either has sent its statement and
        // waits, or failed before sending anything (then nothing may commit).
        let early = std::future::poll_fn(|cx| Poll::Ready(last.as_mut().poll(cx))).await;
        if let Poll::Ready(Err(e)) = early {
            self.rollback().await?;
            return Err(e);
        }
        let commit = self.conn().batch_execute("COMMIT");
        let (done, committed) = match early {
            Poll::Ready(done) => (done, commit.await),
            Poll::Pending => tokio::join!(last, commit),
        };
        self.ended.store(true, Ordering::Release);
        done?;
        committed.map_err(pg_err)
    }

    /// Commits.
    pub async fn commit(&self) -> Result<(), StoreError> {
        let committed = self.conn().batch_execute("COMMIT").await;
        self.ended.store(true, Ordering::Release);
        committed.map_err(pg_err)
    }

    /// Rolls back after `e`, which is returned: the caller's error matters,
    /// not whether the rollback reached a connection that may be gone.
    pub async fn abandon(&self, e: StoreError) -> StoreError {
        if self.broken.load(Ordering::Acquire) {
            return e;
        }
        match tokio::time::timeout(ROLLBACK_WAIT, self.rollback()).await {
            Ok(Ok(())) => {}
            Ok(Err(ended)) => tracing::debug!(error = %ended, "cannot roll back"),
            Err(_) => self.break_off(),
        }
        e
    }

    /// Gives the transaction up as one the database stopped answering: its
    /// connection is closed when this is dropped.
    pub fn break_off(&self) {
        self.broken.store(true, Ordering::Release);
    }

    /// Ends the transaction without keeping anything.
    pub async fn rollback(&self) -> Result<(), StoreError> {
        let rolled_back = self.conn().batch_execute("ROLLBACK").await;
        self.ended.store(true, Ordering::Release);
        rolled_back.map_err(pg_err)
    }

    /// The sealer values written and read in this transaction go through.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The current data-key epoch, read (and learnt) once per transaction.
    pub async fn epoch(&self) -> Result<i64, StoreError> {
        if let Some(epoch) = *lock(&self.epoch) {
            return Ok(epoch);
        }
        let epoch = super::keys::current_epoch(self.db(), &self.sealer).await?;
        *lock(&self.epoch) = Some(epoch);
        Ok(epoch)
    }

    /// The next message id, with the current epoch in the same round trip
    /// when this transaction has not read it yet.
    pub async fn next_message_id(&self) -> Result<i64, StoreError> {
        if lock(&self.epoch).is_some() {
            return get(
                &self.db().one("SELECT nextval('message_ids')", &[]).await?,
                0,
            );
        }
        let (epoch, id) = super::keys::current_epoch_and_next_id(self.db(), &self.sealer).await?;
        *lock(&self.epoch) = Some(epoch);
        Ok(id)
    }

    /// Seals `plain` for `slot` under the current epoch.
    pub async fn seal(&self, slot: Slot<'_>, plain: &str) -> Result<String, StoreError> {
        let epoch = self.epoch().await?;
        self.sealer.seal(epoch, slot, plain)
    }

    /// Appends `draft` to the audit chain when this transaction commits.
    pub fn audit(&self, at: Timestamp, draft: AuditDraft) {
        lock(&self.audit).push((at, draft));
    }

    /// The wake-up payload for `conversation`'s inboxes of `sides`.
    pub fn payload(&self, conversation: &ConversationId, sides: &[Side]) -> String {
        super::listen::payload(conversation, sides, &self.origin)
    }

    /// Wakes long-polls on every server when this transaction commits
    /// (`NOTIFY` is delivered at commit, and only if it commits). A message
    /// insert sends its own notification in its statement.
    pub fn wake(&self, payload: String) {
        let mut w = lock(&self.wake);
        if !w.contains(&payload) {
            w.push(payload);
        }
    }

    pub(super) fn take_audit(&self) -> Vec<(Timestamp, AuditDraft)> {
        std::mem::take(&mut *lock(&self.audit))
    }

    pub(super) fn take_wake(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.wake))
    }

    /// Sends the prepared `stmt` in the commit's flight rather than now (see
    /// [`super::PgStore::finish`]), so that it costs no round trip of its
    /// own: for a write whose answer nothing in the transaction waits for.
    /// Deferred statements run in the order they were deferred, after every
    /// statement sent directly; a failure rolls the transaction back and is
    /// the call's error.
    pub fn defer(&self, stmt: Statement, params: Vec<Owned>) {
        lock(&self.deferred).push(Deferred { stmt, params });
    }

    pub(super) fn take_deferred(&self) -> Vec<Deferred> {
        std::mem::take(&mut *lock(&self.deferred))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Only plain pushes happen under these locks; a panic cannot leave them half-done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
