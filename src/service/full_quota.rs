//! Sessions whose send quota this process found full, remembered until the
//! window reopens, so that a client sending on past its limit is refused
//! before its message is parsed and redacted — what a 50 KiB message costs —
//! and without a database round trip. Counts in the database only grow
//! until time passes, so a window found full stays full at least until the
//! `retry_after_s` the refusal named: remembering it never refuses a call
//! the database would have let through earlier than the client was told.
//!
//! Sends the conversation refuses (an observer's, a removed participant's,
//! one addressed to nobody) spend no quota, yet each was parsed and
//! redacted first: [`REFUSED_SENDS_PER_MINUTE`] of them in a minute mark the
//! session full here the same way (red team: a removed participant's
//! token slowed the owner's calls from 5 ms to half a second).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::domain::{ConversationId, Side, Timestamp};
use crate::ratelimit::Refusal;

/// Sessions remembered at once; a busier process forgets the lapsed ones
/// first, and past this stops remembering (the database still decides).
const MAX_REMEMBERED: usize = 4_096;

/// Sends of one session the conversation may refuse per minute in this
/// process before the next are refused unread.
pub(super) const REFUSED_SENDS_PER_MINUTE: usize = 10;

/// Full send quotas by session, with when each reopens.
#[derive(Debug, Default)]
pub(super) struct FullQuotas {
    full: Mutex<HashMap<(ConversationId, Side), (Timestamp, Refusal)>>,
    refused: Mutex<HashMap<(ConversationId, Side), VecDeque<Timestamp>>>,
}

impl FullQuotas {
    /// Counts a send of `session` the conversation refused at `at`; the
    /// [`REFUSED_SENDS_PER_MINUTE`]th within a minute marks the session full
    /// until the oldest of them is a minute old.
    pub(super) fn refused(&self, session: (ConversationId, Side), at: Timestamp) {
        let minute_ago = at.plus_micros(-60_000_000);
        let oldest = {
            let mut refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            if refused.len() >= MAX_REMEMBERED && !refused.contains_key(&session) {
                refused.retain(|_, times| times.back().is_some_and(|t| *t > minute_ago));
                if refused.len() >= MAX_REMEMBERED {
                    return;
                }
            }
            let times = refused.entry(session.clone()).or_default();
            times.push_back(at);
            while times.front().is_some_and(|t| *t <= minute_ago) {
                times.pop_front();
            }
            if times.len() < REFUSED_SENDS_PER_MINUTE {
                return;
            }
            times.front().copied().unwrap_or(at)
        };
        let wait_us = oldest.plus_micros(60_000_000).micros_since(at).max(1);
        let refusal = Refusal {
            window: crate::ratelimit::Window::Minute,
            limit: REFUSED_SENDS_PER_MINUTE as u32,
            retry_after_s: u64::try_from(wait_us)
                .unwrap_or(1)
                .div_ceil(1_000_000)
                .max(1),
        };
        self.remember(session, at, refusal);
    }

    /// Remembers that `session`'s quota was found full at `at`.
    pub(super) fn remember(
        &self,
        session: (ConversationId, Side),
        at: Timestamp,
        refusal: Refusal,
    ) {
        let secs = i64::try_from(refusal.retry_after_s).unwrap_or(i64::MAX);
        let until = at.plus_micros(secs.saturating_mul(1_000_000));
        let mut full = self.full.lock().unwrap_or_else(|p| p.into_inner());
        if full.len() >= MAX_REMEMBERED {
            full.retain(|_, (reopens, _)| *reopens > at);
        }
        if full.len() < MAX_REMEMBERED {
            full.insert(session, (until, refusal));
        }
    }

    /// The refusal for `session` at `at` if its quota is still known full,
    /// with the wait that is left.
    pub(super) fn still_full(
        &self,
        session: &(ConversationId, Side),
        at: Timestamp,
    ) -> Option<Refusal> {
        let mut full = self.full.lock().unwrap_or_else(|p| p.into_inner());
        let (until, refusal) = full.get(session)?;
        let left = until.micros_since(at);
        if left <= 0 {
            full.remove(session);
            return None;
        }
        Some(Refusal {
            retry_after_s: u64::try_from(left)
                .map_or(1, |l| l.div_ceil(1_000_000))
                .max(1),
            ..*refusal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::Window;

    #[test]
    fn a_full_quota_is_remembered_until_it_reopens() {
        let quotas = FullQuotas::default();
        let session = (
            ConversationId::parse("conv_0123456789abcdef").unwrap(),
            Side::A,
        );
        let at = Timestamp::from_micros(1_000_000_000);
        let refusal = Refusal {
            window: Window::Minute,
            limit: 10,
            retry_after_s: 3,
        };
        assert!(quotas.still_full(&session, at).is_none());
        quotas.remember(session.clone(), at, refusal);
        let later = quotas
            .still_full(&session, at.plus_micros(1_500_000))
            .expect("still full");
        assert_eq!(
            (later.window, later.limit, later.retry_after_s),
            (Window::Minute, 10, 2)
        );
        assert!(
            quotas
                .still_full(&session, at.plus_micros(3_000_000))
                .is_none()
        );
        let other = (session.0.clone(), Side::B);
        assert!(quotas.still_full(&other, at).is_none());
    }

    #[test]
    fn refused_sends_fill_the_session_after_ten_a_minute() {
        let quotas = FullQuotas::default();
        let session = (
            ConversationId::parse("conv_0123456789abcdef").unwrap(),
            Side::B,
        );
        let at = Timestamp::from_micros(1_000_000_000);
        for n in 0..REFUSED_SENDS_PER_MINUTE - 1 {
            quotas.refused(session.clone(), at.plus_micros(n as i64 * 1_000_000));
            assert!(quotas.still_full(&session, at).is_none());
        }
        let tenth = at.plus_micros(30_000_000);
        quotas.refused(session.clone(), tenth);
        let full = quotas.still_full(&session, tenth).expect("full");
        assert_eq!(full.retry_after_s, 30, "until the first is a minute old");
        assert!(
            quotas
                .still_full(&session, at.plus_micros(60_000_001))
                .is_none()
        );
    }
}
