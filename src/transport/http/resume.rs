//! A client resuming a response stream that has already ended. rmcp answers
//! such a `GET` (with `Last-Event-ID` of a request's stream) with `200` and
//! a stream that ends at once. TypeScript SDKs before 1.2x (Gemini CLI 0.61
//! bundles one) resume every response stream that carried event ids, even
//! after its response arrived, and treat an empty `200` stream as one to
//! reconnect: each call then left an idle SSE connection open on the server
//! for the rest of the session. `204 No Content` ends it: nothing to resume.
//! A stream that can still be resumed (its request is in flight) is passed on.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame, SizeHint};

/// The header a resuming client sends.
const LAST_EVENT_ID: &str = "last-event-id";

/// Whether a request resumes one request's response stream (rmcp's event
/// ids there are `REQUEST/INDEX`; the session's own stream has no `/`).
pub(super) fn resumes_a_response(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(LAST_EVENT_ID)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|id| id.contains('/'))
}

/// `204` for an answer to [`resumes_a_response`] that has nothing to send.
pub(super) fn settle(response: Response) -> Response {
    if response.status() != StatusCode::OK {
        return response;
    }
    let (parts, mut body) = response.into_parts();
    // One poll without a waker tells an empty stream (over already) from a
    // live one; a live one registers the real waker when hyper polls it.
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut body).poll_frame(&mut cx) {
        Poll::Ready(None) => StatusCode::NO_CONTENT.into_response(),
        Poll::Ready(Some(first)) => Response::from_parts(
            parts,
            Body::new(Prepended {
                first: Some(first),
                rest: body,
            }),
        ),
        Poll::Pending => Response::from_parts(parts, body),
    }
}

/// A body whose first frame was already taken out.
struct Prepended {
    first: Option<Result<Frame<Bytes>, axum::Error>>,
    rest: Body,
}

impl http_body::Body for Prepended {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.first.take() {
            Some(first) => Poll::Ready(Some(first)),
            None => Pin::new(&mut self.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
