//! Response bodies that acknowledge the inbox pages they carry once handed
//! to the connection, and that count as in flight until then.
//!
//! `check_messages` files the receipts of a leased page in the request's
//! [`ReplySlot`]; when the body has yielded its last frame the receipts are
//! acknowledged by a task of their own, and the end of the body is reported
//! at once (an event stream's body ends right after the reply's event, see
//! [`carries_reply`]): the commit is not on the client's path (a long-poll's answer
//! used to wait for it). A client that asks again at once is not answered
//! before the page left its inbox all the same: the page counts in flight
//! ([`crate::mcp::delivery::InFlightPages`]) until the acknowledgement has
//! committed, and a new read of that inbox waits for it. A body dropped
//! before its end (client gone), or one that ends without the reply (the
//! call was cancelled), acknowledges nothing: the lease lapses and the page
//! is delivered again. So does a stream cut off because its bearer token was
//! revoked (see `revoke`) before its reply went out. In an MCP session, where
//! the client can cancel a call, a page is held a moment for a cancel that
//! crossed its reply (see `call_ids` and `mcp::held`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use serde::de::IgnoredAny;
use tokio::sync::Notify;
use tokio_util::sync::DropGuard;

use super::call_ids::SessionCall;
use super::revoke::Cut;
use crate::mcp::delivery::ReplySlot;
use crate::mcp::held::WrittenPage;
use crate::service::Bridge;
use crate::store::Store;

/// Requests whose responses are still being produced or written.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Counts one request until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(self))
    }

    /// Waits until no request is in flight.
    pub async fn idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// One request in flight.
#[derive(Debug)]
pub struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A response body that acknowledges its slot's receipts at its end.
pub struct AckBody<S: Store> {
    inner: Body,
    slot: ReplySlot,
    bridge: Arc<Bridge<S>>,
    /// The frame carrying the reply has been handed to the connection: the
    /// body ends at the next poll (see [`carries_reply`]).
    replied: bool,
    finished: bool,
    _in_flight: Option<InFlightGuard>,
    /// The request's id, held in its session until the body is gone.
    call: Option<SessionCall<S>>,
    /// Marks the client gone if the body is dropped before its end (see
    /// `ReplySlot::gone`).
    gone: Option<DropGuard>,
    /// Ends the stream if its bearer token is revoked before its reply.
    cut: Option<Cut>,
}

impl<S: Store> AckBody<S> {
    /// Wraps `inner`.
    pub fn new(
        inner: Body,
        slot: ReplySlot,
        bridge: Arc<Bridge<S>>,
        in_flight: Option<InFlightGuard>,
        call: Option<SessionCall<S>>,
        gone: Option<DropGuard>,
        cut: Option<Cut>,
    ) -> Self {
        Self {
            inner,
            slot,
            bridge,
            replied: false,
            finished: false,
            _in_flight: in_flight,
            call,
            gone,
            cut,
        }
    }

    /// Ends the body because its bearer token was revoked, with the error
    /// answering its request if it has one. The call still waiting ends as
    /// if its client had gone (it files nothing), and a page filed already
    /// is never acknowledged: its lease lapses and it goes to the next reader.
    fn cut_off(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.finished = true;
        self.slot.gone().cancel();
        self.gone = None;
        drop(self.slot.take());
        self._in_flight = None;
        let last = self.cut.take().and_then(|cut| cut.last_event());
        Poll::Ready(last.map(|event| Ok(Frame::data(event))))
    }

    /// Ends the body: the receipts are acknowledged by a task of their own,
    /// if the reply that carries them went out. A stream that ends without
    /// it acknowledges nothing, and a page taken is delivered again once its
    /// lease lapses; a long-poll still waiting ends as if its client had gone
    /// (it files nothing). rmcp ends a request's stream without its reply
    /// when the client cancelled the call, when the session is deleted, and
    /// when the client resumes the stream elsewhere (`GET` with
    /// `Last-Event-ID`): the call used to wait on, take the next message and
    /// send it down that `GET`, which acknowledges nothing — delivered twice,
    /// or, after a `DELETE`, to no one until its lease lapsed (red team).
    fn finish(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.finished = true;
        if let Some(gone) = self.gone.take() {
            if self.replied {
                gone.disarm();
            } else {
                self.slot.gone().cancel();
            }
        }
        let pages = self.slot.take();
        // Still in flight (for a graceful shutdown) until acknowledged.
        let in_flight = self._in_flight.take();
        if self.replied && !pages.receipts().is_empty() {
            if let Some(call) = &self.call {
                // In a session, where the client can cancel the call: held
                // for a cancel that crossed the reply (see `mcp::held`).
                call.written(WrittenPage {
                    receipts: pages.receipts().to_vec(),
                    counted: Box::new((pages, in_flight)),
                });
                return Poll::Ready(None);
            }
            let bridge = Arc::clone(&self.bridge);
            tokio::spawn(async move {
                for receipt in pages.receipts() {
                    bridge.acknowledge(receipt.clone()).await;
                }
                // The inboxes' next reads wait until these are dropped.
                drop((pages, in_flight));
            });
        }
        Poll::Ready(None)
    }
}

