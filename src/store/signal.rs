//! Wake-ups for long-polls: a per-process counter that any backend bumps when
//! a message may have been stored, by this process or (through the backend's
//! own mechanism) by another one.
//!
//! Waiters re-check the store after every wake-up, so a spurious wake costs one
//! cheap query and a missed notification costs at most the fallback interval.

use std::time::Duration;

use tokio::sync::watch;

/// The sending half, owned by a backend.
#[derive(Debug)]
pub struct ChangeHub {
    tx: watch::Sender<u64>,
    fallback: Duration,
}

impl ChangeHub {
    /// A hub whose feeds also wake every `fallback`, as a safety net for
    /// notifications that cannot be delivered (a writer killed between its
    /// commit and its notification, a filesystem without change events).
    pub fn new(fallback: Duration) -> Self {
        Self {
            tx: watch::Sender::new(0),
            fallback,
        }
    }

    /// Tells every feed that something may have changed.
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new feed.
    pub fn subscribe(&self) -> ChangeFeed {
        ChangeFeed {
            rx: self.tx.subscribe(),
            fallback: self.fallback,
        }
    }
}

/// The receiving half: one per waiting call.
#[derive(Debug)]
pub struct ChangeFeed {
    rx: watch::Receiver<u64>,
    fallback: Duration,
}

impl ChangeFeed {
    /// Marks every change so far as seen; call it before checking the store,
    /// so a change that lands during the check still wakes [`ChangeFeed::changed`].
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Returns once something may have changed since [`ChangeFeed::mark_seen`],
    /// or after the fallback interval.
    pub async fn changed(&mut self) {
        tokio::select! {
            result = self.rx.changed() => {
                if result.is_err() {
                    // The hub is gone (shutting down): degrade to plain polling.
                    tokio::time::sleep(self.fallback).await;
                }
            }
            () = tokio::time::sleep(self.fallback) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
