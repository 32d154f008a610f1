//! A client resuming a response stream that has already ended. rmcp answers
//! such a `GET` (with `Last-Event-ID` of a request's stream) with `200` and
//! a stream that ends at once. TypeScript SDKs before 1.2x (Gemini CLI 0.61
//! bundles one) resume every response stream that carried event ids, even
//! after its response arrived, and treat an empty `200` stream as one to
//! reconnect: each call then left an idle SSE connection open on the server
//! for the rest of the session. `204 No Content` ends it: nothing to resume.
//! A stream that can still be resumed (its request is in flight) is passed on.
//!
//! rmcp also logs a warning for every resumption its session manager refuses
//! (an answer already delivered and forgotten, an id it never issued); with
//! such a client that is one warning per tool call. [`QuietResume`] answers
//! those with the same empty stream, logged at debug level.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use http_body::{Body as _, Frame, SizeHint};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

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

/// A session manager that answers a refused resumption with an empty stream
/// instead of an error (which rmcp would log as a warning, then answer the
/// same way). Everything else is `M`'s.
pub(super) struct QuietResume<M>(pub(super) M);

impl<M: SessionManager> SessionManager for QuietResume<M> {
    type Error = M::Error;
    type Transport = M::Transport;

    fn create_session(
        &self,
    ) -> impl Future<Output = Result<(SessionId, Self::Transport), Self::Error>> + Send {
        self.0.create_session()
    }

    fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<ServerJsonRpcMessage, Self::Error>> + Send {
        self.0.initialize_session(id, message)
    }

    fn has_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send {
        self.0.has_session(id)
    }

    fn close_session(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.0.close_session(id)
    }

    fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.0.create_stream(id, message)
    }

    fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.0.accept_message(id, message)
    }

    fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> impl Future<
        Output = Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error>,
    > + Send {
        self.0.create_standalone_stream(id)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        match self.0.resume(id, last_event_id).await {
            Ok(stream) => Ok(stream.left_stream()),
            Err(e) => {
                tracing::debug!(error = %e, "nothing to resume");
                Ok(futures_util::stream::empty().right_stream())
            }
        }
    }

    fn restore_session(
        &self,
        id: SessionId,
    ) -> impl Future<Output = Result<RestoreOutcome<Self::Transport>, Self::Error>> + Send {
        self.0.restore_session(id)
    }

    fn event_store(&self) -> Option<std::sync::Arc<dyn EventStore>> {
        self.0.event_store()
    }
}
