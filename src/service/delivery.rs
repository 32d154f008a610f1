//! Reading inboxes: `check_messages` takes a session's undelivered messages
//! (or those of every session the caller is bound to), waiting for the first
//! one when asked — woken by a commit in any process, never by a sleep loop.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Bridge, Caller, ServiceError, SessionCredentials, session_draft};
use crate::domain::{ConversationId, Message, Sender};
use crate::store::{Conversation, Page, Store};

/// How to read an inbox.
#[derive(Debug, Clone, Copy)]
pub struct CheckMessages {
    /// How long to wait for a first message (zero: answer at once).
    pub wait: Duration,
    /// Largest page (over all the sessions read).
    pub limit: u32,
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
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Messages in send order.
    pub messages: Vec<Delivered>,
    /// Whether more are waiting.
    pub more: bool,
}

const TOOL: &str = "check_messages";

/// Roles a message was addressed to: as stored, or, for a message from
/// before teams, every participant but its sender.
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

impl<S: Store> Bridge<S> {
    /// Takes the undelivered messages of the sessions in `creds` (one, or
    /// every bound one), oldest first, waiting up to `check.wait` for the
    /// first. `cancelled` resolves when the client gives up; the wait then
    /// ends at once and nothing is marked delivered.
    ///
    /// Each session's messages are taken in their own transaction, exactly
    /// once and in send order; a page over several conversations is merged by
    /// id (the global send order).
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
        let at = self.clock.now();
        let mut callers = Vec::with_capacity(creds.len());
        for c in creds {
            let caller = self.authorize(c, &session_draft(TOOL, c), at).await?;
            callers.push((c, caller));
        }
        if check.wait.is_zero() {
            return self
                .take_all(&callers, check.limit, true, true)
                .await
                .map(|i| i.unwrap_or_else(empty));
        }
        let Some(_slot) = LongPollSlot::take(&self.long_polls, self.settings.limits.max_long_polls)
        else {
            let e = ServiceError::ResourceLimit {
                what: "long-polls waiting in this server process",
                limit: self.settings.limits.max_long_polls,
                advice: "call check_messages with wait_seconds 0, or retry in a moment (setting limits.max_long_polls)",
            };
            let draft = creds.first().map_or_else(
                || crate::audit::AuditDraft::new("mcp", TOOL),
                |c| session_draft(TOOL, c),
            );
            return Err(self.refuse(draft, e).await);
        };
        // A long-poll spends its quota once, up front; the final take is unmetered.
        for (c, _) in &callers {
            let draft = session_draft(TOOL, c);
            if let Err(e) = self
                .store
                .spend_quota(self.guard(c, TOOL, at, draft.clone()))
                .await
            {
                return Err(self.refuse(draft, e.into()).await);
            }
        }
        let deadline = tokio::time::Instant::now() + check.wait;
        let mut feed = self.store.changes();
        tokio::pin!(cancelled);
        loop {
            feed.mark_seen();
            let last_chance = tokio::time::Instant::now() >= deadline;
            for (c, _) in &callers {
                if !self.still_member(&c.conversation, c.side).await {
                    let draft = session_draft(TOOL, c);
                    return Err(self.refuse(draft, ServiceError::AuthFailed).await);
                }
            }
            let mut pending = false;
            for (c, _) in &callers {
                match self.store.has_pending(&c.conversation, c.side).await {
                    Ok(p) => pending |= p,
                    Err(e) => return Err(self.refuse(session_draft(TOOL, c), e.into()).await),
                }
            }
            if pending || last_chance {
                // Another checker on the same session may take them first:
                // then nothing is returned and the wait goes on.
                if let Some(inbox) = self
                    .take_all(&callers, check.limit, last_chance, false)
                    .await?
                {
                    return Ok(inbox);
                }
            }
            tokio::select! {
                () = feed.changed() => {}
                () = tokio::time::sleep_until(deadline) => {}
                () = &mut cancelled => {
                    let draft = creds.first().map_or_else(
                        || crate::audit::AuditDraft::new("mcp", TOOL),
                        |c| session_draft(TOOL, c),
                    );
                    return Err(self.refuse(draft, ServiceError::Cancelled).await);
                }
            }
        }
    }

    /// Takes up to `limit` messages over `callers`, session by session. With
    /// `final_attempt` false an empty result is `None` and leaves no trace;
    /// `metered` spends each session's quota (a plain check, not a long-poll).
    async fn take_all(
        &self,
        callers: &[(&SessionCredentials, Caller)],
        limit: u32,
        final_attempt: bool,
        metered: bool,
    ) -> Result<Option<Inbox>, ServiceError> {
        let mut messages = Vec::new();
        let mut more = false;
        let mut answered = false;
        for (c, caller) in callers {
            let room = limit.saturating_sub(u32::try_from(messages.len()).unwrap_or(u32::MAX));
            if room == 0 {
                // The page is full; say whether this session has anything left.
                match self.store.has_pending(&c.conversation, c.side).await {
                    Ok(p) => more |= p,
                    Err(e) => return Err(self.refuse(session_draft(TOOL, c), e.into()).await),
                }
                continue;
            }
            let draft = session_draft(TOOL, c);
            let mut guard = self.guard(c, TOOL, self.clock.now(), draft.clone());
            if !metered {
                guard.quota = None;
            }
            let page: Page = match self
                .store
                .take_messages(c.conversation.clone(), c.side, room, final_attempt, guard)
                .await
            {
                Ok(Some(page)) => {
                    answered = true;
                    page
                }
                Ok(None) => continue,
                Err(e) => return Err(self.refuse(draft, e.into()).await),
            };
            more |= page.more;
            messages.extend(page.messages.into_iter().map(|message| Delivered {
                to: addressed_roles(&caller.conversation, &message),
                conversation: c.conversation.clone(),
                message,
            }));
        }
        if !answered && !final_attempt {
            return Ok(None);
        }
        messages.sort_by_key(|d| d.message.id);
        Ok(Some(Inbox { messages, more }))
    }
}

fn empty() -> Inbox {
    Inbox {
        messages: Vec::new(),
        more: false,
    }
}

/// One of the process's long-poll places, given back when dropped (also when
/// the waiting call is cancelled).
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
