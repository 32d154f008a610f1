//! Long-polls wait before rmcp sees them.
//!
//! rmcp builds each request's service (channels, tasks: ~40 KiB) before our
//! tool runs, so a `check_messages` that waits 30 s held all of it for 30 s.
//! A stateless long-poll that names its session explicitly is parked here
//! instead, in the bearer check, holding only its request
//! (`service::park`); once its inbox may have something, its wait ends or
//! the server stops, it goes on to rmcp with what is left of its wait. The
//! request is read with rmcp's own message types, and only a request whose
//! headers already agree with its body (method, tool, protocol version) is
//! parked, so rmcp's checks of them cannot fail after the wait; any other
//! request goes on at once, as before.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, request::Parts};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, GetMeta};
use tokio_util::sync::CancellationToken;

use crate::mcp::Backend;
use crate::mcp::delivery::ParkedCall;
use crate::mcp::params::CheckMessagesParams;
use crate::service::{Bridge, SessionCredentials};

/// The stateless protocol revision whose requests carry their own version.
const STATELESS: &str = "2026-07-28";

/// Parks the request of `parts` and `body` if it is a parkable long-poll;
/// its extensions then tell the tool how the park ended.
pub(super) async fn park<S: Backend>(
    bridge: &Bridge<S>,
    parts: &mut Parts,
    body: &Bytes,
    stop: &CancellationToken,
) {
    // Parsed apart, so that nothing of the parse is kept while it waits.
    let Some((creds, wait)) = parkable(parts, body) else {
        return;
    };
    let until = tokio::time::Instant::now() + wait;
    if let Some(parked) = bridge.park_long_poll(&creds, until, stop.cancelled()).await {
        parts.extensions.insert(ParkedCall { until, parked });
    }
}

/// The credentials and wait of a request that may be parked.
fn parkable(parts: &Parts, body: &Bytes) -> Option<(SessionCredentials, Duration)> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let parkable = parts.method == Method::POST
        && rmcp_takes_its_media_types(parts)
        && header("mcp-session-id").is_none()
        && header("mcp-method") == Some("tools/call")
        && header("mcp-name") == Some("check_messages")
        && header("mcp-protocol-version") == Some(STATELESS);
    if !parkable {
        return None;
    }
    let ClientJsonRpcMessage::Request(request) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    // `_meta` is kept in the request's extensions, not its parameters.
    let meta = request.request.get_meta();
    let agrees = meta
        .protocol_version()
        .is_some_and(|v| v.to_string() == STATELESS)
        // A call that asked for progress reports gets them while it waits.
        && meta.get_progress_token().is_none();
    let ClientRequest::CallToolRequest(call) = request.request else {
        return None;
    };
    let params = call.params;
    if !agrees || params.name != "check_messages" {
        return None;
    }
    CheckMessagesParams::parkable(params.arguments?)
}

/// Whether rmcp will accept the request's media types (its `406` and `415`
/// checks): `Accept` names both JSON and event streams, `Content-Type` is
/// JSON. Checked conservatively (any weight at all in `Accept` and the
/// request goes to rmcp at once), so a request rmcp refuses is refused
/// before it waits, not after.
fn rmcp_takes_its_media_types(parts: &Parts) -> bool {
    let accept: Vec<&str> = parts
        .headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let essences = || {
        accept
            .iter()
            .flat_map(|v| v.split(','))
            .map(|entry| entry.split(';').next().unwrap_or("").trim())
    };
    let unweighted = accept.iter().all(|v| !v.contains(';'));
    let json = |e: &str| e.eq_ignore_ascii_case("application/json");
    let content_json = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| json(v.split(';').next().unwrap_or("").trim()));
    unweighted
        && essences().any(json)
        && essences().any(|e| e.eq_ignore_ascii_case("text/event-stream"))
        && content_json
}
