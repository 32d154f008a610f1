//! How long a transaction may wait for the database before it is given up.
//!
//! A database that froze (a stopped process, a paused VM, stalled storage)
//! keeps its connections open and answers nothing; every call used to wait
//! for as long as it stayed frozen, long-polls included, past every client's
//! tool timeout. A transaction now has [`DEADLINE`] up to its `COMMIT` and as
//! long again for the `COMMIT`'s answer. Given up before its `COMMIT` went
//! out, it did nothing: its connection is closed rather than reused, and the
//! server rolls the transaction back when it next reads from it; the call
//! answers `unavailable`, which says so. Given up waiting for the `COMMIT`'s
//! answer, whether it took effect is unknown, and the call answers
//! `internal_error` as for a connection lost at that moment. A read outside
//! a transaction has [`DEADLINE`] too (see [`read`]).

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use deadpool_postgres::Object;

use super::db::{Db, Write};
use crate::store::StoreError;

/// Twice the `lock_timeout` of a server's statements, so a transaction that
/// only waits for locks answers `busy` first.
const DEADLINE: Duration = Duration::from_secs(20);

/// [`DEADLINE`], or `MCP_BRIDGE_TEST_PG_DEADLINE_MS` for tests (read once).
pub fn deadline() -> Duration {
    static SET: OnceLock<Duration> = OnceLock::new();
    *SET.get_or_init(|| {
        std::env::var("MCP_BRIDGE_TEST_PG_DEADLINE_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(DEADLINE, Duration::from_millis)
    })
}

/// `work`, run on `w` before its `COMMIT`: given up after `deadline` (if
/// any), which closes `w`'s connection when it is dropped.
pub async fn before_commit<T>(
    w: &Write,
    deadline: Option<Duration>,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    on(w, deadline, work, unavailable, "nothing was committed").await
}

/// The `COMMIT` (and what goes out with it), given up after `deadline`.
pub async fn commit(
    w: &Write,
    deadline: Option<Duration>,
    commit: impl Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    let unknown = "whether the COMMIT took effect is unknown";
    on(
        w,
        deadline,
        commit,
        |e| StoreError::Backend(Box::new(e)),
        unknown,
    )
    .await
}

async fn on<T>(
    w: &Write,
    deadline: Option<Duration>,
    work: impl Future<Output = Result<T, StoreError>>,
    error: fn(io::Error) -> StoreError,
    outcome: &str,
) -> Result<T, StoreError> {
    let Some(deadline) = deadline else {
        return work.await;
    };
    match tokio::time::timeout(deadline, work).await {
        Ok(done) => done,
        Err(_) => {
            w.break_off();
            Err(error(no_answer(deadline, outcome)))
        }
    }
}

/// `work`, statements outside a transaction on the pooled `client`: given
/// up after the deadline, when its connection is closed instead of going
/// back to the pool with a statement still waiting on it. A read changed
/// nothing, so the call answers `unavailable`.
pub async fn read<T>(
    client: Object,
    work: impl for<'c> AsyncFnOnce(Db<'c>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let work = async |client: &mut Object| work(Db::Client(client)).await;
    on_client(client, work, unavailable, "nothing was changed").await
}

/// [`read`] for one statement that writes (its own transaction): given up,
/// whether it took effect is unknown, so the error is not `unavailable`.
pub async fn single<T>(
    client: Object,
    work: impl for<'c> AsyncFnOnce(Db<'c>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let unknown = "whether the statement took effect is unknown";
    on_client(
        client,
        async |client| work(Db::Client(client)).await,
        |e| StoreError::Backend(Box::new(e)),
        unknown,
    )
    .await
}

/// [`read`] in one read-only repeatable-read transaction, so a listing
/// that takes several statements sees one state of the database.
pub async fn read_snapshot<T>(
    client: Object,
    work: impl for<'c> AsyncFnOnce(Db<'c>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let work = async |client: &mut Object| {
        let tx = super::db::snapshot(client).await?;
        work(Db::Tx(&tx)).await
    };
    on_client(client, work, unavailable, "nothing was changed").await
}

/// The audit linker's passes on `client`, each its own transaction: given
/// up after the deadline, the pass under way is rolled back with its closed
/// connection, what earlier passes linked stays linked and the rest stays
/// staged for the next linker, so the caller answers `unavailable`.
pub async fn linking<T>(
    client: Object,
    work: impl for<'c> AsyncFnOnce(&'c mut Object) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let outcome = "the audit records it had not linked stay staged";
    on_client(client, work, unavailable, outcome).await
}

fn unavailable(e: io::Error) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

async fn on_client<T>(
    mut client: Object,
    work: impl for<'c> AsyncFnOnce(&'c mut Object) -> Result<T, StoreError>,
    error: fn(io::Error) -> StoreError,
    outcome: &str,
) -> Result<T, StoreError> {
    let deadline = deadline();
    match tokio::time::timeout(deadline, work(&mut client)).await {
        Ok(done) => done,
        Err(_) => {
            drop(Object::take(client));
            Err(error(no_answer(deadline, outcome)))
        }
    }
}

fn no_answer(deadline: Duration, outcome: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the database did not answer within {} ms; {outcome}",
            deadline.as_millis()
        ),
    )
}
