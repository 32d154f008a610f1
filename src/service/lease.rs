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
    /// A passing failure (a busy database) is retried, since a page whose
    /// acknowledgement is lost is delivered a second time when its lease
    /// lapses; a lasting one is logged, not returned: redelivery is the safe
    /// direction.
    pub async fn acknowledge(&self, receipt: Receipt) {
        const ATTEMPTS: u32 = 4;
        for attempt in 1..=ATTEMPTS {
            match self.store.acknowledge(receipt.clone()).await {
                Ok(()) => return,
                Err(e) if attempt == ATTEMPTS => {
                    tracing::warn!(error = %e, "cannot acknowledge a delivered page; it will be delivered again");
                }
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "acknowledging a delivered page again");
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
    }
}
