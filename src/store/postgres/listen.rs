//! Wake-ups across hosts: one `LISTEN` connection per process feeds the
//! process's [`ChangeHub`]. Every commit that queues a message sends a
//! `NOTIFY` (delivered by PostgreSQL at commit, to every listening server), so
//! a long-poll anywhere wakes at once. A lost connection wakes every waiter
//! (they re-check the store, so nothing committed meanwhile is missed) and is
//! re-established with a growing pause.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::store::signal::ChangeHub;

/// The channel every server listens on. The payload names the conversation
/// and the recipients (`conv_…:b,c`); waiters re-check their own inbox, so
/// the payload is for people reading `pg_stat_activity`, not for routing.
pub const CHANNEL: &str = "mcp_bridge";

/// Starts the listener on the current runtime; it runs until the runtime stops.
pub fn spawn(config: tokio_postgres::Config, hub: Arc<ChangeHub>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    drop(runtime.spawn(async move {
        let mut pause = Duration::from_millis(100);
        loop {
            let listened = listen(&config, &hub).await;
            // Whatever ended the connection, messages may have been committed
            // while nobody listened: let every waiter look.
            hub.notify();
            match listened {
                Ok(true) => pause = Duration::from_millis(100),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "lost the PostgreSQL LISTEN connection; reconnecting"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }));
}

/// One listening connection, until it fails. `Ok(true)` when it was up.
async fn listen(
    config: &tokio_postgres::Config,
    hub: &Arc<ChangeHub>,
) -> Result<bool, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let feed = Arc::clone(hub);
    let drive = async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => feed.notify(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(true),
            }
        }
    };
    let subscribe = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        // Subscribed from here on: anything committed before is found by the re-check.
        hub.notify();
        std::future::pending::<Result<bool, tokio_postgres::Error>>().await
    };
    tokio::select! {
        r = drive => r,
        r = subscribe => r,
    }
}
