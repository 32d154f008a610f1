//! `limits.max_database_mb`: the database-wide storage budget. Calls that
//! would store agent content (a message, a new conversation, a status note,
//! an invite, a command proposal or run) are refused with `resource_limit`
//! while the database holds the budget or more; reads, inbox checks, joins
//! with an invite already stored, plain heartbeats and every management
//! command go on, so agents can finish reading and an operator can recover
//! (`mcp-bridge cleanup`, whose deletes count at once: see the store's
//! size). Reading messages frees next to nothing: messages stay with
//! their conversation until it is cleaned up.
//!
//! The size is the store's own figure ([`Store::database_size`]), read at
//! most once a second per process and only when a growing call asks, so the
//! send path pays two atomic loads, not a query: a per-send `SUM` would
//! grow with the data, and a counter row every writer updates would
//! serialise PostgreSQL's writers. The price is an overshoot of at most
//! about one second of this process's writes (each process reads on its
//! own). A size that cannot be read never refuses a call: it is logged and
//! the call goes through.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use super::{Bridge, ServiceError};
use crate::audit::AuditDraft;
use crate::domain::Timestamp;
use crate::store::{Store, StoreError};

/// How long a reading of the size is used before it is read again (µs).
const READ_EVERY_US: i64 = 1_000_000;

/// What the refusal names (with the budget in MiB as its limit).
const WHAT: &str = "the database's size in MiB (limits.max_database_mb)";

/// What the refused agent, and whoever reads its error, can do.
const ADVICE: &str = "nothing new is stored until an operator frees space: retry later (reading messages still works); the operator can run `mcp-bridge cleanup` to delete expired conversations or raise limits.max_database_mb";

/// The budget and this process's last reading of the size.
#[derive(Debug)]
pub(super) struct StorageBudget {
    limit_mb: u32,
    limit_bytes: u64,
    /// When the size was last read (µs since the epoch); `i64::MIN` before
    /// the first reading. Whoever moves it claims the next reading, so one
    /// call a second pays for it however many arrive together.
    read_at: AtomicI64,
    /// Whether the last reading was at or over the budget.
    over: AtomicBool,
}

impl StorageBudget {
    /// A budget of `limit_mb` MiB (validated non-zero by the config).
    pub(super) fn new(limit_mb: u32) -> Self {
        Self {
            limit_mb,
            limit_bytes: u64::from(limit_mb) << 20,
            read_at: AtomicI64::new(i64::MIN),
            over: AtomicBool::new(false),
        }
    }

