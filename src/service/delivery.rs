//! Reading inboxes: `check_messages`, its long-poll, and leases.
//!
//! A call reads one session's inbox, or those of every session the caller is
//! bound to (each message then names its conversation); the long-poll is
//! woken by a commit in any process, never by a sleep loop.
//!
//! A page handed to a reader whose transport reports written replies is
//! *leased*, not removed: the messages stay queued, invisible to other
//! readers of the same inbox, until [`Bridge::acknowledge`] is called once
//! the reply is written. A reader killed between the take and the write never
//! acknowledges, so its lease lapses after [`LEASE`](super::LEASE) and the next reader gets
//! the same messages again, with the same ids, in order. Nothing behind a
//! live lease overtakes it, so each recipient still sees its messages in send
//! order. Without a lease (transports that cannot report writes) a take
//! removes the messages at once, as before.

use std::future::Future;
use std::time::Duration;

use super::local_quota::LongPollSlot;
use super::merge::{self, Share};
use super::{Bridge, Caller, Parked, ServiceError, SessionCredentials, park, session_draft};
use crate::audit::AuditDraft;
use crate::domain::{ConversationId, MAX_REPLY_BYTES, Message, Sender, Side};
use crate::store::{Conversation, Guard, Page, PageLimit, Pending, Receipt, Store, StoreError};

/// How to read an inbox.
#[derive(Debug, Clone, Copy)]
pub struct CheckMessages {
    /// How long to wait for a first message (zero: answer at once).
    pub wait: Duration,
    /// Largest page (over all the sessions read).
    pub limit: u32,
    /// Whether the caller will acknowledge the page once its reply is
    /// written (see the module documentation).
    pub leased: bool,
    /// How the call was parked before it was served
    /// ([`Bridge::park_long_poll`]): its quota is spent, and `wait` is what
    /// is left of its wait.
    pub parked: Option<Parked>,
}

/// A delivered message with what a recipient needs to place it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Its conversation.
    pub conversation: ConversationId,
    /// The message.
    pub message: Message,
    /// The roles it was addressed to.
    pub to: Vec<String>,
}

/// A page of delivered messages.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    /// Messages in send order.
    pub messages: Vec<Delivered>,
    /// Whether more are waiting.
    pub more: bool,
    /// What acknowledges the page, one per session it was taken from, when leased.
    pub receipts: Vec<Receipt>,
}

pub(super) const TOOL: &str = "check_messages";

impl Inbox {
    /// Adds `page`, taken from an inbox of `conversation`; the bytes it added.
    pub(super) fn add(&mut self, conversation: &Conversation, page: Page) -> usize {
        let mut bytes = 0;
        self.more |= page.more;
        self.receipts.extend(page.receipt);
        for message in page.messages {
            bytes += message.reply_bytes();
            self.messages.push(Delivered {
                to: addressed_roles(conversation, &message),
                conversation: conversation.id.clone(),
                message,
            });
        }
        bytes
    }
}

/// Roles a message was addressed to: as stored, or, for a message from
/// before teams, every participant but its sender that had joined by then.
fn addressed_roles(conversation: &Conversation, message: &Message) -> Vec<String> {
    match (&message.to, message.from) {
        (Some(sides), _) => conversation.roles_of(sides),
        (None, Sender::Side(from)) => conversation
            .everyone_else_at(from, message.created_at)
            .map(|p| p.role.clone())
            .collect(),
        (None, Sender::System) => Vec::new(),
    }
}

/// The audit draft of a call over `creds` (the first session names it).
fn draft_for(creds: &[SessionCredentials]) -> AuditDraft {
    creds
        .first()
        .map_or_else(|| AuditDraft::new("mcp", TOOL), |c| session_draft(TOOL, c))
}

