//! The PostgreSQL backend: a connection pool per process, every PostgreSQL
//! SQL string of the crate (here and in `migrations/postgres/`), for teams
//! whose agents run on several hosts against one shared database.
//!
//! Several `serve` processes on several hosts write at once under READ
//! COMMITTED, so where SQLite relies on its single writer this backend takes
//! row locks (see `migrations/postgres/0001_init.sql` for which and why).
//! tokio-postgres is async, so nothing here blocks a runtime thread.

mod admin;
mod admit;
mod audit;
mod console;
mod db;
mod deadline;
mod http_token;
mod inbox;
mod keys;
mod linker;
mod listen;
mod mcp_session;
mod migrate;
mod ops;
mod send;
mod store;
mod team;
mod tls;
mod url;
mod yolo;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use futures_util::future::try_join_all;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use migrate::SCHEMA_VERSION;
pub use url::{PgUrl, is_url, mask_urls};

pub(crate) use self::deadline::{before_commit, deadline};

use self::db::{Db, Write, pg_err};
use super::StoreError;
use super::signal::ChangeHub;
use super::spool::{self, AuditSpool};
use crate::audit::AuditKey;
use crate::domain::Timestamp;
use crate::store::patience::{LockPatience, lock_patience};
use crate::store::sealed::Sealer;
use crate::store::sqlite::Durability;

/// Runs `$body` (an expression using the [`Write`] `$w`) in a write
/// transaction and finishes it (see [`PgStore::finish`]), giving it up if the
/// database stops answering (see `deadline`); `unbounded` (bulk operations of
/// the CLI) never gives up.
///
/// With `first |$f| $first` the transaction begins in the same flight as
/// `$first`'s statements (see [`Write::begin_with`]), and `$body` gets what
/// it returned as `$got`.
macro_rules! in_tx {
    (@ $store:expr, $deadline:expr, first |$f:ident| $first:expr, |$w:ident, $got:pat_param| $body:expr) => {{
        let $w = Write::new(
            $store.client().await?,
            $store.inner.sealer.clone(),
            ::std::sync::Arc::clone(&$store.inner.origin),
        );
        let deadline: Option<::std::time::Duration> = $deadline;
        let result = $crate::store::postgres::before_commit(&$w, deadline, async {
            let $got = $w.begin_with(|$f| $first).await?;
            $body
        })
        .await;
        $store.finish($w, result, deadline).await
    }};
    (unbounded $store:expr, |$w:ident| $body:expr) => {{
        in_tx!(@ $store, None, first | _w | async { Ok(()) }, |$w, _begun| $body)
    }};
    ($store:expr, |$w:ident| $body:expr) => {{ in_tx!($store, first | _w | async { Ok(()) }, |$w, _begun| $body) }};
    ($store:expr, first |$f:ident| $first:expr, |$w:ident, $got:pat_param| $body:expr) => {{
        in_tx!(@ $store, Some($crate::store::postgres::deadline()), first |$f| $first, |$w, $got| $body)
    }};
}
pub(crate) use in_tx;

/// How often a long-poll re-checks even without a notification: only a
/// safety net, since `NOTIFY` reaches every listening server at commit.
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// Connections per process: a server's calls are short, and many servers
/// (one per agent) share one database's connection limit.
const POOL_SIZE: usize = 4;

/// With [`LockPatience::Brief`]: how long a statement waits for a row or
/// table lock (PostgreSQL's `lock_timeout`, in milliseconds), and how long
/// connecting may take when the URL sets no `connect_timeout`.
const BRIEF_LOCK_MS: u32 = 500;
const BRIEF_CONNECT: Duration = Duration::from_secs(2);

/// Otherwise (servers, the CLI): how long a statement waits for a lock, as
/// long as a SQLite server waits for a busy database before answering
/// `busy`. A send held behind another session's lock (a long import, a
/// `LOCK TABLE` in psql) used to wait for as long as it was held, past
/// every client's tool timeout, whose retry then sent the message twice.
const LOCK_MS: u32 = 10_000;
/// How long opening a connection may take in all (TCP, TLS, start-up and
/// authentication) when the URL sets no `connect_timeout`. The driver's own
/// `connect_timeout` bounds the TCP connect only: a server that accepts and
/// never answers (a stopped PostgreSQL, a stuck proxy) held every command,
/// and `serve` before its first answer, forever.
const CONNECT: Duration = Duration::from_secs(10);
/// How long a call waits for one of the pool's connections.
const POOL_WAIT: Duration = Duration::from_secs(30);
/// How long the last writes at exit (spooled audit records) may take.
pub const LAST_WRITES: Duration = Duration::from_secs(10);

