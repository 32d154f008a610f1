//! The PostgreSQL backend: a connection pool per process, every PostgreSQL
//! SQL string of the crate (here and in `migrations/postgres/`), for teams
//! whose agents run on several hosts against one shared database.
//!
//! Several `serve` processes on several hosts write at once under READ
//! COMMITTED, so where SQLite relies on its single writer this backend takes
//! row locks (see `migrations/postgres/0001_init.sql` for which and why).
//! tokio-postgres is async, so nothing here blocks a runtime thread.

mod admin;
mod audit;
mod db;
mod listen;
mod migrate;
mod ops;
mod team;
mod yolo;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use migrate::SCHEMA_VERSION;

use self::db::{Db, Write, pg_err};
use super::signal::ChangeHub;
use super::spool::{self, AuditSpool};
use super::{
    ChangeFeed, ClientBinding, Conversation, Guard, Joined, Lease, NewConversation, NewInvite,
    NewMessage, Page, PageLimit, Pending, ProcessStamp, Receipt, StatusRecord, Store, StoreError,
    Unread,
};
use crate::audit::{AuditDraft, AuditKey, AuditRecord};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::Quota;
use crate::store::sqlite::Durability;

/// Runs `$body` (an expression using the [`Write`] `$w`) in a write
/// transaction and finishes it (see [`PgStore::finish`]).
macro_rules! in_tx {
    ($store:expr, |$w:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $w = Write::new(client.transaction().await.map_err(pg_err)?);
        let result = async { $body }.await;
        $store.finish($w, result).await
    }};
}
pub(crate) use in_tx;

/// How often a long-poll re-checks even without a notification: only a
/// safety net, since `NOTIFY` reaches every listening server at commit.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Connections per process: a server's calls are short, and many servers
/// (one per agent) share one database's connection limit.
const POOL_SIZE: usize = 4;

/// Whether `db` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A connection URL whose password never reaches `Debug` or `Display`.
#[derive(Clone)]
pub struct PgUrl(String);

impl PgUrl {
    /// Wraps `url` if it is a PostgreSQL URL.
    pub fn parse(url: &str) -> Option<Self> {
        is_url(url).then(|| Self(url.to_owned()))
    }

    /// The URL itself, password included (for connecting only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PgUrl {
    /// The URL with any password replaced by `***`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        let (authority, tail) = rest
            .split_once('/')
            .map_or((rest, None), |(a, t)| (a, Some(t)));
        let authority = match authority.rsplit_once('@') {
            Some((user, host)) => match user.split_once(':') {
                Some((name, _)) => format!("{name}:***@{host}"),
                None => format!("{user}@{host}"),
            },
            None => authority.to_owned(),
        };
        // A password may also come as a query parameter.
        let tail = tail.map(|t| match t.split_once('?') {
            Some((path, query)) if query.contains("password") => format!("{path}?***"),
            _ => t.to_owned(),
        });
        match tail {
            Some(t) => write!(f, "{scheme}://{authority}/{t}"),
            None => write!(f, "{scheme}://{authority}"),
        }
    }
}

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

struct Inner {
    pool: Pool,
    config: tokio_postgres::Config,
    url: PgUrl,
    hub: Arc<ChangeHub>,
    listening: OnceLock<()>,
    spool: Arc<AuditSpool>,
    audit_key: AuditKey,
}

impl Drop for Inner {
    /// Appends whatever audit records are still waiting, so a clean exit loses
    /// none. The pool's connections may belong to a runtime that is shutting
    /// down, so this uses a connection of its own on a thread of its own.
    fn drop(&mut self) {
        if self.spool.is_empty() {
            return;
        }
        self.spool.close_windows(Timestamp::now(), true);
        let records = self.spool.take();
        let config = self.config.clone();
        let key = self.audit_key.clone();
        let done = on_own_thread(async move {
            let (mut client, connection) = config.connect(NoTls).await.map_err(pg_err)?;
            drop(tokio::spawn(connection));
            let tx = client.transaction().await.map_err(pg_err)?;
            audit::append_all(Db::Raw(&tx), &key, &records).await?;
            tx.commit().await.map_err(pg_err)
        });
        if let Err(e) = done {
            tracing::error!(error = %e, "cannot append the last audit records");
        }
    }
}

