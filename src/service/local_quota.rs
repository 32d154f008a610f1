//! Quotas a server keeps in memory, per client: over stdio one server
//! process serves one client, so the process counts; over HTTP the transport
//! names the bearer token of each call (see `quota_scope`), and each token
//! gets its own windows, so one client cannot use up everyone's share.
//! Used for calls that no session quota in the database can count: calls
//! without a valid token (`rate_limits.unauthenticated`) and the overview
//! reads that need none (`rate_limits.overview`). And the process's
//! long-poll slots (`limits.max_long_polls`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Bridge, ServiceError, quota_scope};
use crate::domain::Timestamp;
use crate::ratelimit::{Limits, LocalWindows, Refusal};
use crate::store::Store;

/// Windows per client: this process's, and each bearer token's.
#[derive(Debug, Default)]
pub(super) struct LocalQuota {
    process: Mutex<LocalWindows>,
    /// Keyed by token name: bounded by the number of tokens.
    by_token: Mutex<HashMap<String, LocalWindows>>,
}

/// Who a [`LocalQuota`] counted a call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    /// The server process (stdio: its one client).
    Process,
    /// The call's HTTP bearer token.
    Token,
}

impl LocalQuota {
    /// Spends one call at `at` for the current client if `limits` allow it.
    ///
    /// # Errors
    /// The [`Refusal`] of the full window, with whom it counted for.
    pub(super) fn spend(&self, limits: &Limits, at: Timestamp) -> Result<(), (Refusal, Counted)> {
        if let Some(token) = quota_scope::current() {
            let mut by_token = self.by_token.lock().unwrap_or_else(|p| p.into_inner());
            return by_token
                .entry(token)
                .or_default()
                .spend(limits, at)
                .map_err(|r| (r, Counted::Token));
        }
        self.process
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .spend(limits, at)
            .map_err(|r| (r, Counted::Process))
    }
}

impl<S: Store> Bridge<S> {
    /// Spends one unauthenticated call of this process's quota at `at`.
    ///
    /// # Errors
    /// [`ServiceError::RateLimited`] when a window is full.
    pub(super) fn spend_unauthenticated(&self, at: Timestamp) -> Result<(), ServiceError> {
        let Some(limits) = self.settings.rate_limits.map(|l| l.unauthenticated) else {
            return Ok(());
        };
        self.unauthenticated
            .spend(&limits, at)
            .map_err(|(r, counted)| {
                let scope = match counted {
                    Counted::Process => super::error::UNAUTHENTICATED_SCOPE,
                    Counted::Token => super::error::UNAUTHENTICATED_TOKEN_SCOPE,
                };
                ServiceError::rate_limited(r, scope)
            })
    }

    /// Spends one overview read (`list_my_conversations`, the inbox
    /// resource) of the current client's quota at `at`: these need no valid
    /// session, so no quota in the database can count them.
    ///
    /// # Errors
    /// [`ServiceError::RateLimited`] when a window is full.
    pub(super) fn spend_overview(&self, at: Timestamp) -> Result<(), ServiceError> {
        let Some(limits) = self.settings.rate_limits.map(|l| l.overview) else {
            return Ok(());
        };
        self.overview.spend(&limits, at).map_err(|(r, counted)| {
            let scope = match counted {
                Counted::Process => super::error::OVERVIEW_SCOPE,
                Counted::Token => super::error::OVERVIEW_TOKEN_SCOPE,
            };
            ServiceError::rate_limited(r, scope)
        })
    }
}

/// One of the process's long-poll slots, given back when dropped (also when
/// the waiting call is cancelled).
pub(super) struct LongPollSlot<'a>(&'a AtomicU32);

impl<'a> LongPollSlot<'a> {
    pub(super) fn take(count: &'a AtomicU32, limit: u32) -> Option<Self> {
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
