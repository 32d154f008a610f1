//! Wake-ups for long-polls: a per-process hub that a backend tells when a
//! message may have been stored, acknowledged or a participant removed.
//!
//! A waiting `check_messages` narrows its feed to the inboxes it reads
//! (conversation and recipient), so a message wakes only the waiters of
//! its recipients, not every long-poll of the process: with thousands of idle
//! waiters, one send costs one wake-up, not thousands of store queries.
//! A change whose inboxes are unknown (another process wrote, seen through
//! the backend's own mechanism) wakes every feed, which then re-checks.
//!
//! Waiters re-check the store after every wake-up, so a spurious wake costs one
//! cheap query; the fallback interval bounds what a lost notification costs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::domain::{ConversationId, Side};

/// How long a narrowed feed waits without any notification before it
/// re-checks anyway: narrowed feeds are woken by every change that concerns
/// them, in this process directly and from others through a broad
/// notification, so this is only a safety net.
const NARROWED_FALLBACK: Duration = Duration::from_secs(15);

/// One waiter's wake-up state.
#[derive(Debug, Default)]
struct FeedState {
    seq: AtomicU64,
    /// The feed's inboxes that wake-ups named since [`ChangeFeed::take_named`]
    /// last looked: bit `i` for its `i`th inbox (the last bit stands for all
    /// from the 64th on).
    named: AtomicU64,
    notify: Notify,
}

impl FeedState {
    fn wake(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    fn wake_named(&self, inbox: usize) {
        self.named.fetch_or(named_bit(inbox), Ordering::AcqRel);
        self.wake();
    }
}

/// The bit of a feed's `inbox`th inbox in [`FeedState::named`].
fn named_bit(inbox: usize) -> u64 {
    1 << inbox.min(63)
}

/// A feed's interest in one inbox of a conversation.
#[derive(Debug)]
struct Narrowed {
    recipient: Side,
    feed_id: u64,
    /// The inbox's place among the feed's inboxes.
    inbox: usize,
    feed: Arc<FeedState>,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    /// Feeds that want every change.
    broad: HashMap<u64, Arc<FeedState>>,
    /// Feeds narrowed to inboxes, by conversation.
    by_conversation: HashMap<ConversationId, Vec<Narrowed>>,
}

/// The sending half, owned by a backend.
#[derive(Debug)]
pub struct ChangeHub {
    registry: Arc<Mutex<Registry>>,
    fallback: Duration,
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    // Every critical section leaves the maps consistent; a poisoned lock is intact.
    registry.lock().unwrap_or_else(|p| p.into_inner())
}

impl ChangeHub {
    /// A hub whose broad feeds also wake every `fallback`, as a safety net
    /// for notifications that cannot be delivered (a writer killed between
    /// its commit and its notification, a filesystem without change events).
    pub fn new(fallback: Duration) -> Self {
        Self {
            registry: Arc::default(),
            fallback,
        }
    }

    /// Tells every feed that something may have changed.
    pub fn notify(&self) {
        let registry = lock(&self.registry);
        for feed in registry.broad.values() {
            feed.wake();
        }
        for feeds in registry.by_conversation.values() {
            for n in feeds {
                n.feed.wake();
            }
        }
    }

    /// Tells the waiters of `conversation`'s inboxes of `recipients` (and the
    /// broad feeds) that something may have changed there.
    pub fn notify_inboxes(&self, conversation: &ConversationId, recipients: &[Side]) {
        let registry = lock(&self.registry);
        for feed in registry.broad.values() {
            feed.wake();
        }
        if let Some(feeds) = registry.by_conversation.get(conversation) {
            for n in feeds {
                if recipients.contains(&n.recipient) {
                    n.feed.wake_named(n.inbox);
                }
            }
        }
    }

    /// Tells every waiter of `conversation` (e.g. a participant was removed).
    pub fn notify_conversation(&self, conversation: &ConversationId) {
        let registry = lock(&self.registry);
        for feed in registry.broad.values() {
            feed.wake();
        }
        if let Some(feeds) = registry.by_conversation.get(conversation) {
            for n in feeds {
                n.feed.wake();
            }
        }
    }

