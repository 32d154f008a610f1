//! Parking a long-poll before it is served.
//!
//! A waiting `check_messages` over HTTP costs ~64 KiB, two thirds of it the
//! MCP library's per-request machinery, built before the tool runs. The HTTP
//! transport therefore parks a stateless long-poll here first, holding only
//! its request, until the inbox may have something, the wait ends, or the
//! server stops; the call then runs as usual with what is left of its wait.
//!
//! Parking changes no outcome. Anything that is not a plain wait — a token
//! that does not verify, a conversation that is gone or expired, a seat that
//! is not active, something already queued or leased, a store failure, the
//! long-poll limit — ends the park at once, so the call itself answers it
//! (and audits it) without delay; so does the conversation's expiry when it
//! comes during the park. Nothing is taken here, and nothing is
//! audited but a call whose client gives up while it is parked (`cancelled`,
//! as one given up while it is served); the only thing a park spends is the
//! call's quota, up front as a long-poll always has, and the call is told so
//! (its [`Parked`]) and does not spend again. A call woken for its inbox
//! then takes at once, as a woken long-poll does, while its conversation is
//! read ([`Bridge::take_woken`]).

use std::future::Future;

use super::delivery::{CheckMessages, Inbox, TOOL};
use super::local_quota::LongPollSlot;
use super::{Bridge, ServiceError, SessionCredentials, session_draft};
use crate::domain::{MAX_REPLY_BYTES, Timestamp};
use crate::store::{PageLimit, Pending, Store};

/// How a park that waited ended; either way the call's quota is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parked {
    /// A change named the inbox: a message most likely waits there.
    Named,
    /// The wait ended, the server is stopping, or a look after a change of
    /// unknown scope found something to answer.
    Waited,
}

impl<S: Store> Bridge<S> {
    /// Waits until `creds`' inbox may have something, until `until`, or until
    /// `stop` resolves — only if the long-poll would otherwise just wait (see
    /// the module documentation); `None` when it did not wait. Dropping the
    /// future once it waits (its client gave up) records the call as
    /// `cancelled`, its quota spent, as a long-poll given up while it is
    /// served is.
    pub async fn park_long_poll(
        &self,
        creds: &SessionCredentials,
        until: tokio::time::Instant,
        stop: impl Future<Output = ()>,
    ) -> Option<Parked> {
        if !self
            .key
            .verify(&creds.conversation, creds.side, &creds.token)
        {
            return None;
        }
        let _slot = LongPollSlot::take(&self.long_polls, self.settings.limits.max_long_polls)?;
        // Watching before the look, so a message stored in between wakes us.
        let mut feed = self.store.changes();
        feed.narrow([(creds.conversation.clone(), creds.side)]);
        feed.mark_seen();
        let at = self.clock.now();
        let mut expiry = self.only_waits(creds).await?;
        let guard = self.guard(creds, TOOL, at, session_draft(TOOL, creds));
        if guard.quota.is_some() && Box::pin(self.store.spend_quota(guard)).await.is_err() {
            // Refused (or failed): the call spends again, and answers that.
            return None;
        }
        // The quota is spent: from here a client that gives up (the future
        // is dropped) leaves a `cancelled` record, as it does once served.
        let mut waiting = Waiting {
            bridge: self,
            creds,
            done: false,
        };
        tokio::pin!(stop);
        let parked = loop {
            tokio::select! {
                () = feed.changed() => {
                    if feed.take_named().next().is_some() {
                        break Parked::Named;
                    }
                    // A wake-up of unknown scope reaches every waiter of the
                    // process (another SQLite process committed, a `LISTEN`
                    // reconnection, the fallback interval, a removal): look
                    // again, and go on waiting here when nothing changed for
                    // this inbox, rather than hand every parked call to rmcp.
                    feed.mark_seen();
                    match self.only_waits(creds).await {
                        Some(e) => expiry = e,
                        None => break Parked::Waited,
                    }
                }
                // An expiry commits nothing, so no change would end the park
                // for it: the call answers `conversation_expired` when it
                // comes, not at the next wake-up of unknown scope.
                () = tokio::time::sleep_until(until.min(expiry)) => break Parked::Waited,
                () = &mut stop => break Parked::Waited,
            }
        };
        waiting.done = true;
        Some(parked)
    }

