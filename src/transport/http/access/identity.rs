//! Bearer tokens to identities: the shared token, and named tokens looked
//! up in the store and remembered for a moment, so a revocation takes
//! effect within a second and a throttled address keeps serving the tokens
//! the store vouched for.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;

use super::{Access, lock, refusal};
use crate::service::{HttpIdentity, token_matches};
use crate::store::{HttpRole, HttpTokenStore};

/// How long a named token's lookup is reused: a revoked token stops working
/// at most this long after `mcp-bridge http-token revoke`.
const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// How long after the store last confirmed a named token that token may
/// still be looked up from a throttled address. Within it the token is
/// looked up again (a revocation still takes effect within
/// [`TOKEN_CACHE_TTL`]); it is not a guess, so the throttle, which bounds
/// the cost of guessing, need not hold it up. An agent working behind an
/// address that another agent's wrong token throttled used to be locked out
/// a second after its token's last lookup.
const VOUCHED_FOR: Duration = Duration::from_secs(600);

/// Most named-token lookups remembered at once.
const TOKEN_CACHE_ENTRIES: usize = 4_096;

impl<S: HttpTokenStore> Access<S> {
    /// A token's identity without the store: the shared token, or a named
    /// one this server looked up lately. What a throttled address may still
    /// use, so agents already working behind it keep working.
    pub(super) fn known_identity(
        &self,
        presented: &str,
    ) -> Option<(HttpIdentity, Option<[u8; 32]>)> {
        if let Some((shared, name)) = &self.shared_token
            && token_matches(presented, shared)
        {
            let shared = HttpIdentity {
                name: name.clone(),
                role: HttpRole::Agent,
            };
            return Some((shared, None));
        }
        let hash = self.bridge.http_token_hash(presented);
        let cache = lock(&self.cache);
        cache
            .get(&hash)
            .filter(|(_, at)| at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(identity, _)| (identity.clone(), Some(hash)))
    }

    /// Whether the store confirmed `presented`, a named token, within
    /// [`VOUCHED_FOR`] (and it was not found revoked since).
    pub(super) fn vouched(&self, presented: &str) -> bool {
        let hash = self.bridge.http_token_hash(presented);
        lock(&self.cache)
            .get(&hash)
            .is_some_and(|(_, at)| at.elapsed() < VOUCHED_FOR)
    }

    /// The identity behind a presented token that [`Self::known_identity`]
    /// did not know, looked up in the store (and cached), with the hash of
    /// the named token (which can be revoked).
    pub(super) async fn identify_stored(
        &self,
        presented: &str,
    ) -> Result<Option<(HttpIdentity, Option<[u8; 32]>)>, Response> {
        let hash = self.bridge.http_token_hash(presented);
        // Boxed: a store read is a large future, and inline it would make
        // every request's middleware future (kept for the whole call) as large.
        match Box::pin(self.bridge.http_identity(presented)).await {
            Ok(Some(identity)) => {
                let mut cache = lock(&self.cache);
                if cache.len() >= TOKEN_CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(hash, (identity.clone(), Instant::now()));
                Ok(Some((identity, Some(hash))))
            }
            Ok(None) => {
                // Revoked since: no longer vouched for.
                lock(&self.cache).remove(&hash);
                Ok(None)
            }
            Err(e) => {
                tracing::error!(error = %e.logged(), "cannot look up an HTTP token");
                Err(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the token store cannot be read right now; retry in a moment",
                ))
            }
        }
    }

    /// Drops the cached lookup of the token `hash` (found revoked).
    pub(in crate::transport::http) fn forget_identity(&self, hash: &[u8; 32]) {
        lock(&self.cache).remove(hash);
    }
}