    /// Whether any feed is waiting (so a backend can skip polling for others' changes).
    pub fn has_feeds(&self) -> bool {
        let registry = lock(&self.registry);
        !registry.broad.is_empty() || !registry.by_conversation.is_empty()
    }

    /// A new feed that wakes on every change; [`ChangeFeed::narrow`] it.
    pub fn subscribe(&self) -> ChangeFeed {
        let state = Arc::new(FeedState::default());
        let id = {
            let mut registry = lock(&self.registry);
            registry.next_id += 1;
            let id = registry.next_id;
            registry.broad.insert(id, Arc::clone(&state));
            id
        };
        ChangeFeed {
            registry: Arc::clone(&self.registry),
            id,
            state,
            seen: 0,
            keys: Vec::new(),
            fallback: self.fallback,
        }
    }
}

/// The receiving half: one per waiting call.
#[derive(Debug)]
pub struct ChangeFeed {
    registry: Arc<Mutex<Registry>>,
    id: u64,
    state: Arc<FeedState>,
    seen: u64,
    /// The inboxes it is narrowed to; empty: broad.
    keys: Vec<(ConversationId, Side)>,
    fallback: Duration,
}

impl ChangeFeed {
    /// Wakes this feed only for changes to these inboxes (and changes of
    /// unknown scope); call before the first [`ChangeFeed::mark_seen`].
    pub fn narrow(&mut self, inboxes: impl IntoIterator<Item = (ConversationId, Side)>) {
        let inboxes: Vec<_> = inboxes.into_iter().collect();
        if inboxes.is_empty() || !self.keys.is_empty() {
            return;
        }
        let mut registry = lock(&self.registry);
        registry.broad.remove(&self.id);
        for (inbox, (conversation, side)) in inboxes.iter().enumerate() {
            registry
                .by_conversation
                .entry(conversation.clone())
                .or_default()
                .push(Narrowed {
                    recipient: *side,
                    feed_id: self.id,
                    inbox,
                    feed: Arc::clone(&self.state),
                });
        }
        drop(registry);
        self.keys = inboxes;
        self.fallback = NARROWED_FALLBACK.max(self.fallback);
    }

    /// Marks every change so far as seen; call it before checking the store,
    /// so a change that lands during the check still wakes [`ChangeFeed::changed`].
    pub fn mark_seen(&mut self) {
        self.seen = self.state.seq.load(Ordering::Acquire);
    }

    /// Which of the inboxes this feed is narrowed to a change named since
    /// the last call (a message for it, most likely), as opposed to changes
    /// of unknown scope (another process wrote, a reconnection, the fallback
    /// interval): a waiter can take from those at once instead of looking
    /// first, without every broad wake-up turning into a write. Forgets
    /// what it returns.
    pub fn take_named(&self) -> impl Iterator<Item = &(ConversationId, Side)> {
        let named = self.state.named.swap(0, Ordering::AcqRel);
        self.keys
            .iter()
            .enumerate()
            .filter(move |(inbox, _)| named & named_bit(*inbox) != 0)
            .map(|(_, key)| key)
    }