struct Inner {
    pool: Pool,
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` asks (see `tls`).
    tls: MakeRustlsConnect,
    url: PgUrl,
    hub: Arc<ChangeHub>,
    listening: OnceLock<()>,
    spool: Arc<AuditSpool>,
    /// Held while a flush's transaction runs: a flush taken from the spool
    /// is not in it any more, so a last flush before exit must wait for it
    /// (a runtime shutting down would otherwise cancel it, records and all).
    flushing: tokio::sync::Mutex<()>,
    audit_key: AuditKey,
    sealer: Sealer,
    linker: linker::Linker,
    /// This store's tag in `NOTIFY` payloads (see `listen`).
    origin: Arc<str>,
}

impl Drop for Inner {
    /// Stages whatever audit records are still waiting, so a clean exit loses
    /// none. The pool's connections may belong to a runtime that is shutting
    /// down, so this uses a connection of its own on a thread of its own.
    /// Staged records are then linked unless another linker is at work (it
    /// links them after its own pass), so a one-shot command normally leaves
    /// nothing staged behind.
    fn drop(&mut self) {
        let owed = self.linker.owes();
        if self.spool.is_empty() && !owed {
            return;
        }
        self.spool.close_windows(Timestamp::now(), true);
        let records = self.spool.take();
        let config = self.config.clone();
        let tls = self.tls.clone();
        let key = self.audit_key.clone();
        let last = async move {
            let (mut client, connection) = config.connect(tls).await.map_err(pg_err)?;
            drop(tokio::spawn(connection));
            // Staged, and linked only if no linker is at work: this thread
            // may be a runtime's, blocked until this ends, and the linker
            // holding the chain head may be a task of this very process
            // that only that thread can run. Waiting for it deadlocked.
            if !records.is_empty() {
                let tx = client.transaction().await.map_err(pg_err)?;
                let statement = linker::prepare(Db::Raw(&tx)).await?;
                linker::stage(Db::Raw(&tx), &statement, &records).await?;
                tx.commit().await.map_err(pg_err)?;
            }
            linker::link_if_free(&mut client, &key).await
        };
        // A database that stopped answering (a frozen server) must not keep
        // the process from exiting.
        let done = on_own_thread(async move {
            tokio::time::timeout(LAST_WRITES, last)
                .await
                .unwrap_or_else(|_| Err(connect_timed_out(LAST_WRITES)))
        });
        if let Err(e) = done {
            tracing::error!(error = %super::error_chain(&e), "cannot append the last audit records");
        }
    }
}

/// The database did not answer within `within` (opening a connection, or
/// the last writes at exit).
fn connect_timed_out(within: Duration) -> StoreError {
    StoreError::Backend(Box::new(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!(
            "the database did not complete the connection within {} s (set connect_timeout in the URL to wait longer)",
            within.as_secs()
        ),
    )))
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

impl spool::Spooling for PgStore {
    fn spool(&self) -> &AuditSpool {
        &self.inner.spool
    }

    async fn flush_spooled(&self) -> Result<(), StoreError> {
        self.flush_spool().await
    }
}

impl Inner {
    /// A pooled connection; the pool's failures said as the store's errors.
    async fn client(&self) -> Result<Object, StoreError> {
        use deadpool_postgres::{PoolError, TimeoutType};
        self.pool.get().await.map_err(|e| match e {
            // Every connection busy for `POOL_WAIT`: the caller may retry.
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Busy,
            // No new connection (refused, or no answer within the connect
            // timeout): nothing was sent, so the caller may retry as it is.
            PoolError::Timeout(_) | PoolError::Backend(_) => StoreError::Unavailable(Box::new(e)),
            e => StoreError::Backend(Box::new(e)),
        })
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
        sealer: Sealer,
    ) -> Result<Self, StoreError> {
        let (mut config, tls) = tls::configure(url.expose())?;
        let setting = match durability {
            Durability::Normal => "-c synchronous_commit=off",
            Durability::Full => "-c synchronous_commit=on",
        };
        // A hook gives up on a lock or an unreachable server as soon as it
        // would on SQLite, rather than hold its agent up.
        let brief = lock_patience() == LockPatience::Brief;
        let lock_ms = if brief { BRIEF_LOCK_MS } else { LOCK_MS };
        let setting = format!("{setting} -c lock_timeout={lock_ms}");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(if brief { BRIEF_CONNECT } else { CONNECT });
        }
        let connect_within = config.get_connect_timeout().copied().unwrap_or(CONNECT);
        let options = match config.get_options() {
            Some(given) if !given.is_empty() => format!("{given} {setting}"),
            _ => setting,
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            config.application_name("mcp-bridge");
        }
        let (migrating, migrating_tls) = (config.clone(), tls.clone());
        let key = audit_key.clone();
        let legacy = on_own_thread(async move {
            let (mut client, connection) =
                tokio::time::timeout(connect_within, migrating.connect(migrating_tls))
                    .await
                    .map_err(|_| connect_timed_out(connect_within))?
                    .map_err(pg_err)?;
            let driver = tokio::spawn(connection);
            let mut done = migrate::migrate(&mut client, &key).await;
            if done.is_ok() {
                // Records a process staged before it died, if no one has
                // linked them since (see `linker`); a linker at work links
                // them itself, and the caller's thread must not wait for it.
                done = linker::link_if_free(&mut client, &key).await;
            }
            let legacy = match done {
                Ok(()) => match client.transaction().await.map_err(pg_err) {
                    Ok(tx) => keys::legacy_plaintext_allowed(Db::Raw(&tx), &key).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            drop(client);
            let _ = driver.await;
            legacy
        })?;
        sealer.allow_legacy_plaintext(legacy);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let origin = listen::new_origin().map_err(|e| StoreError::Backend(Box::new(e)))?;
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(connect_within))
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                tls,
                url: url.clone(),
                hub: Arc::new(ChangeHub::new(FALLBACK_POLL)),
                listening: OnceLock::new(),
                spool: Arc::new(AuditSpool::default()),
                flushing: tokio::sync::Mutex::new(()),
                audit_key,
                sealer,
                linker: linker::Linker::default(),
                origin,
            }),
        })
    }

    /// The database URL (its `Display` hides the password).
    pub fn url(&self) -> &PgUrl {
        &self.inner.url
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.inner.client().await
    }

    /// Commits `w` when `result` is a success, after staging the audit
    /// records spooled so far and `w`'s own (see `linker`), and sending its
    /// wake-ups; rolls back otherwise. Spooled records whose commit failed
    /// go back to the spool.
    async fn finish<T>(
        &self,
        w: Write,
        result: Result<T, StoreError>,
        deadline: Option<Duration>,
    ) -> Result<T, StoreError> {
        let value = match result {
            Ok(value) => value,
            Err(e) => return Err(w.abandon(e).await),
        };
        let mut records = self.inner.spool.take();
        let spooled = records.len();
        records.extend(w.take_audit());
        // What is left goes out with the `COMMIT`, in one flight: the
        // deferred statements, the wake-ups and the staged records.
        let wakes = w.take_wake();
        let prepared = deadline::before_commit(&w, deadline, async {
            if !wakes.is_empty() {
                let notify = w.db().prepare("SELECT pg_notify($1, $2)").await?;
                for payload in wakes {
                    w.defer(
                        notify.clone(),
                        vec![Box::new(listen::CHANNEL), Box::new(payload)],
                    );
                }
            }
            match records.is_empty() {
                true => Ok(None),
                false => linker::prepare(w.db()).await.map(Some),
            }
        })
        .await;
        let deferred = w.take_deferred();
        let committed = match prepared {
            Ok(None) if deferred.is_empty() => deadline::commit(&w, deadline, w.commit()).await,
            Ok(stage) => {
                let db = w.db();
                // Biased and short-circuiting: every poll goes in sending
                // order, so the first statement to fail is the error, and a
                // statement that fails before it is sent ends the flight at
                // its first poll, before the `COMMIT` can go out.
                let flight = async {
                    tokio::try_join!(
                        biased;
                        try_join_all(deferred.iter().map(|d| d.exec(db))),
                        async {
                            match &stage {
                                Some(stage) => linker::stage(db, stage, &records).await,
                                None => Ok(()),
                            }
                        },
                    )
                    .map(drop)
                };
                deadline::commit(&w, deadline, w.commit_after(flight)).await
            }
            Err(e) => Err(w.abandon(e).await),
        };
        if let Err(e) = committed {
            records.truncate(spooled);
            self.inner.spool.put_back(records);
            return Err(e);
        }
        if !records.is_empty() {
            self.inner.linker.staged(&self.inner);
        }
        Ok(value)
    }

    /// Appends every spooled audit record now.
    async fn flush_spool(&self) -> Result<(), StoreError> {
        let _flushing = self.inner.flushing.lock().await;
        self.inner.spool.close_windows(Timestamp::now(), false);
        if !self.inner.spool.has_records() {
            return Ok(());
        }
        in_tx!(self, |_w| Ok(()))
    }

    /// Puts every record committed so far into the chain: this process's
    /// spooled ones, and the staged ones of every process. Readers of the
    /// trail call it first, so they see every call that has returned.
    async fn settle_audit(&self) -> Result<(), StoreError> {
        self.flush_spool().await?;
        linker::link_pooled(&self.inner, true).await.map(drop)
    }
}
