//! A request's body arrives whole and in time before the request goes on:
//! within [`MAX_BODY_BYTES`] (a chunked body has no `Content-Length` to
//! refuse it by) and within the read timeout, so a client that trickles its
//! body holds a connection and a task for seconds, not forever. On `/mcp`
//! it runs inside the bearer check (`access::check_caller`), after it: an
//! unauthenticated client is refused before its body is read at all.
//! Heads are bounded here too, exactly (see [`head_too_large`]), and bodies
//! in a coding this server does not decode refused (`site::framing`).

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use super::access::refusal;
use super::{MAX_BODY_BYTES, MAX_HEAD_BYTES};

/// Why a body was not read.
enum Unread {
    TooLarge,
    Broken,
}

async fn read(body: Body) -> Result<Bytes, Unread> {
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Unread::Broken)?;
        len += chunk.len();
        if len > MAX_BODY_BYTES {
            return Err(Unread::TooLarge);
        }
        chunks.push(chunk);
    }
    // Most bodies come in one chunk: hand it on without a copy.
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => chunks.concat().into(),
    })
}

/// Whether a request declares a body over [`MAX_BODY_BYTES`]: refused
/// before a byte of it is read, so a client sending `Expect: 100-continue`
/// is not invited to send it and one that never sends it holds nothing.
pub(super) fn declared_too_large(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
}

/// `413`: a body over [`MAX_BODY_BYTES`], refused by its `Content-Length`
/// or while it is read.
pub(super) fn too_large() -> Response {
    refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request bodies are limited to {MAX_BODY_BYTES} bytes; nothing was done"),
    )
}

/// `431` for a request whose line and headers exceed [`MAX_HEAD_BYTES`]
/// (counted as on the wire: `Name: value` and a line end each).
pub(crate) fn head_too_large(request: &Request) -> Option<Response> {
    let uri = request.uri();
    // The target as sent: origin form, or absolute form with scheme and host.
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + 11;
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (line + headers > MAX_HEAD_BYTES).then(|| {
        refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "a request's line and headers are limited to {MAX_HEAD_BYTES} bytes; nothing was done"
            ),
        )
    })
}

/// `request` with its body read whole within `timeout`, or the refusal to
/// answer instead.
async fn read_within(request: Request, timeout: Duration) -> Result<Request, Response> {
    let (parts, bytes) = read_parts_within(request, timeout).await?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// [`read_within`], as the request's head and its body's bytes.
pub(super) async fn read_parts_within(
    request: Request,
    timeout: Duration,
) -> Result<(Parts, Bytes), Response> {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, read(body)).await {
        Ok(Ok(bytes)) => Ok((parts, bytes)),
        Ok(Err(Unread::TooLarge)) => Err(too_large()),
        Ok(Err(Unread::Broken)) => Err(refusal(
            StatusCode::BAD_REQUEST,
            "the request body could not be read (the connection broke or the encoding is invalid); nothing was done",
        )),
        Err(_) => Err(refusal(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s (http.read_timeout_s); nothing was done",
                timeout.as_secs()
            ),
        )),
    }
}

async fn read_whole(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    if let Some(refused) =
        head_too_large(&request).or_else(|| super::site::framing(request.headers()))
    {
        return refused;
    }
    if declared_too_large(request.headers()) {
        return too_large();
    }
    match read_within(request, timeout).await {
        Ok(request) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// `router` with every request's head bounded and body read whole within
/// `timeout` before it runs (for routers with no bearer check of their own to come first).
pub(crate) fn bounded_bodies(router: Router, timeout: Duration) -> Router {
    router.layer(axum::middleware::from_fn_with_state(timeout, read_whole))
}