/// Whether `data`, a frame of a response, carries a JSON-RPC reply (a
/// message with an `id` and a `result`): the whole body of a JSON response,
/// or an event of an SSE one (its `data:` lines), not a keep-alive comment,
/// a priming event or a notification.
///
/// A POST's event stream ends after its reply, but rmcp closes it a moment
/// after sending the reply, and a client that has its reply may hang up in
/// that moment; hyper then drops the body without polling its end, and the
/// page, which the client did receive, would be delivered again once its
/// lease lapsed. So the body ends itself right after the reply's frame.
fn carries_reply(data: &[u8]) -> bool {
    /// Only whether the two members are there: nothing is built of the
    /// (possibly large) page, which is scanned once.
    #[derive(serde::Deserialize)]
    struct Probe {
        id: Option<IgnoredAny>,
        result: Option<IgnoredAny>,
    }
    let is_reply = |json: &[u8]| {
        serde_json::from_slice::<Probe>(json).is_ok_and(|p| p.id.is_some() && p.result.is_some())
    };
    if data.first() == Some(&b'{') {
        return is_reply(data);
    }
    let mut lines = data
        .split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|value| {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            value.strip_suffix(b"\r").unwrap_or(value)
        });
    let Some(first) = lines.next() else {
        return false;
    };
    // rmcp writes a message as one `data:` line; several are joined as SSE says.
    let mut rest = lines.peekable();
    if rest.peek().is_none() {
        return is_reply(first);
    }
    let mut joined = first.to_vec();
    for line in rest {
        joined.push(b'\n');
        joined.extend_from_slice(line);
    }
    is_reply(&joined)
}

impl<S: Store> http_body::Body for AckBody<S> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        if this.replied {
            return this.finish();
        }
        if this.cut.as_mut().is_some_and(|cut| cut.poll(cx)) {
            return this.cut_off();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Ok(frame))) => {
                if !this.slot.is_empty() && frame.data_ref().is_some_and(|d| carries_reply(d)) {
                    this.replied = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Only once nothing is left to acknowledge: hyper stops polling a
        // body that says it has ended, and the acknowledgement would be lost.
        self.finished || (self.inner.is_end_stream() && self.slot.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        if self.slot.is_empty() {
            self.inner.size_hint()
        } else {
            // Not exact: hyper then sends the body chunked and polls it to
            // its end (with an exact length it stops after the last byte and
            // never sees the end, where the acknowledgement starts).
            let mut hint = SizeHint::new();
            hint.set_lower(self.inner.size_hint().lower());
            hint
        }
    }
}

#[cfg(test)]
mod tests {
    use super::carries_reply;

    #[test]
    fn only_a_reply_carries_a_reply() {
        let reply = br#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#;
        assert!(carries_reply(reply), "a JSON body");
        let event = b"id: 0/3\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n";
        assert!(carries_reply(event), "an SSE event");
        assert!(carries_reply(b"data:{\"id\":\"x\",\"result\":1}\r\n\r\n"));
        for other in [
            &b": keep-alive\n\n"[..],
            b"data:\nretry: 3000\n\n",
            b"id: 0\ndata: \n\n",
            b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"result\":1}}\n\n",
            b"data: {\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-1,\"message\":\"x\"}}\n\n",
            b"data: {\"text\":\"\\\"result\\\":1, \\\"id\\\":2\"}\n\n",
            b"{not json",
            b"",
        ] {
            assert!(!carries_reply(other), "{:?}", String::from_utf8_lossy(other));
        }
    }
}