    /// Whether a long-poll on `creds` would only wait now: its conversation
    /// exists and has not expired, its seat is active, and nothing is queued
    /// or leased in its inbox. If so, when the wait should end for the
    /// conversation's expiry. (Boxed, and in a function of its own: the read
    /// is not kept while the park waits.)
    async fn only_waits(&self, creds: &SessionCredentials) -> Option<tokio::time::Instant> {
        let at = self.clock.now();
        let looked = Box::pin(self.store.conversation_and_pending(
            &creds.conversation,
            creds.side,
            at,
        ))
        .await;
        match &looked {
            Ok((Some(c), Pending::Nothing)) if c.active_participant(creds.side).is_some() => {
                wake_for(c.expires_at, at)
            }
            _ => None,
        }
    }

    /// The take of a parked call woken for its inbox `c`: at once, and in
    /// the same round trip as the read of its conversation that authorizes
    /// it (a woken long-poll's take needed no look first; a parked one
    /// would otherwise need its authorization first). `None` when nothing
    /// was there to take (the call then waits as usual).
    ///
    /// Only for pages under a lease (parked calls come over HTTP, whose pages
    /// are leased): when the read refuses the call (the conversation expired
    /// or the seat was removed while it waited), a page already taken is
    /// never acknowledged, so its lease lapses and nothing is lost. The token
    /// is verified first, in memory, so nobody else's inbox is ever touched.
    pub(super) async fn take_woken(
        &self,
        c: &SessionCredentials,
        check: CheckMessages,
    ) -> Result<Option<Inbox>, ServiceError> {
        if !check.leased || !self.key.verify(&c.conversation, c.side, &c.token) {
            return Ok(None);
        }
        let draft = session_draft(TOOL, c);
        let at = self.clock.now();
        let mut guard = self.guard(c, TOOL, at, draft.clone());
        // Spent by the park.
        guard.quota = None;
        let limit = PageLimit {
            count: check.limit,
            bytes: MAX_REPLY_BYTES,
        };
        let (admitted, taken) = tokio::join!(
            Box::pin(self.admit(c, &draft, at, false)),
            Box::pin(self.take(c, limit, true, false, Some(Pending::Ready), guard)),
        );
        let (caller, _) = admitted?;
        let page = match taken {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        let mut inbox = Inbox::default();
        inbox.add(&caller.conversation, page);
        Ok(Some(inbox))
    }
}

/// When a long-poll, parked or served, should look again for its
/// conversation's expiry at `expires_at` (judged at `now`), or `None` when it
/// has already passed. A millisecond late, so the look finds it passed on the
/// bridge's clock.
pub(super) fn wake_for(expires_at: Timestamp, now: Timestamp) -> Option<tokio::time::Instant> {
    let micros = u64::try_from(expires_at.micros_since(now)).ok()?;
    let after = std::time::Duration::from_micros(micros) + std::time::Duration::from_millis(1);
    Some(tokio::time::Instant::now() + after)
}

/// A parked call that has spent its quota and waits: dropped before it is
/// `done`, its client gave up, and the call is audited as `cancelled`.
struct Waiting<'a, S: Store> {
    bridge: &'a Bridge<S>,
    creds: &'a SessionCredentials,
    done: bool,
}

impl<S: Store> Drop for Waiting<'_, S> {
    fn drop(&mut self) {
        if !self.done {
            let cancelled = ServiceError::Cancelled;
            let draft = session_draft(TOOL, self.creds);
            self.bridge
                .audit(draft.failed(cancelled.outcome(), cancelled.code()));
        }
    }
}