impl<S: Store> Bridge<S> {
    /// Takes the undelivered messages of the sessions in `creds` (one, or
    /// every bound one), oldest first, waiting up to `check.wait` for the
    /// first. `cancelled` resolves when the client gives up; the wait then
    /// ends at once and nothing is marked delivered.
    ///
    /// Each session's messages are taken in their own transaction, exactly
    /// once and in send order; a page over several conversations is merged by
    /// id (the global send order). A session removed while waiting ends the
    /// wait with `auth_failed`.
    ///
    /// # Errors
    /// Authentication, expiry, rate-limit, cancellation or storage failures
    /// (for several sessions, the first one that fails).
    pub async fn check_messages(
        &self,
        creds: &[SessionCredentials],
        check: CheckMessages,
        cancelled: impl Future<Output = ()> + Send,
    ) -> Result<Inbox, ServiceError> {
        // Every step but the wait is boxed (`Box::pin(..).await`): a future
        // is as large as its largest step, and a long-poll keeps this one for
        // its whole wait (over HTTP, one per open request), so inline steps
        // made every waiting call ~18 KiB; boxed, each lives only while it runs.
        if let (Some(Parked::Named), [c]) = (check.parked, creds)
            && let Some(inbox) = Box::pin(self.take_woken(c, check)).await?
        {
            return Ok(inbox);
        }
        let plain = check.wait.is_zero();
        if let ([c], true, None, Some(_)) = (creds, plain, check.parked, self.settings.rate_limits)
            && check.limit > 0
        {
            return Box::pin(self.plain_check(c, check)).await;
        }
        let at = self.clock.now();
        // Reading every bound session, one that expired or was removed is
        // left out (its refusal is audited) rather than failing the others.
        // A check that waits for nothing reads each inbox's state with its
        // authorization (one read, one round trip over a network), which
        // spares its take a look when no quota is to be spent (a quota is
        // spent by a take's transaction, empty inbox or not). A long-poll
        // looks only once its change feed is watching, so that a message
        // stored in between is not missed.
        let peek = plain && (check.parked.is_some() || self.settings.rate_limits.is_none());
        let mut callers = Vec::with_capacity(creds.len());
        let mut peeked = Vec::with_capacity(creds.len());
        let mut first_refusal = None;
        for c in creds {
            let draft = session_draft(TOOL, c);
            match Box::pin(self.admit(c, &draft, at, peek)).await {
                Ok((caller, pending)) => {
                    callers.push((c, caller));
                    peeked.extend(pending);
                }
                Err(e) if creds.len() > 1 => {
                    first_refusal.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if callers.is_empty() {
            return Err(first_refusal.unwrap_or(ServiceError::AuthFailed));
        }
        if plain {
            // `peeked` is empty unless the inboxes were read with the
            // authorization; a take without a reading looks for itself.
            return Box::pin(self.take_all(&callers, check, true, Looked::Plain(&peeked)))
                .await
                .map(Option::unwrap_or_default);
        }
        // A parked call was admitted against the limit when it parked, and
        // gave its slot back only to come here: it is not refused now (its
        // quota is spent), whatever other calls took meanwhile.
        let limit = match check.parked {
            Some(_) => u32::MAX,
            None => self.settings.limits.max_long_polls,
        };
        let Some(_slot) = LongPollSlot::take(&self.long_polls, limit) else {
            let e = ServiceError::ResourceLimit {
                what: "long-polls waiting in this server process",
                limit: self.settings.limits.max_long_polls,
                advice: "call check_messages with wait_seconds 0, or retry in a moment (setting limits.max_long_polls)",
            };
            return Err(self.refuse(draft_for(creds), e));
        };
        // A long-poll spends its quota once, up front (a parked one already
        // has); the final take is unmetered.
        for (c, _) in callers.iter().filter(|_| check.parked.is_none()) {
            let draft = session_draft(TOOL, c);
            let spent = Box::pin(
                self.store
                    .spend_quota(self.guard(c, TOOL, at, draft.clone())),
            );
            if let Err(e) = spent.await {
                return Err(self.refuse(draft, e.into()));
            }
        }
        let deadline = tokio::time::Instant::now() + check.wait;
        let mut feed = self.store.changes();
        // Only a change to one of these inboxes (or one of unknown scope) wakes us.
        feed.narrow(
            callers
                .iter()
                .map(|(c, _)| (c.conversation.clone(), c.side)),
        );
        tokio::pin!(cancelled);
        let mut first_look = true;
        // The inboxes the last wake-up named; empty after any other.
        let mut named: Vec<(ConversationId, Side)> = Vec::new();
        loop {
            feed.mark_seen();
            if !named.is_empty() {
                // Woken by changes that named some of these inboxes: a
                // message most likely waits there, so take from them at once
                // rather than look first (a look costs a round trip on
                // PostgreSQL). Wake-ups of unknown scope (another SQLite
                // process committed, the fallback interval) still look
                // first: a take is a write, and they reach every waiter of
                // the process. The take needs no membership read: a removal
                // empties the inbox in its own transaction and no send queues
                // to a removed participant, so a take that finds messages ran
                // while the session was still a member. When it finds nothing
                // (another reader took them, a lease holds them), the usual
                // look follows, which also learns when a lease lapses.
                let ready: Vec<Pending> = callers
                    .iter()
                    .map(|(c, _)| {
                        let was_named = named
                            .iter()
                            .any(|(conv, side)| *conv == c.conversation && *side == c.side);
                        if was_named {
                            Pending::Ready
                        } else {
                            Pending::Nothing
                        }
                    })
                    .collect();
                let taken =
                    Box::pin(self.take_all(&callers, check, false, Looked::Waiting(&ready)));
                if let Some(inbox) = taken.await? {
                    return Ok(inbox);
                }
            }
            let now = self.clock.now();
            let last_chance = tokio::time::Instant::now() >= deadline;
            let mut ready = false;
            let mut wake_at = deadline;
            // A session removed (or a conversation ended) while waiting
            // stops the wait for it; the call fails only when no session is
            // left. The first look needs no membership read: `authorize` has
            // just made one.
            let mut kept = Vec::with_capacity(callers.len());
            let mut looks = Vec::with_capacity(callers.len());
            for (c, caller) in callers {
                // Both reads at once: over a network (PostgreSQL) they cost
                // one round trip, not two.
                let (gone, status) = tokio::join!(
                    async {
                        if first_look {
                            None
                        } else {
                            Box::pin(self.no_longer_admitted(&c.conversation, c.side, now)).await
                        }
                    },
                    Box::pin(self.store.pending(&c.conversation, c.side, now)),
                );
                if let Some(why) = gone {
                    let refusal = self.refuse(session_draft(TOOL, c), why);
                    if kept.is_empty() && creds.len() == 1 {
                        return Err(refusal);
                    }
                } else {
                    kept.push((c, caller));
                    looks.push(status);
                }
            }
            // The first look relies on the admission's read of each conversation.
            let fresh = !first_look;
            first_look = false;
            callers = kept;
            if callers.is_empty() {
                return Err(ServiceError::AuthFailed);
            }
            let mut statuses = Vec::with_capacity(callers.len());
            for ((c, caller), status) in callers.iter().zip(looks) {
                if let Ok(status) = &status {
                    statuses.push(*status);
                }
                // An expiry commits nothing to wake the wait: look again at
                // it (not up to 15 s later, at a wake-up of unknown scope).
                // One a fresh read found passed but still admitted would
                // spin; one passed since the admission's read is looked at now.
                match park::wake_for(caller.conversation.expires_at, now) {
                    Some(expiry) => wake_at = wake_at.min(expiry),
                    None if !fresh => wake_at = tokio::time::Instant::now(),
                    None => {}
                }
                match status {
                    Ok(Pending::Ready) => ready = true,
                    // Behind another reader's lease, look again when it lapses
                    // (an acknowledgement wakes the feed sooner).
                    Ok(Pending::LeasedUntil(until)) => {
                        let micros = u64::try_from(until.micros_since(now).max(0)).unwrap_or(0);
                        let lapse = tokio::time::Instant::now() + Duration::from_micros(micros);
                        wake_at = wake_at.min(lapse);
                    }
                    Ok(Pending::Nothing) => {}
                    Err(e) => {
                        return Err(self.refuse(session_draft(TOOL, c), e.into()));
                    }
                }
            }
            if ready || last_chance {
                // Another checker on the same session may take them first:
                // then nothing is returned and the wait goes on.
                let looked = Looked::Waiting(&statuses);
                let taken = Box::pin(self.take_all(&callers, check, last_chance, looked));
                if let Some(inbox) = taken.await? {
                    return Ok(inbox);
                }
            }
            tokio::select! {
                () = feed.changed() => named = feed.take_named().cloned().collect(),
                () = tokio::time::sleep_until(wake_at) => named.clear(),
                () = &mut cancelled => {
                    return Err(self.refuse(draft_for(creds), ServiceError::Cancelled));
                }
            }
        }
    }

    /// Takes one page over `callers`, session by session in the order and
    /// shares [`merge::plan`] gives, within the count and reply-size limits. With `final_attempt` false an empty result is
    /// `None` and leaves no trace. `looked` is a fresh reading of each
    /// caller's inbox (one per caller, in order), which spares the take a
    /// second look.
    async fn take_all(
        &self,
        callers: &[(&SessionCredentials, Caller)],
        check: CheckMessages,
        final_attempt: bool,
        looked: Looked<'_>,
    ) -> Result<Option<Inbox>, ServiceError> {
        let mut inbox = Inbox::default();
        let mut bytes = 0usize;
        let mut answered = false;
        let passed_over = |i: usize| {
            let status = looked.statuses().get(i).copied();
            !final_attempt && status.is_some_and(|s| s != Pending::Ready)
        };
        let creds: Vec<&SessionCredentials> = callers.iter().map(|(c, _)| *c).collect();
        let order = merge::plan(
            &self.store,
            &creds,
            check.limit,
            self.clock.now(),
            passed_over,
        )
        .await
        .map_err(|(i, e)| self.refuse(session_draft(TOOL, creds[i]), e.into()))?;
        // Set once a take stopped short for the reply's size: a later inbox
        // must not put newer messages in the page before the older ones left.
        let mut full = false;
        for (i, share) in order {
            let (c, caller) = &callers[i];
            let status = looked.statuses().get(i).copied();
            if passed_over(i) {
                continue;
            }
            let taken = u32::try_from(inbox.messages.len()).unwrap_or(u32::MAX);
            let mut room = check.limit.saturating_sub(taken);
            if let Share::Upto(n) = share {
                if n == 0 {
                    // Older messages elsewhere fill the page; these wait.
                    inbox.more = true;
                    continue;
                }
                room = room.min(n);
            }
            if room == 0 || full || bytes >= MAX_REPLY_BYTES {
                // The page is full; say whether this session has anything left.
                match self
                    .store
                    .pending(&c.conversation, c.side, self.clock.now())
                    .await
                {
                    Ok(p) => inbox.more |= p != Pending::Nothing,
                    Err(e) => return Err(self.refuse(session_draft(TOOL, c), e.into())),
                }
                continue;
            }
            let draft = session_draft(TOOL, c);
            let now = self.clock.now();
            let mut guard = self.guard(c, TOOL, now, draft.clone());
            if check.parked.is_some() || matches!(looked, Looked::Waiting(_)) {
                guard.quota = None;
            }
            let limit = PageLimit {
                count: room,
                bytes: MAX_REPLY_BYTES - bytes,
            };
            let page = match self
                .take(c, limit, check.leased, final_attempt, status, guard)
                .await
            {
                Ok(Some(page)) => page,
                Ok(None) => continue,
                Err(e) => return Err(self.refuse(draft, e.into())),
            };
            answered = true;
            let count = u32::try_from(page.messages.len()).unwrap_or(u32::MAX);
            full |= page.more && count < room;
            bytes += inbox.add(&caller.conversation, page);
        }
        if !answered && !final_attempt {
            return Ok(None);
        }
        inbox.messages.sort_by_key(|d| d.message.id);
        Ok(Some(inbox))
    }

    /// Takes a page of `c`'s inbox. With no quota to spend and nothing ready
    /// to take, this is a read, not a write: a long-poll that will try again
    /// leaves no trace, and a final empty answer is audited through the
    /// store's batched appends instead of a transaction of its own.
    /// `known`: what the caller has just seen in the inbox, if it looked.
    pub(super) async fn take(
        &self,
        c: &SessionCredentials,
        limit: PageLimit,
        leased: bool,
        final_attempt: bool,
        known: Option<Pending>,
        guard: Guard,
    ) -> Result<Option<Page>, StoreError> {
        let nothing_ready = guard.quota.is_none()
            && match known {
                Some(pending) => pending != Pending::Ready,
                None => {
                    self.store
                        .pending(&c.conversation, c.side, guard.at)
                        .await?
                        != Pending::Ready
                }
            };
        if nothing_ready {
            if !final_attempt {
                return Ok(None);
            }
            let mut draft = guard.audit;
            draft.count = Some(0);
            self.store.append_audit(guard.at, draft);
            return Ok(Some(Page::default()));
        }
        // Drawn only now: an empty inbox needs no lease (nor its random bytes).
        let lease = Self::lease(leased, guard.at)?;
        self.store
            .take_messages(
                c.conversation.clone(),
                c.side,
                limit,
                lease,
                final_attempt,
                guard,
            )
            .await
    }
}

/// What a take already knows of each caller's inbox, and who pays for it.
#[derive(Clone, Copy)]
enum Looked<'a> {
    /// A plain check's reading, made with its authorization: each
    /// session's quota is spent by the take.
    Plain(&'a [Pending]),
    /// A long-poll's fresh reading: its quota was spent up front.
    Waiting(&'a [Pending]),
}

impl<'a> Looked<'a> {
    fn statuses(self) -> &'a [Pending] {
        match self {
            Self::Plain(s) | Self::Waiting(s) => s,
        }
    }
}
