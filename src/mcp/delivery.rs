//! Acknowledging leased inbox pages once their replies are written.
//!
//! A transport that knows when a reply has been handed to its client (stdio:
//! the write to stdout finished) gives its server a [`WrittenReplies`]. The
//! server then takes `check_messages` pages under a lease and files each
//! page's receipt under its request id; the transport, after writing the
//! response with that id, acknowledges the page (a moment later: a cancel
//! crossing the reply gives it up, see `mcp::held`). A reply that is never
//! written (the process died, the client went away) leaves the lease to
//! lapse, and the messages go to the next reader (see `service::delivery`).
//!
//! Also what an HTTP request tells its `check_messages` from outside rmcp:
//! its [`ReplySlot`] for the page's receipts, and, for a call parked before it
//! was served, its [`ParkedCall`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::RequestId;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::held::{HeldAcks, WrittenPage};
use crate::service::Bridge;
use crate::store::{Receipt, Store};

/// The receipts of one connection's replies not yet written, and of those
/// written and not yet acknowledged.
pub struct WrittenReplies<S: Store> {
    waiting: Mutex<HashMap<RequestId, Vec<Receipt>>>,
    /// Written pages held back for a crossing cancel.
    held: Arc<HeldAcks<S, RequestId>>,
    /// Pages being written or held, not yet acknowledged or given up.
    in_flight: AtomicUsize,
    settled: Notify,
}

/// The receipts (one per inbox the page came from) of a reply being
/// written; hold them for acknowledgement once it is, or drop them.
pub struct Writing<S: Store> {
    receipts: Vec<Receipt>,
    counted: Counted<S>,
}

/// A page counted in flight until this is dropped.
struct Counted<S: Store>(Arc<WrittenReplies<S>>);

impl<S: Store> Drop for Counted<S> {
    fn drop(&mut self) {
        self.0.finished();
    }
}

impl<S: Store> WrittenReplies<S> {
    /// Receipts acknowledged through `bridge`.
    pub fn new(bridge: Arc<Bridge<S>>) -> Arc<Self> {
        Arc::new(Self {
            waiting: Mutex::new(HashMap::new()),
            held: HeldAcks::new(bridge),
            in_flight: AtomicUsize::new(0),
            settled: Notify::new(),
        })
    }

    /// The client cancelled `request`: a page its reply carried, if still
    /// held, was dropped by the client and is given up (see `mcp::held`).
    pub fn cancelled(&self, request: &RequestId) {
        self.held.cancelled(request);
    }

    /// The client reads an inbox again: the pages it was sent before are
    /// acknowledged now (its read waits for them, see [`Self::settle`]).
    pub fn reading(&self) {
        self.held.acknowledge_now(|_| true);
    }

    /// Acknowledges every held page (the connection is over).
    pub async fn acknowledge_held(&self) {
        self.held.acknowledge_all().await;
    }

    /// Files `receipts` until the reply to `request` is written.
    pub fn expect(&self, request: RequestId, receipts: Vec<Receipt>) {
        self.lock().insert(request, receipts);
    }

    /// Drops the receipts filed for `request` (its lease lapses and the page
    /// is delivered again): a new call is reusing the id of one that was
    /// cancelled after it took a page, and whose reply never went out.
    pub fn forget(&self, request: &RequestId) {
        self.lock().remove(request);
    }

    /// The receipt of the reply to `request`, about to be written. Counted as
    /// in flight from this moment, so [`WrittenReplies::settle`] waits for it.
    pub fn writing(self: &Arc<Self>, request: &RequestId) -> Option<Writing<S>> {
        let receipts = self.lock().remove(request)?;
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Some(Writing {
            receipts,
            counted: Counted(Arc::clone(self)),
        })
    }

    /// Waits until every acknowledgement started so far has committed, so a
    /// client that reads a reply and asks again at once is not kept waiting
    /// behind its own lease.
    pub async fn settle(&self) {
        loop {
            let settled = self.settled.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            settled.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RequestId, Vec<Receipt>>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single insert/remove), so a poisoned lock is still usable.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.settled.notify_waiters();
    }
}

impl<S: Store> Writing<S> {
    /// The reply to `request` was written: its messages leave the inbox
    /// unless the client turns out to have cancelled the call.
    pub fn written(self, request: RequestId) {
        let held = Arc::clone(&self.counted.0.held);
        held.hold(
            request,
            WrittenPage {
                receipts: self.receipts,
                counted: Box::new(self.counted),
            },
        );
    }

    /// The reply could not be written, or its client had cancelled the
    /// call: leave the lease to lapse.
    pub fn failed(self) {}
}

/// Longest a `check_messages` over HTTP waits for an earlier response of the
/// same inbox to be written and acknowledged before it reads anyway (and then
/// finds the page still leased). Responses are written within milliseconds;
/// this only bounds a client that stops reading mid-response.
const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

type Inbox = (crate::domain::ConversationId, crate::domain::Side);

/// The inboxes whose leased pages are in responses not yet written and
/// acknowledged, across every HTTP request of the process. A new read of such
/// an inbox first waits for them ([`InFlightPages::settle`]), so a client that
/// reads a response and asks again at once is not answered "empty" while its
/// last page is still being acknowledged (over stdio, `WrittenReplies::settle`
/// does this per connection).
#[derive(Debug, Default)]
pub struct InFlightPages {
    pages: Mutex<HashMap<Inbox, usize>>,
    settled: Notify,
}

