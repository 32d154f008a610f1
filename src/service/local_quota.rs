//! Quotas a server keeps in memory, per client: over stdio one server
//! process serves one client, so the process counts; over HTTP the transport
//! names the bearer token of each call (see `quota_scope`), and each token
//! gets its own windows, so one client cannot use up everyone's share.
//! Used for calls that no session quota in the database can count: calls
//! without a valid token (`rate_limits.unauthenticated`) and the overview
//! reads that need none (`rate_limits.overview`).

use std::collections::HashMap;
use std::sync::Mutex;

use super::quota_scope;
use crate::domain::Timestamp;
use crate::ratelimit::{Limits, LocalWindows, Refusal};

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