    /// Whether the size should be read at `at`, claiming the reading if so:
    /// the last one is a second old or more, or the clock went back past it
    /// (a reading "from the future" would otherwise stand until then).
    fn claim(&self, at: Timestamp) -> bool {
        let now = at.as_micros();
        let last = self.read_at.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= READ_EVERY_US || now < last;
        due && self
            .read_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes a reading: at or over the budget refuses growing calls until
    /// the next one; a failed reading lets them through (logged). Crossing
    /// the budget either way is logged once, for the operator: the agents'
    /// refusals say little about a full database to whoever runs it.
    fn record(&self, size: Result<u64, StoreError>) {
        let over = match size {
            Ok(bytes) => bytes >= self.limit_bytes,
            Err(e) => {
                tracing::warn!(error = %crate::store::error_chain(&e), "cannot read the database's size; limits.max_database_mb is not enforced until it can be read");
                false
            }
        };
        let was = self.over.swap(over, Ordering::Relaxed);
        if over && !was {
            tracing::warn!(
                limit_mb = self.limit_mb,
                "the database holds limits.max_database_mb or more: messages, new conversations, notes, invites and commands are refused until space is freed (mcp-bridge end / cleanup, audit.retention_days for an old audit trail) or the limit is raised"
            );
        } else if was && !over {
            tracing::info!(
                "the database is under limits.max_database_mb again: new content is accepted"
            );
        }
    }

    /// The refusal for a call at `at`, if the database is at or over the
    /// budget; `read` gives the size when a reading is due.
    async fn check<F, R>(&self, at: Timestamp, read: R) -> Result<(), ServiceError>
    where
        R: FnOnce() -> F,
        F: Future<Output = Result<u64, StoreError>>,
    {
        if self.claim(at) {
            self.record(read().await);
        }
        if self.over.load(Ordering::Relaxed) {
            return Err(ServiceError::ResourceLimit {
                what: WHAT,
                limit: self.limit_mb,
                advice: ADVICE,
            });
        }
        Ok(())
    }
}

impl<S: Store> Bridge<S> {
    /// Refuses (and audits, as the call `draft` describes) a call at `at`
    /// that would store agent content while the database is over its budget.
    pub(super) async fn within_storage_budget(
        &self,
        draft: &AuditDraft,
        at: Timestamp,
    ) -> Result<(), ServiceError> {
        // Boxed: the reading is rare, and a send's future should not carry
        // the store's size query inline.
        let read = || Box::pin(self.store.database_size());
        self.storage
            .check(at, read)
            .await
            .map_err(|e| self.refuse(draft.clone(), e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::service::Clock;

    /// A clock the test moves by hand, as the service's is injected.
    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now(&self) -> Timestamp {
            Timestamp::from_micros(self.0.load(Ordering::Relaxed))
        }
    }

    impl ManualClock {
        fn advance(&self, micros: i64) {
            self.0.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// A store's size reading that counts how often it is taken.
    struct Sizes {
        bytes: AtomicI64,
        reads: AtomicU32,
    }

    impl Sizes {
        async fn read(&self) -> Result<u64, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            match self.bytes.load(Ordering::Relaxed) {
                b if b < 0 => Err(StoreError::Backend("size unreadable".into())),
                b => Ok(b as u64),
            }
        }
    }

    fn setup(bytes: i64) -> (StorageBudget, ManualClock, Sizes) {
        (
            StorageBudget::new(1),
            ManualClock(AtomicI64::new(1_700_000_000_000_000)),
            Sizes {
                bytes: AtomicI64::new(bytes),
                reads: AtomicU32::new(0),
            },
        )
    }

    const MIB: i64 = 1 << 20;

    /// Asserts that a growing call at the clock's time is let through.
    async fn passes(budget: &StorageBudget, clock: &ManualClock, sizes: &Sizes, why: &str) {
        if let Err(e) = budget.check(clock.now(), || sizes.read()).await {
            panic!("{why}: refused with {e:?}");
        }
    }

    #[tokio::test]
    async fn under_passes_and_at_or_over_refuses_with_the_limit_in_mib() {
        for (bytes, refused) in [(0, false), (MIB - 1, false), (MIB, true), (5 * MIB, true)] {
            let (budget, clock, sizes) = setup(bytes);
            let got = budget.check(clock.now(), || sizes.read()).await;
            match got {
                Err(ServiceError::ResourceLimit {
                    what,
                    limit,
                    advice,
                }) => {
                    assert!(refused, "{bytes} bytes refused under a 1 MiB budget");
                    assert_eq!((what, limit), (WHAT, 1));
                    assert!(advice.contains("mcp-bridge cleanup"), "{advice}");
                    assert!(advice.contains("limits.max_database_mb"), "{advice}");
                }
                Err(other) => panic!("unexpected {other:?}"),
                Ok(()) => assert!(!refused, "{bytes} bytes let through a 1 MiB budget"),
            }
        }
    }

    #[tokio::test]
    async fn the_size_is_read_at_most_once_a_second_and_its_verdict_kept_until_then() {
        let (budget, clock, sizes) = setup(0);
        passes(&budget, &clock, &sizes, "under").await;
        // The database fills up within the second: calls still pass on the
        // first reading, and nobody reads again.
        sizes.bytes.store(2 * MIB, Ordering::Relaxed);
        for _ in 0..10 {
            clock.advance(99_000);
            passes(&budget, &clock, &sizes, "cached").await;
        }
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 1);
        clock.advance(10_000);
        assert!(budget.check(clock.now(), || sizes.read()).await.is_err());
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 2);
        // Space freed: refused until the next reading a second later.
        sizes.bytes.store(MIB / 2, Ordering::Relaxed);
        clock.advance(999_999);
        assert!(budget.check(clock.now(), || sizes.read()).await.is_err());
        clock.advance(1);
        passes(&budget, &clock, &sizes, "freed").await;
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_clock_that_goes_back_reads_again_at_once() {
        let (budget, clock, sizes) = setup(0);
        passes(&budget, &clock, &sizes, "under").await;
        sizes.bytes.store(2 * MIB, Ordering::Relaxed);
        clock.advance(-3_600_000_000);
        assert!(budget.check(clock.now(), || sizes.read()).await.is_err());
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_unreadable_size_lets_calls_through_until_it_reads_again() {
        let (budget, clock, sizes) = setup(2 * MIB);
        assert!(budget.check(clock.now(), || sizes.read()).await.is_err());
        sizes.bytes.store(-1, Ordering::Relaxed);
        clock.advance(READ_EVERY_US);
        passes(&budget, &clock, &sizes, "unknown").await;
        clock.advance(READ_EVERY_US / 2);
        passes(&budget, &clock, &sizes, "unknown").await;
        sizes.bytes.store(2 * MIB, Ordering::Relaxed);
        clock.advance(READ_EVERY_US / 2);
        assert!(budget.check(clock.now(), || sizes.read()).await.is_err());
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn one_of_many_threads_claims_a_due_reading() {
        let budget = StorageBudget::new(1);
        let at = Timestamp::from_micros(5_000_000);
        let won = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8).map(|_| s.spawn(|| budget.claim(at))).collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("thread"))
                .filter(|won| *won)
                .count()
        });
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn calls_at_the_same_moment_share_one_reading() {
        let (budget, clock, sizes) = setup(0);
        let at = clock.now();
        for _ in 0..8 {
            budget.check(at, || sizes.read()).await.expect("under");
        }
        assert_eq!(sizes.reads.load(Ordering::Relaxed), 1);
    }
}
