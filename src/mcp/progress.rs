//! Progress notifications for a long-poll: while `check_messages` waits, a
//! client that sent a `progressToken` hears from the server every few seconds,
//! so clients that reset their request timeout on progress (the TypeScript SDK
//! with `resetTimeoutOnProgress`, and the editors built on it) never give up on
//! a wait that is simply quiet. Nothing here decides anything: it only reports
//! the time waited so far.

use std::future::Future;
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

/// How often a waiting call reports progress.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Runs `work` (a call that may wait up to `wait`), sending a progress
/// notification for `token` every [`PROGRESS_INTERVAL`] until it finishes.
/// A notification that cannot be sent (client gone) is not an error: the
/// call itself notices the closed session.
pub async fn report_while<T>(
    work: impl Future<Output = T>,
    peer: &Peer<RoleServer>,
    token: ProgressToken,
    wait: Duration,
) -> T {
    let started = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval_at(started + PROGRESS_INTERVAL, PROGRESS_INTERVAL);
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => {
                let waited = started.elapsed().as_secs_f64().round();
                let note = ProgressNotificationParam::new(token.clone(), waited)
                    .with_total(wait.as_secs_f64().round())
                    .with_message("waiting for messages");
                let _ = peer.notify_progress(note).await;
            }
        }
    }
}