/// Runs `work` to completion on a new thread with its own runtime: usable
/// from synchronous code and from inside a runtime alike.
fn on_own_thread<T: Send>(
    work: impl Future<Output = Result<T, StoreError>> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| StoreError::Backend(Box::new(e)))?
                .block_on(work)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "the PostgreSQL helper thread panicked".into(),
            ))
        })
    })
}

/// A [`Store`] on one PostgreSQL database shared by any number of servers on any hosts.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url`, migrates its schema (under an
    /// advisory lock) and builds the pool. Blocks until done; callable from
    /// inside a runtime.
    ///
    /// `durability` maps onto PostgreSQL's `synchronous_commit`. `Normal` is
    /// `off`: a commit is acknowledged once it is in PostgreSQL's WAL buffers,
    /// so it survives any crash of mcp-bridge processes, and the database
    /// stays consistent after any crash, but a crash of the PostgreSQL server
    /// or its host may lose the last fraction of a second of commits. Every
    /// transaction appends to the one audit chain, so with `on` commits wait
    /// for each other's disk flush, one at a time. `Full` is `on`.
    ///
    /// # Errors
    /// A bad URL, an unreachable server, or a schema newer than this build's.
    pub fn open(
        url: &PgUrl,
        durability: Durability,
        audit_key: AuditKey,
    ) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .expose()
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Backend(Box::new(e)))?;
        let setting = match durability {
            Durability::Normal => "-c synchronous_commit=off",
            Durability::Full => "-c synchronous_commit=on",
        };
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {setting}"),
            _ => setting.to_owned(),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("mcp-bridge");
        }
        let migrating = config.clone();
        let key = audit_key.clone();
        on_own_thread(async move {
            let (mut client, connection) = migrating.connect(NoTls).await.map_err(pg_err)?;
            let driver = tokio::spawn(connection);
            let done = migrate::migrate(&mut client, &key).await;
            drop(client);
            let _ = driver.await;
            done
        })?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                url: url.clone(),
                hub: Arc::new(ChangeHub::new(FALLBACK_POLL)),
                listening: OnceLock::new(),
                spool: Arc::new(AuditSpool::default()),
                audit_key,
            }),
        })
    }

    /// The database URL (its `Display` hides the password).
    pub fn url(&self) -> &PgUrl {
        &self.inner.url
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))
    }

    /// Commits `w` when `result` is a success, after appending the records
    /// spooled so far and `w`'s own, and sending its wake-ups; rolls back
    /// otherwise. Spooled records whose commit failed go back to the spool.
    async fn finish<T>(
        &self,
        w: Write<'_>,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let value = result?;
        let mut records = self.inner.spool.take();
        let spooled = records.len();
        records.extend(w.take_audit());
        let done = async {
            audit::append_all(w.db(), &self.inner.audit_key, &records).await?;
            for payload in w.take_wake() {
                w.db()
                    .exec("SELECT pg_notify($1, $2)", &[&listen::CHANNEL, &payload])
                    .await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        let committed = match done {
            Ok(()) => w.tx.commit().await.map_err(pg_err),
            Err(e) => Err(e),
        };
        if let Err(e) = committed {
            records.truncate(spooled);
            self.inner.spool.put_back(records);
            return Err(e);
        }
        Ok(value)
    }

    /// Queues the audit record of a call that wrote nothing (see `spool`).
    fn defer_audit(&self, at: Timestamp, draft: AuditDraft) {
        let pushed = self.inner.spool.push(at, draft);
        if pushed.counted {
            self.arm_window_timer();
        }
        if !pushed.schedule_flush {
            return;
        }
        let store = self.clone();
        let flush = async move {
            tokio::time::sleep(spool::FLUSH_DELAY).await;
            store.inner.spool.flush_started();
            if let Err(e) = store.flush_spool().await {
                tracing::error!(error = %e, "cannot append spooled audit records; will retry with the next write");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(flush)),
            Err(_) => self.inner.spool.flush_started(),
        }
    }

    fn arm_window_timer(&self) {
        let Some(due) = self.inner.spool.claim_window_timer() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.spool.window_timer_fired();
            return;
        };
        let store = self.clone();
        drop(runtime.spawn(async move {
            let wait = due.micros_since(Timestamp::now()).max(0);
            tokio::time::sleep(Duration::from_micros(wait.unsigned_abs())).await;
            store.inner.spool.window_timer_fired();
            if let Err(e) = store.flush_spool().await {
                tracing::error!(error = %e, "cannot append refusal summaries; will retry with the next write");
            }
            store.arm_window_timer();
        }));
    }

    /// Appends every spooled audit record now.
    async fn flush_spool(&self) -> Result<(), StoreError> {
        self.inner.spool.close_windows(Timestamp::now(), false);
        if !self.inner.spool.has_records() {
            return Ok(());
        }
        in_tx!(self, |_w| Ok(()))
    }
}

