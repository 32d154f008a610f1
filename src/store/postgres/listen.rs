//! Wake-ups across hosts: one `LISTEN` connection per process feeds the
//! process's [`ChangeHub`]. Every commit that queues a message sends a
//! `NOTIFY` (delivered by PostgreSQL at commit, to every listening server), so
//! a long-poll anywhere wakes at once. A lost connection wakes every waiter
//! (they re-check the store, so nothing committed meanwhile is missed) and is
//! re-established with a pause that grows while connecting fails and starts
//! over once a connection listened; until then waiters re-check every second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::db::pg_err;
use crate::domain::{ConversationId, Side};
use crate::store::StoreError;
use crate::store::signal::ChangeHub;

/// The channel every server listens on. The payload names the conversation
/// and the inboxes concerned (`conv_…:b,c`), so a notification wakes only
/// the waiters of those inboxes, in every process; a payload of any other
/// shape (an import: `import`) wakes every waiter. It ends with `@` and the
/// sending process's tag: PostgreSQL delivers a notification to its sender's
/// listener too, and the sender has already woken its own waiters at commit.
pub const CHANNEL: &str = "mcp_bridge";

/// A store's tag in the payloads it sends (one per store, not per process:
/// tests run several stores in one process as several servers).
///
/// # Errors
/// When the system has no randomness to give.
pub fn new_origin() -> Result<Arc<str>, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into())
}

/// The payload that names `conversation`'s inboxes of `sides`, sent by the
/// store tagged `origin`.
pub fn payload(conversation: &ConversationId, sides: &[Side], origin: &str) -> String {
    let mut text = format!("{conversation}:");
    for (i, side) in sides.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(side.as_str());
    }
    text.push('@');
    text.push_str(origin);
    text
}

/// Wakes the waiters of the store tagged `origin` that a notification's
/// payload names (see [`CHANNEL`]). Anyone who can connect to the database
/// can send one, so a payload is only ever a hint: waiters re-check the
/// store, and anything unparsable wakes all.
pub fn route(hub: &ChangeHub, payload: &str, origin: &str) {
    let (payload, from) = payload.rsplit_once('@').unwrap_or((payload, ""));
    if from == origin {
        return;
    }
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
pub fn spawn(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    hub: Arc<ChangeHub>,
    origin: Arc<str>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    drop(runtime.spawn(async move {
        const FIRST_PAUSE: Duration = Duration::from_millis(100);
        let mut pause = FIRST_PAUSE;
        loop {
            let up = AtomicBool::new(false);
            let listened = listen(&config, &tls, &hub, &origin, &up).await;
            // Whatever ended the connection, messages may have been committed
            // while nobody listened: let every waiter look.
            hub.notify();
            if let Err(e) = listened {
                tracing::warn!(error = %crate::store::error_chain(&e), "lost the PostgreSQL LISTEN connection; reconnecting");
            }
            // A connection that was listening starts the pauses over, however
            // it ended (a lost one ends in an error): otherwise each loss in
            // a process's life waited longer, up to the cap (red team).
            if up.load(Ordering::Relaxed) {
                pause = FIRST_PAUSE;
            }
            // Nobody listens meanwhile: waiters look every second, since a
            // long-poll's own feed falls back only after 15 s.
            let reconnect = tokio::time::Instant::now() + pause;
            while tokio::time::Instant::now() < reconnect {
                tokio::time::sleep_until(
                    reconnect.min(tokio::time::Instant::now() + Duration::from_secs(1)),
                )
                .await;
                hub.notify();
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }));
}

/// One listening connection, until it ends; `up` is set once it listens.
/// Its connect is bounded as the pool's are: a server that accepts and never
/// answers used to hold the listener (and the one-second looks of the
/// waiters meanwhile) for ever.
async fn listen(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    hub: &Arc<ChangeHub>,
    origin: &str,
    up: &AtomicBool,
) -> Result<(), StoreError> {
    let within = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(super::CONNECT);
    let (client, mut connection) = tokio::time::timeout(within, config.connect(tls.clone()))
        .await
        .map_err(|_| super::connect_timed_out(within))?
        .map_err(pg_err)?;
    let feed = Arc::clone(hub);
    let drive = async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => route(&feed, n.payload(), origin),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(pg_err(e)),
                None => return Ok(()),
            }
        }
    };
    let subscribe = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(pg_err)?;
        up.store(true, Ordering::Relaxed);
        // Subscribed from here on: anything committed before is found by the re-check.
        hub.notify();
        std::future::pending::<Result<(), StoreError>>().await
    };
    tokio::select! {
        r = drive => r,
        r = subscribe => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::signal::ChangeFeed;

    /// Whether `feed` was woken since it last looked (time is paused, so the
    /// second's wait passes at once when nothing woke it).
    async fn woken(feed: &mut ChangeFeed) -> bool {
        let woke = tokio::time::timeout(Duration::from_secs(1), feed.changed())
            .await
            .is_ok();
        feed.mark_seen();
        woke
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_skips_its_own_echo_and_routes_the_rest() {
        let conv = ConversationId::parse("conv_00000000000000aa").unwrap();
        let hub = ChangeHub::new(Duration::from_secs(3600));
        let mut feed = hub.subscribe();
        feed.narrow([(conv.clone(), Side::B)]);
        feed.mark_seen();
        let to_b = payload(&conv, &[Side::B], "0123");
        assert_eq!(to_b, "conv_00000000000000aa:b@0123");
        route(&hub, &to_b, "0123");
        assert!(!woken(&mut feed).await, "its own notification");
        route(&hub, &to_b, "4567");
        assert!(woken(&mut feed).await, "another store's notification");
        route(&hub, &payload(&conv, &[Side::A], "0123"), "4567");
        assert!(!woken(&mut feed).await, "another inbox");
        // An older build's payload (no tag) is routed the same way.
        route(&hub, "conv_00000000000000aa:b", "4567");
        assert!(woken(&mut feed).await, "untagged");
        for odd in [
            "import",
            "conv_zz:b@0123",
            "",
            "@",
            "conv_00000000000000aa:b?@1",
        ] {
            route(&hub, odd, "4567");
            assert!(woken(&mut feed).await, "{odd:?} wakes everyone");
        }
    }
}
