//! Revoking a named token cuts off what its holder still has open, not only
//! its next request: a long-poll waiting (parked, or in rmcp), an MCP
//! session's SSE stream, the MCP sessions it owns.
//!
//! `mcp-bridge http-token revoke` runs in another process, and the database
//! may serve several servers, so each server looks for itself: once a second
//! ([`SWEEP_INTERVAL`]) it re-checks, against the store, the distinct tokens
//! (by hash) behind the requests that may wait here ([`Revocations`], see
//! `peek::may_wait`) and behind the sessions it holds (`sessions::Owners`):
//! one indexed read per token however many calls wait on it (one listing of
//! every token when many are held), and nothing at all while nothing waits. (The store's change feed names inboxes, not
//! tokens, and on SQLite reaches other processes only as a wake-up of
//! unknown scope: a poll of what is actually held is as prompt and simpler.)
//!
//! For a token found revoked, every request watching it is cut off
//! ([`Watch::cut`]): a call whose answer has not begun gets `401`, as a new
//! request with the token would; a response stream that has begun ends with
//! a JSON-RPC error for its request ([`cut_off_event`]), or just ends (a
//! session's own stream). Either way the call still waiting ends as one
//! whose client went away: it files nothing, and a page it took in the same
//! instant is never acknowledged, so its lease lapses and the page goes to
//! the next reader — nothing is lost, nothing delivered twice, and nothing
//! reaches the revoked holder. Then its sessions are closed here and
//! forgotten in the database. Calls that answer at once are not watched:
//! they were let in before the revocation, as they are within the identity
//! cache's second. The shared token cannot be revoked, and is not watched.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Bytes;
use rmcp::transport::streamable_http_server::session::SessionManager;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};

use super::access::Access;
use super::sessions::Manager;
use crate::mcp::Backend;
use crate::service::ServiceError;
use crate::store::HttpTokenStore;

/// How often a server re-checks the tokens its waiting calls hold.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The JSON-RPC error code of a call cut off by its token's revocation (in
/// the range JSON-RPC leaves to servers).
const REVOKED_CODE: i64 = -32001;

/// What a cut-off call is told.
pub(super) const REVOKED_TEXT: &str = "the bearer token was revoked while this call waited; it ended and took nothing (`mcp-bridge http-token revoke`)";

/// The tokens behind the requests that may wait here, each with the signal
/// that cuts them off.
#[derive(Debug, Default)]
pub(super) struct Revocations {
    watched: Mutex<HashMap<[u8; 32], Watched>>,
    /// Tells a new entry for a hash from an older, removed one.
    next: AtomicU64,
}

#[derive(Debug)]
struct Watched {
    /// The token's name, for the log.
    name: String,
    generation: u64,
    cut: CancellationToken,
    /// Requests holding a [`Watch`] on it.
    holders: usize,
}

/// One request watching its token; it stops when dropped.
#[derive(Debug)]
pub(super) struct Watch {
    registry: Arc<Revocations>,
    hash: [u8; 32],
    generation: u64,
    cut: CancellationToken,
}

impl Watch {
    /// Resolves once the token is found revoked.
    pub(super) fn cut(&self) -> WaitForCancellationFuture<'_> {
        self.cut.cancelled()
    }

    /// Whether the token has been found revoked.
    pub(super) fn is_cut(&self) -> bool {
        self.cut.is_cancelled()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut watched = self.registry.lock();
        if let Some(w) = watched.get_mut(&self.hash)
            && w.generation == self.generation
        {
            w.holders -= 1;
            if w.holders == 0 {
                watched.remove(&self.hash);
            }
        }
    }
}

impl Revocations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Watched>> {
        // Single map operations under the lock: a poisoned one is intact.
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches the token `hash` (named `name`) until the returned guard is dropped.
    pub(super) fn watch(self: &Arc<Self>, hash: [u8; 32], name: &str) -> Watch {
        let mut watched = self.lock();
        let w = watched.entry(hash).or_insert_with(|| Watched {
            name: name.to_owned(),
            generation: self.next.fetch_add(1, Ordering::Relaxed),
            cut: CancellationToken::new(),
            holders: 0,
        });
        w.holders += 1;
        Watch {
            registry: Arc::clone(self),
            hash,
            generation: w.generation,
            cut: w.cut.clone(),
        }
    }

    /// The tokens watched now.
    fn hashes(&self) -> Vec<[u8; 32]> {
        self.lock().keys().copied().collect()
    }

    /// Cuts off every request watching `hash`; its name, if any was watching.
    fn cut_off(&self, hash: &[u8; 32]) -> Option<String> {
        let w = self.lock().remove(hash)?;
        w.cut.cancel();
        Some(w.name)
    }
}

/// `work`'s output, or `None` if `watch`'s token is found revoked first
/// (`work` is then dropped). Without a watch, `work` runs to its end.
pub(super) async fn unless_cut<F: Future>(watch: Option<&Watch>, work: F) -> Option<F::Output> {
    let Some(watch) = watch else {
        return Some(work.await);
    };
    tokio::select! {
        done = work => Some(done),
        () = watch.cut() => None,
    }
}