    /// Returns once something may have changed since [`ChangeFeed::mark_seen`],
    /// or after the fallback interval.
    pub async fn changed(&mut self) {
        let notified = self.state.notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a wake between the two is not lost.
        notified.as_mut().enable();
        if self.state.seq.load(Ordering::Acquire) != self.seen {
            return;
        }
        tokio::select! {
            () = notified => {}
            () = tokio::time::sleep(self.fallback) => {}
        }
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        let mut registry = lock(&self.registry);
        registry.broad.remove(&self.id);
        for (conversation, _) in &self.keys {
            if let Some(feeds) = registry.by_conversation.get_mut(conversation) {
                feeds.retain(|n| n.feed_id != self.id);
                if feeds.is_empty() {
                    registry.by_conversation.remove(conversation);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(n: u8) -> ConversationId {
        ConversationId::parse(&format!("conv_{:016x}", n)).unwrap()
    }

    #[tokio::test]
    async fn a_change_after_mark_seen_wakes_the_feed() {
        let hub = ChangeHub::new(Duration::from_secs(3600));
        let mut feed = hub.subscribe();
        feed.mark_seen();
        hub.notify();
        tokio::time::timeout(Duration::from_secs(5), feed.changed())
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn the_fallback_interval_wakes_an_idle_feed() {
        let hub = ChangeHub::new(Duration::from_millis(250));
        let mut feed = hub.subscribe();
        feed.mark_seen();
        let started = tokio::time::Instant::now();
        feed.changed().await;
        assert!(started.elapsed() >= Duration::from_millis(250));
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_wakes_only_the_waiters_of_its_recipients() {
        let hub = ChangeHub::new(Duration::from_millis(250));
        let mut to_b = hub.subscribe();
        to_b.narrow([(conv(1), Side::B)]);
        let mut to_a = hub.subscribe();
        to_a.narrow([(conv(1), Side::A)]);
        let mut elsewhere = hub.subscribe();
        elsewhere.narrow([(conv(2), Side::B)]);
        for feed in [&mut to_b, &mut to_a, &mut elsewhere] {
            feed.mark_seen();
        }
        hub.notify_inboxes(&conv(1), &[Side::B]);
        let woken = |f: &ChangeFeed| f.state.seq.load(Ordering::Acquire) != f.seen;
        assert!(woken(&to_b));
        assert_eq!(to_b.take_named().count(), 1, "the message named b's inbox");
        assert!(!woken(&to_a));
        assert!(!woken(&elsewhere));
        hub.notify_conversation(&conv(1));
        assert!(woken(&to_a));
        assert!(!woken(&elsewhere));
        hub.notify();
        assert!(woken(&elsewhere));
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_change_to_its_inbox_counts_as_named() {
        let hub = ChangeHub::new(Duration::from_millis(250));
        let mut feed = hub.subscribe();
        feed.narrow([(conv(1), Side::B), (conv(2), Side::A), (conv(1), Side::A)]);
        feed.mark_seen();
        let named = |feed: &ChangeFeed| feed.take_named().cloned().collect::<Vec<_>>();
        // Of unknown scope, the whole conversation, another inbox, the fallback.
        hub.notify();
        hub.notify_conversation(&conv(1));
        hub.notify_inboxes(&conv(1), &[Side::nth(2).unwrap()]);
        hub.notify_inboxes(&conv(3), &[Side::A]);
        feed.changed().await;
        assert_eq!(named(&feed), []);
        feed.mark_seen();
        feed.changed().await;
        assert_eq!(named(&feed), [], "the fallback interval");
        hub.notify_inboxes(&conv(1), &[Side::A, Side::nth(2).unwrap()]);
        hub.notify_inboxes(&conv(2), &[Side::A]);
        feed.changed().await;
        assert_eq!(named(&feed), [(conv(2), Side::A), (conv(1), Side::A)]);
        assert_eq!(named(&feed), [], "taken once");
    }

    #[test]
    fn the_64th_inbox_on_share_the_last_bit() {
        let hub = ChangeHub::new(Duration::from_millis(250));
        let mut feed = hub.subscribe();
        feed.narrow((0..70u8).map(|n| (conv(n), Side::B)));
        hub.notify_inboxes(&conv(65), &[Side::B]);
        let named: Vec<_> = feed.take_named().map(|(c, _)| c.clone()).collect();
        assert_eq!(named, (63..70u8).map(conv).collect::<Vec<_>>());
        hub.notify_inboxes(&conv(5), &[Side::B]);
        let named: Vec<_> = feed.take_named().map(|(c, _)| c.clone()).collect();
        assert_eq!(named, [conv(5)]);
    }

    #[test]
    fn dropped_feeds_leave_the_registry() {
        let hub = ChangeHub::new(Duration::from_millis(250));
        let mut feed = hub.subscribe();
        feed.narrow([(conv(1), Side::B), (conv(2), Side::A)]);
        let broad = hub.subscribe();
        assert!(hub.has_feeds());
        drop((feed, broad));
        assert!(!hub.has_feeds());
    }
}
