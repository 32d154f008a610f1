//! Leases on delivered pages: a page handed to a reader whose transport
//! reports written replies stays queued under a lease until the reply is
//! written and acknowledged, so a reader that dies in between costs a delay,
//! never a message (see `delivery`).

use std::time::Duration;

use super::Bridge;
use crate::domain::Timestamp;
use crate::store::{Lease, Receipt, Store, StoreError};

/// How long a leased page waits for its acknowledgement before it is handed
/// out again. Written replies are acknowledged within milliseconds; this only
/// bounds how long the messages of a reader that died stay out of reach.
pub const LEASE: Duration = Duration::from_secs(20);

/// How long a failed acknowledgement is retried: well inside the lease, so
/// one that finally commits still finds its page leased to it.
const ACK_PATIENCE: Duration = Duration::from_secs(15);

impl<S: Store> Bridge<S> {
    /// A fresh lease for a take at `now`, when the caller acknowledges pages.
    pub(super) fn lease(leased: bool, now: Timestamp) -> Result<Option<Lease>, StoreError> {
        if !leased {
            return Ok(None);
        }
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Some(Lease {
            id: i64::from_le_bytes(bytes),
            until: now.plus_micros(i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX)),
        }))
    }

    /// Removes a leased page from its inbox once its reply has been written.
    /// A failure is retried, ever more slowly, for as long as the lease
    /// leaves time ([`ACK_PATIENCE`]): a page whose acknowledgement is lost
    /// is delivered a second time when its lease lapses. That used to
    /// happen after a database outage of a second or two (a PostgreSQL
    /// restart) that the first attempts fell into. A lasting failure is
    /// logged, not returned: redelivery is the safe direction.
    pub async fn acknowledge(&self, receipt: Receipt) {
        self.acknowledge_within(receipt, ACK_PATIENCE).await;
    }

    /// [`Bridge::acknowledge`] as a server stops: retried for a second at
    /// most, so a database that is down does not hold up the exit (the
    /// page is then delivered again, the safe direction).
    pub async fn acknowledge_at_exit(&self, receipt: Receipt) {
        self.acknowledge_within(receipt, Duration::from_secs(1))
            .await;
    }

    async fn acknowledge_within(&self, receipt: Receipt, patience: Duration) {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match self.store.acknowledge(receipt.clone()).await {
                Ok(()) => return,
                Err(e) if started.elapsed() + pause > patience => {
                    tracing::warn!(error = %crate::store::error_chain(&e), "cannot acknowledge a delivered page; it will be delivered again");
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %crate::store::error_chain(&e), "acknowledging a delivered page again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}
