//! The `bridge://inbox` resource: what waits for this session's conversations,
//! read without marking anything read, and a subscription that sends
//! `notifications/resources/updated` when a message for it arrives, so a
//! client that honours subscriptions is pushed instead of polling — through
//! `resources/subscribe` (protocol versions up to 2025-11-25) or
//! `subscriptions/listen` (2026-07-28).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::SubscriptionFilter;
use rmcp::model::{
    ListResourcesResult, ReadResourceResult, Resource, ResourceContents,
    ResourceUpdatedNotificationParam,
};
use rmcp::service::{Peer, SubscriptionContext};
use tokio_util::sync::CancellationToken;

use super::Backend;
use super::BridgeServer;
use crate::service::{ServiceError, Session, summaries_json};
use crate::store::Store;

/// The resource's URI.
pub const INBOX_URI: &str = "bridge://inbox";
/// Messages previewed per session.
const PREVIEW: u32 = 10;

/// The resources this server offers.
pub(super) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(INBOX_URI, "inbox")
            .with_description(
                "Unread messages of this session's conversations (counts and first lines; nothing is marked read). Subscribe to be notified when one arrives.",
            )
            .with_mime_type("application/json"),
    ])
}

/// The URI asked for is not echoed: a client may have put a token or a
/// credential-bearing URL in it, and errors are also logged.
fn unknown(_uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no such resource; the bridge offers {INBOX_URI}"),
        None,
    )
}

fn sessions(session: &Session) -> Vec<(crate::domain::ConversationId, crate::domain::Side)> {
    session
        .bound()
        .into_iter()
        .map(|c| (c.conversation, c.side))
        .collect()
}

/// Why a `subscriptions/listen` of the stateless protocol is refused.
pub const STATELESS_LISTEN: &str = "a stateless request holds no conversation, so this listen would never hear anything; open an MCP session (initialize with 2025-11-25), create or join a conversation in it, then subscribe there, or long-poll check_messages";

/// Most `subscriptions/listen` subscriptions one connection holds at once.
pub(super) const MAX_LISTENS: usize = 16;

/// The inbox watches of one connection.
#[derive(Debug, Default)]
pub(super) struct InboxWatch {
    /// The watch behind a `resources/subscribe`, if any.
    subscription: std::sync::Mutex<Option<CancellationToken>>,
    /// `subscriptions/listen` subscriptions running.
    listens: AtomicUsize,
}

/// Gives a listen's slot back when it ends, however it ends.
struct ListenSlot<'a>(&'a AtomicUsize);