impl Store for PgStore {
    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let client = self.client().await?;
        ops::conversation(Db::Client(&client), id).await
    }

    async fn create_conversation(
        &self,
        new: NewConversation,
        max_per_hour: Option<u32>,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            if let Some(limit) = max_per_hour {
                ops::check_recent_conversations(w.db(), new.created_at, limit).await?;
            }
            ops::create_conversation(w.db(), &new).await?;
            w.audit(guard.at, guard.audit);
            Ok(())
        })
    }

    async fn send_message(
        &self,
        message: NewMessage,
        max_pending: Option<u32>,
        guard: Guard,
    ) -> Result<i64, StoreError> {
        let id = in_tx!(self, |w| {
            ops::lock_for_send(w.db(), &message).await?;
            if let Some(limit) = max_pending {
                ops::check_pending(w.db(), &message, limit).await?;
            }
            ops::spend_quota(w.db(), &guard).await?;
            let id = ops::insert_message(&w, &message).await?;
            w.audit(guard.at, guard.audit);
            Ok(id)
        })?;
        // Waiters in this process need no round trip through the server.
        self.inner.hub.notify();
        Ok(id)
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
        if guard.quota.is_none()
            && self.pending(&conversation, recipient, now).await? != Pending::Ready
        {
            if !final_attempt {
                return Ok(None);
            }
            let mut draft = guard.audit;
            draft.count = Some(0);
            self.defer_audit(guard.at, draft);
            return Ok(Some(Page::default()));
        }
        in_tx!(self, |w| {
            ops::lock_inbox(w.db(), conversation.as_str(), recipient).await?;
            ops::spend_quota(w.db(), &guard).await?;
            let page =
                ops::take_messages(w.db(), &conversation, recipient, limit, lease, now).await?;
            if page.messages.is_empty() && !final_attempt {
                return Ok(None);
            }
            let mut draft = guard.audit.clone();
            draft.count = Some(i64::try_from(page.messages.len()).unwrap_or(i64::MAX));
            w.audit(guard.at, draft);
            Ok(Some(page))
        })
    }

    async fn acknowledge(&self, receipt: Receipt) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            ops::acknowledge(w.db(), &receipt).await?;
            // A reader of the same inbox may be waiting behind this lease.
            w.wake(format!(
                "{}:{}",
                receipt.conversation,
                receipt.recipient.as_str()
            ));
            Ok(())
        })?;
        self.inner.hub.notify();
        Ok(())
    }

    async fn pending(
        &self,
        conversation: &ConversationId,
        recipient: Side,
        now: Timestamp,
    ) -> Result<Pending, StoreError> {
        let client = self.client().await?;
        ops::pending(Db::Client(&client), conversation, recipient, now).await
    }

    async fn spend_quota(&self, guard: Guard) -> Result<(), StoreError> {
        if guard.quota.is_none() {
            return Ok(());
        }
        in_tx!(self, |w| ops::spend_quota(w.db(), &guard).await)
    }

    async fn set_status(
        &self,
        conversation: ConversationId,
        side: Side,
        status: StatusRecord,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            ops::spend_quota(w.db(), &guard).await?;
            ops::set_status(w.db(), &conversation, side, &status).await?;
            w.audit(guard.at, guard.audit);
            Ok(())
        })
    }

    async fn observe_conversation(
        &self,
        conversation: ConversationId,
        guard: Guard,
    ) -> Result<Conversation, StoreError> {
        if guard.quota.is_none() {
            let found = self
                .conversation(&conversation)
                .await?
                .ok_or(StoreError::NotFound)?;
            self.defer_audit(guard.at, guard.audit);
            return Ok(found);
        }
        in_tx!(self, |w| {
            ops::spend_quota(w.db(), &guard).await?;
            let found = ops::conversation(w.db(), &conversation)
                .await?
                .ok_or(StoreError::NotFound)?;
            w.audit(guard.at, guard.audit);
            Ok(found)
        })
    }

    async fn create_invite(
        &self,
        invite: NewInvite,
        max_participants: u32,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            team::create_invite(w.db(), &invite, max_participants).await?;
            w.audit(guard.at, guard.audit);
            Ok(())
        })
    }

    async fn redeem_invite(
        &self,
        code_hash: String,
        max_participants: u32,
        failures: Option<Quota>,
        guard: Guard,
    ) -> Result<Option<Joined>, StoreError> {
        in_tx!(self, |w| {
            team::redeem_invite(&w, &code_hash, max_participants, failures.as_ref(), &guard).await
        })
    }

    async fn remove_participant(
        &self,
        conversation: ConversationId,
        side: Side,
        guard: Guard,
    ) -> Result<(), StoreError> {
        in_tx!(self, |w| {
            team::remove_participant(w.db(), &conversation, side, guard.at).await?;
            w.audit(guard.at, guard.audit);
            // A long-poll of the removed session wakes and finds its token dead.
            w.wake(format!("{conversation}:{}", side.as_str()));
            Ok(())
        })?;
        self.inner.hub.notify();
        Ok(())
    }

    async fn peek_unread(
        &self,
        conversation: &ConversationId,
        side: Side,
        limit: u32,
    ) -> Result<Unread, StoreError> {
        let client = self.client().await?;
        team::peek_unread(Db::Client(&client), conversation, side, limit).await
    }

    async fn record_binding(&self, binding: ClientBinding) -> Result<(), StoreError> {
        let client = self.client().await?;
        team::record_binding(Db::Client(&client), &binding).await
    }

    async fn forget_bindings(&self, server: ProcessStamp) -> Result<(), StoreError> {
        let client = self.client().await?;
        team::forget_bindings(Db::Client(&client), server).await
    }

    async fn client_bindings(
        &self,
        client: ProcessStamp,
    ) -> Result<Vec<ClientBinding>, StoreError> {
        let conn = self.client().await?;
        team::client_bindings(Db::Client(&conn), client).await
    }

    async fn append_audit(&self, at: Timestamp, draft: AuditDraft) -> Result<(), StoreError> {
        self.defer_audit(at, draft);
        Ok(())
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush_spool().await?;
        let client = self.client().await?;
        audit::records_after(Db::Client(&client), after_seq, limit).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.flush_spool().await
    }

    fn changes(&self) -> ChangeFeed {
        self.inner.listening.get_or_init(|| {
            listen::spawn(self.inner.config.clone(), Arc::clone(&self.inner.hub));
        });
        self.inner.hub.subscribe()
    }
}
