//! Open SSE streams (`GET /mcp`) per MCP session. rmcp keeps up to 33 of
//! them for a session (its primary stream and 32 "shadow" ones), and the
//! read timeout never cuts a stream that is answered, so one token's
//! sessions could hold more connections than the process has descriptors
//! (red team: 31 sessions × 33 streams starved a server of 1 024). A client
//! keeps one per session; a few more cover a reconnection that overlaps the
//! stream it replaces and a resumption.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// The most `GET` streams one session holds open at once.
pub(super) const MAX_PER_SESSION: usize = 4;

/// The answer to one more.
pub(super) const TOO_MANY: &str = "Too Many Requests: this MCP session holds as many open streams (GET) as it may; close one first";

/// How many streams each session holds open.
#[derive(Default)]
pub(super) struct Streams(Mutex<HashMap<String, usize>>);

impl Streams {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a stream of `session` until the returned guard is dropped, or
    /// `None` when it holds [`MAX_PER_SESSION`] already.
    pub(super) fn enter(self: &Arc<Self>, session: &str) -> Option<StreamGuard> {
        let mut open = self.open();
        let n = open.entry(session.to_owned()).or_default();
        if *n >= MAX_PER_SESSION {
            return None;
        }
        *n += 1;
        Some(StreamGuard {
            streams: Arc::clone(self),
            session: session.to_owned(),
        })
    }
}

/// A session holds [`MAX_PER_SESSION`] streams already.
pub(super) struct Full;

impl Full {
    /// The `429` refusing one more.
    pub(super) fn refusal(self) -> Response {
        super::access::refusal(StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    }
}

/// A place for a `GET` of MCP session `session` (none needed for another
/// request).
pub(super) fn admit(
    streams: &Arc<Streams>,
    method: &Method,
    session: Option<&str>,
) -> Result<Option<StreamGuard>, Full> {
    match (method == Method::GET, session) {
        (true, Some(id)) => streams.enter(id).map(Some).ok_or(Full),
        _ => Ok(None),
    }
}

/// `body`, holding `place` until it is dropped.
pub(super) fn counted(body: Body, place: Option<StreamGuard>) -> Body {
    match place {
        Some(guard) => Body::new(Counted {
            inner: body,
            _guard: guard,
        }),
        None => body,
    }
}

/// One open stream, counted until dropped (with its response body).
pub(super) struct StreamGuard {
    streams: Arc<Streams>,
    session: String,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = self.streams.open();
        if let Some(n) = open.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.session);
            }
        }
    }
}

/// A response body that holds its stream's place until it is dropped.
struct Counted {
    inner: Body,
    _guard: StreamGuard,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_a_bounded_number_of_streams() {
        let streams = Arc::new(Streams::default());
        let held: Vec<_> = (0..MAX_PER_SESSION)
            .map(|_| streams.enter("s1").expect("a place"))
            .collect();
        assert!(streams.enter("s1").is_none());
        assert!(streams.enter("s2").is_some(), "per session");
        drop(held);
        assert!(streams.enter("s1").is_some());
        assert!(streams.open().get("s1").is_none(), "forgotten at zero");
    }
}
