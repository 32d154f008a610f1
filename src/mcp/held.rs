//! Acknowledgements held back for a moment after the reply carrying an inbox
//! page has been written, so that a cancellation crossing the reply on the
//! wire puts the page back instead of losing it.
//!
//! A client ignores the reply to a call it has cancelled (the MCP
//! specification tells it to), and a cancel can cross the reply: the server
//! writes the page while the client's `notifications/cancelled` is on its
//! way. Acknowledged on write, that page was gone from the inbox and dropped
//! by the client (a red team lost 5 to 17 of 30 long-polls cancelled just as
//! their message came, with the official TypeScript SDK on stdio and over
//! HTTP sessions). So a written page is acknowledged only after
//! [`GRACE`], or sooner when the same client reads an inbox again (it has
//! then moved on, and its read must not find its own last page still
//! leased): at once on stdio, where a cancel sent before the read is read
//! before it, and [`SETTLE_FOR_CANCEL`] later over HTTP, where the client's
//! cancel and its next read are separate requests that may arrive in either
//! order. A cancel for the call before that gives the page up: its lease
//! lapses and the page is delivered again, with the same ids.
//!
//! The other side of the same bargain: a client that cancels a call it has
//! already read (the MCP specification says not to, but the TypeScript SDK
//! does when an `AbortSignal` shared with finished calls fires) within that
//! moment gets the page a second time once the lease lapses.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::service::Bridge;
use crate::store::{Receipt, Store};

/// How long a written page waits for a crossing cancel before it is
/// acknowledged. A cancel sent before its client read the reply arrives
/// within a round trip (milliseconds here, up to a few hundred over a long
/// network path); the page stays leased (unseen by other readers of its
/// inbox) meanwhile. Short, since a cancel sent after the reply was read
/// (see the module documentation) within it costs a duplicate.
pub const GRACE: Duration = Duration::from_millis(500);

/// The test suite's stand-in for [`GRACE`]: its cancel-crossing tests cross
/// a reply on purpose, and on a loaded runner their cancel can take longer
/// than half a second to arrive.
const GRACE_FOR_TESTS: &str = "MCP_BRIDGE_TEST_ACK_GRACE_MS";

/// [`GRACE`], unless the tests set [`GRACE_FOR_TESTS`].
fn grace() -> Duration {
    static GRACE_NOW: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *GRACE_NOW.get_or_init(|| {
        std::env::var(GRACE_FOR_TESTS)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map_or(GRACE, Duration::from_millis)
    })
}

/// Over HTTP, how long after a client's next read its earlier pages wait for
/// a cancel sent together with that read (see the module documentation).
pub const SETTLE_FOR_CANCEL: Duration = Duration::from_millis(25);

/// A written page awaiting its acknowledgement: its receipts, and whatever
/// counts it in flight until it is acknowledged or given up (dropped then).
pub struct WrittenPage {
    /// One receipt per inbox the page came from.
    pub receipts: Vec<Receipt>,
    /// Dropped once the page is acknowledged or given up.
    pub counted: Box<dyn Send + Sync>,
}

/// Written pages held back, by the call whose reply carried each, each
/// with the serial number of its hold (a call id can be reused, and what
/// was scheduled for one page must not take a later one under the same id).
pub struct HeldAcks<S: Store, K> {
    bridge: Arc<Bridge<S>>,
    held: Mutex<HashMap<K, (u64, WrittenPage)>>,
    serials: std::sync::atomic::AtomicU64,
}

impl<S: Store, K: Eq + Hash + Clone + Send + Sync + 'static> HeldAcks<S, K> {
    /// Pages acknowledged through `bridge`.
    pub fn new(bridge: Arc<Bridge<S>>) -> Arc<Self> {
        Arc::new(Self {
            bridge,
            held: Mutex::new(HashMap::new()),
            serials: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Holds `page`, written as the reply to call `key`, for [`GRACE`], then
    /// acknowledges it unless the call was [cancelled](Self::cancelled) or
    /// the page acknowledged meanwhile.
    pub fn hold(self: &Arc<Self>, key: K, page: WrittenPage) {
        // A call id is reused only after its reply: an older page under it
        // was taken by its client, who has moved on.
        let serial = self
            .serials
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let older = self.lock().insert(key.clone(), (serial, page));
        if let Some((_, older)) = older {
            self.acknowledge_in_task(vec![older]);
        }
        let held = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(grace()).await;
            for page in held.take_held(&[(key, serial)]) {
                held.acknowledge(page).await;
            }
        });
    }

    /// The client cancelled call `key`: if its page is still held, the
    /// client dropped the reply, and the page is given up (delivered again
    /// once its lease lapses). Whether a page was given up.
    pub fn cancelled(&self, key: &K) -> bool {
        self.lock().remove(key).is_some()
    }

    /// Removes and returns the pages of `holds` (key and serial) still held.
    fn take_held(&self, holds: &[(K, u64)]) -> Vec<WrittenPage> {
        let mut held = self.lock();
        let mut pages = Vec::new();
        for (key, serial) in holds {
            if held.get(key).is_some_and(|(s, _)| s == serial)
                && let Some((_, page)) = held.remove(key)
            {
                pages.push(page);
            }
        }
        pages
    }

    /// Acknowledges, in a task of its own, every held page `which` selects;
    /// each stays counted in flight until its acknowledgement has committed.
    pub fn acknowledge_now(self: &Arc<Self>, which: impl Fn(&K) -> bool) {
        self.acknowledge_in_task(self.take(which));
    }

    /// As [`Self::acknowledge_now`], `after` from now, for the pages held
    /// now: a page held meanwhile is not this call's to acknowledge. (It
    /// took every page held by then: a read's own page, written within
    /// `after` of its arrival, was acknowledged before its client's crossing
    /// cancel came, and lost; CI saw it on a loaded PostgreSQL pass.)
    pub fn acknowledge_after(self: &Arc<Self>, after: Duration, which: impl Fn(&K) -> bool) {
        let holds: Vec<(K, u64)> = self
            .lock()
            .iter()
            .filter(|(key, _)| which(key))
            .map(|(key, (serial, _))| (key.clone(), *serial))
            .collect();
        if holds.is_empty() {
            return;
        }
        let held = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            for page in held.take_held(&holds) {
                held.acknowledge(page).await;
            }
        });
    }

    /// Acknowledges every held page before returning (the server is
    /// stopping: a cancel can no longer come).
    pub async fn acknowledge_all(&self) {
        for page in self.take(|_| true) {
            for receipt in &page.receipts {
                self.bridge.acknowledge_at_exit(receipt.clone()).await;
            }
            drop(page.counted);
        }
    }

    /// Removes and returns the held pages `which` selects.
    fn take(&self, which: impl Fn(&K) -> bool) -> Vec<WrittenPage> {
        let mut held = self.lock();
        let keys: Vec<K> = held.keys().filter(|k| which(k)).cloned().collect();
        keys.iter()
            .filter_map(|k| held.remove(k).map(|(_, page)| page))
            .collect()
    }

    fn acknowledge_in_task(self: &Arc<Self>, pages: Vec<WrittenPage>) {
        if pages.is_empty() {
            return;
        }
        let held = Arc::clone(self);
        tokio::spawn(async move {
            for page in pages {
                held.acknowledge(page).await;
            }
        });
    }

    async fn acknowledge(&self, page: WrittenPage) {
        for receipt in &page.receipts {
            self.bridge.acknowledge(receipt.clone()).await;
        }
        drop(page.counted);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u64, WrittenPage)>> {
        // Single inserts and removes under the lock: a poisoned map is intact.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}
