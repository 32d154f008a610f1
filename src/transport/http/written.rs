//! Response bodies that acknowledge the inbox pages they carry once handed
//! to the connection, and that count as in flight until then.
//!
//! `check_messages` files the receipts of a leased page in the request's
//! [`ReplySlot`]; when the body has yielded its last frame the receipts are
//! acknowledged by a task of their own, and the end of the body is reported
//! at once: the commit is not on the client's path (a long-poll's answer
//! used to wait for it). A client that asks again at once is not answered
//! before the page left its inbox all the same: the page counts in flight
//! ([`crate::mcp::delivery::InFlightPages`]) until the acknowledgement has
//! committed, and a new read of that inbox waits for it. A body dropped
//! before its end (client gone) acknowledges nothing: the lease lapses and the
//! page is delivered again.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::sync::Notify;

use crate::mcp::delivery::ReplySlot;
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
    finished: bool,
    _in_flight: Option<InFlightGuard>,
}

impl<S: Store> AckBody<S> {
    /// Wraps `inner`.
    pub fn new(
        inner: Body,
        slot: ReplySlot,
        bridge: Arc<Bridge<S>>,
        in_flight: Option<InFlightGuard>,
    ) -> Self {
        Self {
            inner,
            slot,
            bridge,
            finished: false,
            _in_flight: in_flight,
        }
    }
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
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finished = true;
                let pages = this.slot.take();
                // Still in flight (for a graceful shutdown) until acknowledged.
                let in_flight = this._in_flight.take();
                if !pages.receipts().is_empty() {
                    let bridge = Arc::clone(&this.bridge);
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