impl InFlightPages {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Inbox, usize>> {
        // Single map operations under the lock: a poisoned one is intact.
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(&self, receipts: &[Receipt]) {
        let mut pages = self.lock();
        for r in receipts {
            *pages
                .entry((r.conversation.clone(), r.recipient))
                .or_default() += 1;
        }
    }

    fn end(&self, receipts: &[Receipt]) {
        {
            let mut pages = self.lock();
            for r in receipts {
                let key = (r.conversation.clone(), r.recipient);
                if let Some(n) = pages.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        pages.remove(&key);
                    }
                }
            }
        }
        self.settled.notify_waiters();
    }

    /// Waits (at most [`SETTLE_TIMEOUT`]) until no page of `inboxes` is in flight.
    pub async fn settle(&self, inboxes: &[Inbox]) {
        let wait = async {
            loop {
                let settled = self.settled.notified();
                tokio::pin!(settled);
                settled.as_mut().enable();
                if !inboxes.iter().any(|k| self.lock().contains_key(k)) {
                    return;
                }
                settled.await;
            }
        };
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, wait).await;
    }
}

/// Receipts filed for acknowledgement, counted in flight until dropped.
#[derive(Debug)]
pub struct PendingPages {
    receipts: Vec<Receipt>,
    pages: Arc<InFlightPages>,
}

impl PendingPages {
    /// The receipts, to acknowledge; they stay counted until `self` is dropped.
    pub fn receipts(&self) -> &[Receipt] {
        &self.receipts
    }
}

impl Drop for PendingPages {
    fn drop(&mut self) {
        self.pages.end(&self.receipts);
    }
}

#[derive(Debug)]
struct SlotInner {
    receipts: Mutex<Vec<Receipt>>,
    pages: Arc<InFlightPages>,
    /// Cancelled when the request's client has gone before its answer.
    gone: CancellationToken,
}

impl Drop for SlotInner {
    fn drop(&mut self) {
        // A response that never reached its body (dropped earlier): its pages
        // are no longer in flight; their leases lapse.
        let left = std::mem::take(&mut *self.receipts.lock().unwrap_or_else(|p| p.into_inner()));
        self.pages.end(&left);
    }
}

/// The receipts of the inbox pages in one HTTP response. The HTTP transport
/// puts an empty slot into each request's extensions; `check_messages` then
/// leases its page and files the receipts here, and the transport
/// acknowledges them once the response body has been handed to the
/// connection (see `transport::http::written`).
#[derive(Debug, Clone)]
pub struct ReplySlot(Arc<SlotInner>);

impl ReplySlot {
    /// An empty slot whose pages count in `pages`.
    pub fn new(pages: Arc<InFlightPages>) -> Self {
        Self(Arc::new(SlotInner {
            receipts: Mutex::default(),
            pages,
            gone: CancellationToken::new(),
        }))
    }

    /// Cancelled once the request's client has gone without its answer (see
    /// [`ReplySlot::gone_unless_answered`]): a call that still waits (a
    /// long-poll in an MCP session, which runs in the session's task, not in
    /// the request's) ends instead of taking a page no one will read.
    pub fn gone(&self) -> CancellationToken {
        self.0.gone.clone()
    }

    /// Marks the client gone when the returned guard is dropped, unless it is
    /// disarmed first (the transport holds it while the request is served).
    pub fn gone_unless_answered(&self) -> DropGuard {
        self.0.gone.clone().drop_guard()
    }

    /// Files `receipts` for acknowledgement after the response is written.
    pub fn file(&self, receipts: Vec<Receipt>) {
        self.0.pages.begin(&receipts);
        self.lock().extend(receipts);
    }

    /// Takes every receipt filed so far.
    pub fn take(&self) -> PendingPages {
        PendingPages {
            receipts: std::mem::take(&mut *self.lock()),
            pages: Arc::clone(&self.0.pages),
        }
    }

    /// Whether nothing is waiting for acknowledgement.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Waits until earlier responses carrying pages of `inboxes` are written.
    pub async fn settle(&self, inboxes: &[Inbox]) {
        self.0.pages.settle(inboxes).await;
    }

    /// The slot of the HTTP request a call came in, if it came over HTTP.
    pub fn of(extensions: &rmcp::model::Extensions) -> Option<ReplySlot> {
        extensions
            .get::<axum::http::request::Parts>()?
            .extensions
            .get::<ReplySlot>()
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Receipt>> {
        // Only pushes and takes happen under the lock: a poisoned one is intact.
        self.0.receipts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Put into a request's extensions by a transport that parked the call
/// before serving it (`service::park`): when its wait ends, and how the park
/// ended.
#[derive(Debug, Clone, Copy)]
pub struct ParkedCall {
    /// When the call's wait ends.
    pub until: tokio::time::Instant,
    /// How the park ended.
    pub parked: crate::service::Parked,
}

impl ParkedCall {
    /// `wait` shortened to what a park left of it, and how the park ended.
    pub fn rest_of(
        extensions: &rmcp::model::Extensions,
        wait: std::time::Duration,
    ) -> (std::time::Duration, Option<crate::service::Parked>) {
        let parked = extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<ParkedCall>());
        match parked {
            Some(p) => {
                let left = p
                    .until
                    .saturating_duration_since(tokio::time::Instant::now());
                (wait.min(left), Some(p.parked))
            }
            None => (wait, None),
        }
    }
}