/// A response stream's watch, and the request id its reply would carry.
pub(super) struct Cut {
    /// Kept for the stream's life: its token stays watched.
    _watch: Watch,
    /// Kept between polls, so the waker it registered stays registered.
    signal: std::pin::Pin<Box<WaitForCancellationFutureOwned>>,
    /// The request's id (JSON text), when the stream carries a reply.
    reply_to: Option<String>,
}

impl Cut {
    /// Cuts `watch`'s stream off with an error for `reply_to`, if any.
    pub(super) fn new(watch: Watch, reply_to: Option<String>) -> Self {
        Self {
            signal: Box::pin(watch.cut.clone().cancelled_owned()),
            _watch: watch,
            reply_to,
        }
    }

    /// Whether the token is found revoked; registers `cx` to be woken when it is.
    pub(super) fn poll(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        self.signal.as_mut().poll(cx).is_ready()
    }

    /// The stream's last event: the JSON-RPC error answering its request.
    pub(super) fn last_event(&self) -> Option<Bytes> {
        self.reply_to.as_deref().map(cut_off_event)
    }
}

/// An SSE event carrying the JSON-RPC error that answers request `id` (its
/// JSON text) when its token is revoked.
pub(super) fn cut_off_event(id: &str) -> Bytes {
    let id: serde_json::Value = serde_json::from_str(id).unwrap_or(serde_json::Value::Null);
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": REVOKED_CODE, "message": REVOKED_TEXT},
    });
    Bytes::from(format!("data: {error}\n\n"))
}

/// Re-checks the watched tokens every [`SWEEP_INTERVAL`] until the server is
/// gone (see the module documentation).
pub(super) async fn sweep_loop<S: HttpTokenStore + Backend>(
    access: Weak<Access<S>>,
    manager: Weak<Manager>,
) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let (Some(access), Some(manager)) = (access.upgrade(), manager.upgrade()) else {
            return;
        };
        match sweep(&access, &manager).await {
            // Said once, not every second of an outage; tried again at each
            // tick, while new requests are still checked as they come.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot re-check the HTTP tokens of waiting calls; retrying every second");
            }
            Err(_) => {}
            Ok(()) if failing => {
                failing = false;
                tracing::info!("the HTTP tokens of waiting calls are re-checked again");
            }
            Ok(()) => {}
        }
    }
}

/// One re-check: cuts off the requests and ends the sessions of every
/// watched token that is no longer in force.
///
/// # Errors
/// The store could not be read; nothing was cut off.
async fn sweep<S: HttpTokenStore + Backend>(
    access: &Access<S>,
    manager: &Manager,
) -> Result<(), ServiceError> {
    let mut hashes = access.revocations.hashes();
    hashes.extend(access.owners.hashes());
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.is_empty() {
        return Ok(());
    }
    let live = access.bridge.live_http_tokens(&hashes).await?;
    for hash in hashes.iter().filter(|h| !live.contains(*h)) {
        // New requests with it are refused from now on, not a second later.
        access.forget_identity(hash);
        let cut = access.revocations.cut_off(hash);
        let sessions = access.owners.revoked(hash);
        let name = cut.or_else(|| sessions.first().map(|(_, owner)| owner.clone()));
        for (id, owner) in &sessions {
            if let Err(e) = manager.close_session(&id.as_str().into()).await {
                tracing::warn!(error = %e, "cannot close an MCP session of a revoked token");
            }
            // Another host then refuses it too, and none takes it over. (Kept
            // on a failure, it is still of no use: no valid token has its
            // owner's name, names are never reused.)
            if let Err(e) = access.bridge.forget_session(id, owner).await {
                tracing::warn!(error = %e, "cannot forget an MCP session of a revoked token");
            }
        }
        tracing::info!(
            token_name = name.as_deref().unwrap_or("?"),
            sessions = sessions.len(),
            "an HTTP token was revoked: its waiting calls were cut off and its sessions ended"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Revocations, cut_off_event};

    #[test]
    fn a_cut_reaches_every_watch_of_the_token_and_no_other() {
        let registry = Arc::new(Revocations::default());
        let (one, two, other) = (
            registry.watch([1; 32], "alice"),
            registry.watch([1; 32], "alice"),
            registry.watch([2; 32], "bob"),
        );
        assert_eq!(registry.cut_off(&[1; 32]).as_deref(), Some("alice"));
        assert!(one.is_cut() && two.is_cut() && !other.is_cut());
        // A watch begun after the cut (its token cached a moment longer) is
        // a new entry, which the next sweep finds revoked in turn.
        let late = registry.watch([1; 32], "alice");
        drop((one, two));
        assert!(!late.is_cut());
        assert_eq!(registry.hashes().len(), 2);
        drop((late, other));
        assert!(registry.hashes().is_empty());
    }

    #[test]
    fn a_cut_off_stream_answers_its_request_with_an_error() {
        let event = cut_off_event("\"call-7\"");
        let text = std::str::from_utf8(&event).expect("utf-8");
        let json: serde_json::Value =
            serde_json::from_str(text.strip_prefix("data: ").expect("data").trim()).expect("json");
        assert_eq!(json["id"], "call-7");
        assert_eq!(json["error"]["code"], -32001);
    }
}