impl Drop for ListenSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: Backend> BridgeServer<S> {
    /// `resources/read` of the inbox.
    pub(super) async fn read_inbox(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        if uri != INBOX_URI {
            return Err(unknown(uri));
        }
        let seats: Vec<_> = self
            .bound_seats()
            .await
            .into_iter()
            .map(|b| (b.conversation, b.side))
            .collect();
        let summaries = self
            .bridge
            .agent_inbox(&seats, PREVIEW)
            .await
            .map_err(|e| match e {
                ServiceError::RateLimited { .. } => {
                    ErrorData::invalid_request(format!("{}: {e}", e.code()), None)
                }
                e => {
                    tracing::error!(error = %e, "cannot read the inbox resource");
                    ErrorData::internal_error(
                        "cannot read the inbox; the server log has details",
                        None,
                    )
                }
            })?;
        let text = summaries_json(&summaries).to_string();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, INBOX_URI).with_mime_type("application/json"),
        ]))
    }

    /// `resources/subscribe`: starts (once) a watch that notifies `peer`
    /// whenever the number of unread messages of this session grows.
    pub(super) fn subscribe_inbox(
        &self,
        uri: &str,
        peer: Peer<RoleServer>,
    ) -> Result<(), ErrorData> {
        if uri != INBOX_URI {
            return Err(unknown(uri));
        }
        let mut watch = self
            .inbox_watch
            .subscription
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if watch.as_ref().is_some_and(|w| !w.is_cancelled()) {
            return Ok(());
        }
        let stop = self.session_end.child_token();
        *watch = Some(stop.clone());
        let (bridge, session) = (Arc::clone(&self.bridge), Arc::clone(&self.session));
        tokio::spawn(async move {
            let notify = || {
                let peer = peer.clone();
                async move {
                    peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(INBOX_URI))
                        .await
                        .is_ok()
                }
            };
            watch_inbox(bridge, session, notify, stop).await;
        });
        Ok(())
    }

    /// The part of a `subscriptions/listen` filter this server serves: the inbox resource.
    pub(super) fn inbox_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let wanted = requested
            .resource_subscriptions
            .as_ref()
            .is_some_and(|uris| uris.iter().any(|u| u == INBOX_URI));
        wanted.then(|| {
            SubscriptionFilter::builder()
                .resource_subscription(INBOX_URI)
                .build()
        })
    }

    /// Runs a `subscriptions/listen` subscription to the inbox until the
    /// client cancels it or the session ends.
    ///
    /// # Errors
    /// When the connection already holds [`MAX_LISTENS`] of them: each is a
    /// watch of its own, woken by every commit on the database.
    pub(super) async fn listen_inbox(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        // A stateless HTTP request is served by a fresh, unbound instance: its
        // listen could never hear anything, and it held a connection open
        // (and escaped the per-connection cap) for as long as the client
        // liked; one token used up a server's descriptors (red team).
        if super::http_session::stateless_http(context.request_context())
            && self.session.with_bound(|bound| bound.is_empty())
        {
            return Err(ErrorData::invalid_request(STATELESS_LISTEN, None));
        }
        let listens = &self.inbox_watch.listens;
        if listens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_LISTENS).then_some(n + 1)
            })
            .is_err()
        {
            return Err(ErrorData::invalid_request(
                format!(
                    "this connection already listens {MAX_LISTENS} times; one listen hears every inbox notice, so cancel one first"
                ),
                None,
            ));
        }
        let _slot = ListenSlot(listens);
        let stop = self.session_end.child_token();
        let sink = context.sink().clone();
        let notify = || {
            let sink = sink.clone();
            async move { sink.notify_resource_updated(INBOX_URI).await.is_ok() }
        };
        tokio::select! {
            () = watch_inbox(Arc::clone(&self.bridge), Arc::clone(&self.session), notify, stop.clone()) => {}
            () = context.cancelled() => stop.cancel(),
        }
        Ok(())
    }

    /// `resources/unsubscribe`: ends the watch.
    pub(super) fn unsubscribe_inbox(&self, uri: &str) -> Result<(), ErrorData> {
        if uri != INBOX_URI {
            return Err(unknown(uri));
        }
        if let Some(w) = self
            .inbox_watch
            .subscription
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            w.cancel();
        }
        Ok(())
    }
}

/// Calls `notify` each time a message arrives for `session`'s conversations
/// (the newest unread id grows), woken by the store's change feed (commits of
/// any process), until `stop` is cancelled or `notify` reports the client gone.
async fn watch_inbox<S, N, F>(
    bridge: Arc<crate::service::Bridge<S>>,
    session: Arc<Session>,
    notify: N,
    stop: CancellationToken,
) where
    S: Store,
    N: Fn() -> F,
    F: std::future::Future<Output = bool>,
{
    let mut feed = bridge.store().changes();
    // What waited before the subscription is no news.
    let mut last = bridge
        .newest_unread(&sessions(&session))
        .await
        .unwrap_or(None);
    loop {
        feed.mark_seen();
        let newest = match bridge.newest_unread(&sessions(&session)).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "inbox watch: cannot read the inbox");
                last
            }
        };
        if newest > last {
            if !notify().await {
                return;
            }
            last = newest;
        }
        tokio::select! {
            () = feed.changed() => {}
            () = stop.cancelled() => return,
        }
    }
}
