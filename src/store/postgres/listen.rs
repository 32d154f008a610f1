//! Wake-ups across hosts: one `LISTEN` connection per process feeds the
//! process's [`ChangeHub`]. Every commit that queues a message sends a
//! `NOTIFY` (delivered by PostgreSQL at commit, to every listening server), so
//! a long-poll anywhere wakes at once. A lost connection wakes every waiter
//! (they re-check the store, so nothing committed meanwhile is missed) and is
//! re-established with a growing pause.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::domain::{ConversationId, Side};
use crate::store::signal::ChangeHub;

/// The channel every server listens on. The payload names the conversation
/// and the inboxes concerned (`conv_…:b,c`), so a notification wakes only
/// the waiters of those inboxes, in every process; a payload of any other
/// shape (an import: `import`) wakes every waiter.
pub const CHANNEL: &str = "mcp_bridge";

/// The payload that names `conversation`'s inboxes of `sides`.
pub fn payload(conversation: &ConversationId, sides: &[Side]) -> String {
    let mut text = format!("{conversation}:");
    for (i, side) in sides.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(side.as_str());
    }
    text
}

/// Wakes the waiters a notification's payload names (see [`CHANNEL`]).
/// Anyone who can connect to the database can send one, so a payload is only
/// ever a hint: waiters re-check the store, and anything unparsable wakes all.
pub fn route(hub: &ChangeHub, payload: &str) {
    let parsed = payload.split_once(':').and_then(|(conversation, sides)| {
        let conversation = ConversationId::parse(conversation).ok()?;
        let sides = sides
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| Side::parse(s).ok())
            .collect::<Option<Vec<_>>>()?;
        Some((conversation, sides))
    });
    match parsed {
        Some((conversation, sides)) => hub.notify_inboxes(&conversation, &sides),
        None => hub.notify(),
    }
}

/// Starts the listener on the current runtime; it runs until the runtime stops.
pub fn spawn(config: tokio_postgres::Config, tls: MakeRustlsConnect, hub: Arc<ChangeHub>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    drop(runtime.spawn(async move {
        let mut pause = Duration::from_millis(100);
        loop {
            let listened = listen(&config, &tls, &hub).await;
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
    tls: &MakeRustlsConnect,
    hub: &Arc<ChangeHub>,
) -> Result<bool, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let feed = Arc::clone(hub);
    let drive = async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => route(&feed, n.payload()),
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
