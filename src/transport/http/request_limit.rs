//! The per-token request rate (`http.requests`), one limit for every server
//! on the database: a request is decided in memory from all servers' counts
//! as of the last sync plus this server's since (`ratelimit::SharedWindows`),
//! and a task adds this server's counts to the store and reads everyone's
//! back once a [`SYNC_EVERY`]. A request of an identity that made none here
//! since the last sync reads its counts first, so a server that just
//! started, or a host the load balancer just picked, does not begin from
//! zero, and an idle server does no database work at all.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::access::refusal;
use crate::domain::Timestamp;
use crate::ratelimit::{Limits, SharedWindows};
use crate::service::Bridge;
use crate::store::HttpTokenStore;

/// How often a server adds its counts to the shared ones: together the
/// servers exceed a limit by at most what they admit in this long.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The limits and the counts of one server.
pub(super) struct RequestLimit {
    limits: Limits,
    windows: Mutex<SharedWindows>,
}

impl RequestLimit {
    pub(super) fn new(limits: Limits) -> Self {
        Self {
            limits,
            windows: Mutex::default(),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, SharedWindows> {
        // Each critical section is a single update: a poisoned lock is intact.
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spends one request of `identity`; the `429` when its quota is used up.
    pub(super) async fn spend<S: HttpTokenStore>(
        &self,
        bridge: &Bridge<S>,
        identity: &str,
    ) -> Option<Response> {
        if !self.windows().knows(identity) {
            match Box::pin(bridge.http_request_counts(identity)).await {
                Ok(stored) => self.windows().read(identity, stored),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the shared request counts");
                    return Some(refusal(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the request counters cannot be read right now; retry in a moment",
                    ));
                }
            }
        }
        let refused = self
            .windows()
            .spend(identity, &self.limits, Timestamp::now())
            .err()?;
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "this token made {} requests in the last {}, its limit (http.requests, shared by every server on the database); retry in {} s",
                refused.limit,
                refused.window.as_str(),
                refused.retry_after_s
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&refused.retry_after_s.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        Some(response)
    }

    /// One sync: this server's counts out, everyone's back. A failure keeps
    /// the counts for the next one.
    pub(super) async fn sync<S: HttpTokenStore>(&self, bridge: &Bridge<S>) {
        let out = self.windows().outgoing();
        if out.tokens.is_empty() {
            return;
        }
        let (spent, tokens) = (out.spent.clone(), out.tokens.clone());
        match bridge.sync_http_requests(out).await {
            Ok(stored) => self.windows().synced(&tokens, stored),
            Err(e) => {
                tracing::warn!(error = %e, "cannot share the request counts; retrying");
                self.windows().unsent(spent);
            }
        }
    }
}

/// Syncs `limit` every [`SYNC_EVERY`] until the server that owns it is gone.
pub(super) async fn sync_loop<S: HttpTokenStore>(
    limit: Weak<RequestLimit>,
    bridge: Arc<Bridge<S>>,
) {
    let mut ticks = tokio::time::interval(SYNC_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(limit) = limit.upgrade() else {
            return;
        };
        limit.sync(&bridge).await;
    }
}
