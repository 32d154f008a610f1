//! A request's body arrives whole and in time before the request goes on:
//! within [`MAX_BODY_BYTES`] (a chunked body has no `Content-Length` to
//! refuse it by) and within the read timeout, so a client that trickles its
//! body holds a connection and a task for seconds, not forever. Runs after
//! the bearer check: an unauthenticated client is refused before its body is
//! read at all.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use super::MAX_BODY_BYTES;
use super::access::refusal;

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

/// Middleware: reads the body within `timeout`, then runs the request with it.
pub(super) async fn read_whole(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, read(body)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(Unread::TooLarge)) => refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request bodies are limited to {MAX_BODY_BYTES} bytes; nothing was done"),
        ),
        Ok(Err(Unread::Broken)) => refusal(
            StatusCode::BAD_REQUEST,
            "the request body could not be read (the connection broke or the encoding is invalid); nothing was done",
        ),
        Err(_) => refusal(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s (http.read_timeout_s); nothing was done",
                timeout.as_secs()
            ),
        ),
    }
}

/// `router` with every request's body read whole within `timeout` before it
/// runs (for routers with no bearer check of their own to come first).
pub(crate) fn bounded_bodies(router: Router, timeout: Duration) -> Router {
    router.layer(axum::middleware::from_fn_with_state(timeout, read_whole))
}
