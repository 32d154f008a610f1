//! Who spends the quota of unauthenticated calls (`rate_limits.unauthenticated`).
//!
//! Over stdio one server process serves one client, so the process counts
//! them. An HTTP server serves many clients, so there the transport names the
//! bearer token a call came with, and each token gets its own windows: one
//! client cannot use up everyone's share of new conversations or failed
//! authentications. The name travels as a task-local around the tool call
//! (the service API stays the same for both transports).

use std::future::Future;

tokio::task_local! {
    static QUOTA_SCOPE: String;
}

/// Runs `call` with its unauthenticated calls counted for `scope` (a bearer
/// token's name), or for the process when `scope` is `None`.
pub async fn with_quota_scope<F: Future>(scope: Option<String>, call: F) -> F::Output {
    match scope {
        Some(scope) => QUOTA_SCOPE.scope(scope, call).await,
        None => call.await,
    }
}

/// The scope of the current call, if the transport set one.
pub(super) fn current() -> Option<String> {
    QUOTA_SCOPE.try_with(Clone::clone).ok()
}
