//! Reading an inbox: `check_messages`, its long-poll, and leases.
//!
//! A page handed to a reader whose transport reports written replies is
//! *leased*, not removed: the messages stay queued, invisible to other
//! readers of the same inbox, until [`Bridge::acknowledge`] is called once
//! the reply is written. A reader killed between the take and the write never
//! acknowledges, so its lease lapses after [`LEASE`] and the next reader gets
//! the same messages again, with the same ids, in order. Nothing behind a
//! live lease overtakes it, so each recipient still sees its messages in send
//! order. Without a lease (transports that cannot report writes) a take
//! removes the messages at once, as before.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Bridge, ServiceError, SessionCredentials, session_draft};
use crate::domain::{MAX_REPLY_BYTES, Message, Timestamp};
use crate::store::{Guard, Lease, PageLimit, Pending, Receipt, Store};

/// How long a leased page waits for its acknowledgement before it is handed
/// out again. Written replies are acknowledged within milliseconds; this only
/// bounds how long the messages of a reader that died stay out of reach.
pub const LEASE: Duration = Duration::from_secs(20);

/// How to read an inbox.
#[derive(Debug, Clone, Copy)]
pub struct CheckMessages {
    /// How long to wait for a first message (zero: answer at once).
    pub wait: Duration,
    /// Largest page.
    pub limit: u32,
    /// Whether the caller will acknowledge the page once its reply is
    /// written (see the module documentation).
    pub leased: bool,
}

/// A page of delivered messages.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Messages in send order.
    pub messages: Vec<Message>,
    /// Whether more are waiting.
    pub more: bool,
    /// What acknowledges the page, when it was leased.
    pub receipt: Option<Receipt>,
}

impl<S: Store> Bridge<S> {
    /// Takes the caller's undelivered messages, waiting up to `check.wait` for
    /// the first one. `cancelled` resolves when the client gives up; the wait
    /// then ends at once and nothing is marked delivered.
    ///
    /// # Errors
    /// Authentication, expiry, rate-limit, cancellation or storage failures.
    pub async fn check_messages(
        &self,
        creds: &SessionCredentials,
        check: CheckMessages,
        cancelled: impl Future<Output = ()> + Send,
    ) -> Result<Inbox, ServiceError> {
        const TOOL: &str = "check_messages";
        let at = self.clock.now();
        let draft = session_draft(TOOL, creds);
        self.authorize(creds, &draft, at).await?;
        let limit = PageLimit {
            count: check.limit,
            bytes: MAX_REPLY_BYTES,
        };
        let lease = |now: Timestamp| -> Result<Option<Lease>, ServiceError> {
            if !check.leased {
                return Ok(None);
            }
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| {
                ServiceError::Internal(crate::store::StoreError::Backend(Box::new(e)))
            })?;
            Ok(Some(Lease {
                id: i64::from_le_bytes(bytes),
                until: now.plus_micros(i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX)),
            }))
        };
        let inbox = |page: crate::store::Page| Inbox {
            messages: page.messages,
            more: page.more,
            receipt: page.receipt,
        };

        if check.wait.is_zero() {
            let guard = self.guard(creds, TOOL, at, draft.clone());
            let lease = match lease(at) {
                Ok(l) => l,
                Err(e) => return Err(self.refuse(draft, e).await),
            };
            return match self
                .store
                .take_messages(
                    creds.conversation.clone(),
                    creds.side,
                    limit,
                    lease,
                    true,
                    guard,
                )
                .await
            {
                Ok(page) => Ok(inbox(page.unwrap_or_default())),
                Err(e) => Err(self.refuse(draft, e.into()).await),
            };
        }

        let Some(_slot) = LongPollSlot::take(&self.long_polls, self.settings.limits.max_long_polls)
        else {
            let e = ServiceError::ResourceLimit {
                what: "long-polls waiting in this server process",
                limit: self.settings.limits.max_long_polls,
                advice: "call check_messages with wait_seconds 0, or retry in a moment (setting limits.max_long_polls)",
            };
            return Err(self.refuse(draft, e).await);
        };
        // A long-poll spends its quota once, up front; the final take is unmetered.
        if let Err(e) = self
            .store
            .spend_quota(self.guard(creds, TOOL, at, draft.clone()))
            .await
        {
            return Err(self.refuse(draft, e.into()).await);
        }
        let deadline = tokio::time::Instant::now() + check.wait;
        let mut feed = self.store.changes();
        tokio::pin!(cancelled);
        loop {
            feed.mark_seen();
            let now = self.clock.now();
            let last_chance = tokio::time::Instant::now() >= deadline;
            let pending = match self
                .store
                .pending(&creds.conversation, creds.side, now)
                .await
            {
                Ok(p) => p,
                Err(e) => return Err(self.refuse(draft, e.into()).await),
            };
            if pending == Pending::Ready || last_chance {
                let guard = Guard {
                    quota: None,
                    ..self.guard(creds, TOOL, now, draft.clone())
                };
                let lease = match lease(now) {
                    Ok(l) => l,
                    Err(e) => return Err(self.refuse(draft, e).await),
                };
                match self
                    .store
                    .take_messages(
                        creds.conversation.clone(),
                        creds.side,
                        limit,
                        lease,
                        last_chance,
                        guard,
                    )
                    .await
                {
                    Ok(Some(page)) => return Ok(inbox(page)),
                    // Another checker on the same side took them first: keep waiting.
                    Ok(None) => {}
                    Err(e) => return Err(self.refuse(draft, e.into()).await),
                }
            }
            // Behind another reader's lease, look again when it lapses (an
            // acknowledgement wakes the feed sooner).
            let wake_at = match pending {
                Pending::LeasedUntil(until) => {
                    let micros = until.micros_since(now).max(0);
                    let lapse = tokio::time::Instant::now()
                        + Duration::from_micros(u64::try_from(micros).unwrap_or(0));
                    lapse.min(deadline)
                }
                _ => deadline,
            };
            tokio::select! {
                () = feed.changed() => {}
                () = tokio::time::sleep_until(wake_at) => {}
                () = &mut cancelled => return Err(self.refuse(draft, ServiceError::Cancelled).await),
            }
        }
    }

    /// Removes a leased page from its inbox once its reply has been written.
    /// A failure is logged, not returned: the lease then lapses and the page
    /// is delivered again, which is the safe direction.
    pub async fn acknowledge(&self, receipt: Receipt) {
        if let Err(e) = self.store.acknowledge(receipt).await {
            tracing::warn!(error = %e, "cannot acknowledge a delivered page; it will be delivered again");
        }
    }
}

/// One of the process's long-poll slots, given back when dropped.
struct LongPollSlot<'a>(&'a AtomicU32);

impl<'a> LongPollSlot<'a> {
    fn take(count: &'a AtomicU32, limit: u32) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count))
    }
}

impl Drop for LongPollSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
