//! MCP sessions over HTTP that any server on the database can take over: a
//! client of the older protocols (2025-06-18, 2025-11-25) keeps its
//! `Mcp-Session-Id` when a load balancer sends it to another host, or when
//! its server restarts, and stays bound to the seats it created or joined.
//!
//! A session is stored the first time it binds a seat (a session bound to
//! nothing has nothing to lose: a host that does not know it answers 404 and
//! the client starts afresh). The store keeps a digest of the id, never the
//! id, and no token: a seat's token is derived again from the key file that
//! every server on the database shares. A session belongs to the bearer
//! identity that opened it; no other may use it, here or on another host.
//!
//! Ending a session (its client's `DELETE`, on whichever host) leaves only a
//! tombstone in the store (see `store::ENDED_OWNER`), so a binding still in
//! flight cannot store it again; every other host that holds it notices at
//! its next call (the row is looked at, at most once a [`RECHECK_US`]) and
//! refuses it from then on.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use sha2::{Digest, Sha256};

use super::session::Session;
use super::{Bridge, ServiceError, SessionCredentials};
use crate::domain::Timestamp;
use crate::store::{
    McpSessionRecord, McpSessionStore, StoredMcpSession, UNBOUND_MCP_SESSION_TTL_US,
};

/// What any server needs to take an HTTP session over, known once the
/// session's first call arrives with its id.
#[derive(Debug)]
pub struct SharedSession {
    /// The digest of the `Mcp-Session-Id`.
    id_hash: String,
    /// The client's `initialize` parameters, as JSON.
    init_params: String,
    /// Whether the store has held it (this host bound a seat, or took it
    /// over): from then on, its absence there means it was ended.
    stored: AtomicBool,
    /// Ended (found gone from the store): every call is refused.
    ended: AtomicBool,
    /// When the store last showed it alive (µs since the epoch).
    checked_at: AtomicI64,
}

impl SharedSession {
    fn new(id_hash: String, init_params: String) -> Self {
        Self {
            id_hash,
            init_params,
            stored: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            checked_at: AtomicI64::new(i64::MIN),
        }
    }
}

/// How often a host holding a stored session checks that it was not ended
/// elsewhere, in microseconds: one read a second per busy session.
pub const RECHECK_US: i64 = 1_000_000;

/// Largest `initialize` parameters (JSON bytes) stored for a session.
pub const MAX_STORED_INIT_PARAMS: usize = 16 * 1024;

/// The stored form of a session id: a labelled SHA-256, so the table cannot
/// be used to present a session (and no other digest of ours matches it).
pub fn mcp_session_digest(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"mcp-bridge mcp session\0");
    h.update(id.as_bytes());
    hex::encode(h.finalize())
}

impl Session {
    /// Whether `identity` may use this session: the first identity to use it
    /// (the one that opened it) owns it.
    pub fn owned_by(&self, identity: &str) -> bool {
        self.owner.get_or_init(|| identity.to_owned()) == identity
    }

    /// Whether the session's bindings are shared with other hosts (an HTTP
    /// session with an id; never a stdio one).
    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// Remembers the session's id and `initialize` parameters (computed only
    /// the first time), so its bindings can be shared.
    pub fn note_shared(&self, id: &str, init_params: impl FnOnce() -> Option<String>) {
        if self.shared.get().is_some() {
            return;
        }
        if let Some(init_params) = init_params() {
            if init_params.len() > MAX_STORED_INIT_PARAMS {
                // Real clients send well under 2 KiB; a padded `initialize`
                // should not make every binding store a megabyte.
                tracing::warn!(
                    bytes = init_params.len(),
                    "an MCP session's initialize parameters are too large to store; it will not move between hosts"
                );
                return;
            }
            let _ = self
                .shared
                .set(SharedSession::new(mcp_session_digest(id), init_params));
        }
    }
}

impl<S: McpSessionStore> Bridge<S> {
    /// Stores that `session` is bound to `creds`' seat, when it is an HTTP
    /// session with an id. A failure only costs the take-over on another
    /// host, so it is logged, not returned.
    pub async fn share_binding(&self, session: &Session, creds: &SessionCredentials) {
        let (Some(shared), Some(owner)) = (session.shared.get(), session.owner.get()) else {
            return;
        };
        if shared.ended.load(Ordering::Acquire) {
            // Storing it again would bring an ended session back to life.
            return;
        }
        let now = self.clock.now();
        let record = McpSessionRecord {
            id_hash: shared.id_hash.clone(),
            owner: owner.clone(),
            init_params: shared.init_params.clone(),
            started_at: now,
        };
        let unbound_before = now.plus_micros(-UNBOUND_MCP_SESSION_TTL_US);
        if let Err(e) = self
            .store
            .bind_mcp_session(
                record,
                creds.conversation.clone(),
                creds.side,
                unbound_before,
            )
            .await
        {
            tracing::warn!(error = %crate::store::error_chain(&e), "cannot store the MCP session's binding; another host will not know it");
            return;
        }
        shared.stored.store(true, Ordering::Release);
    }

    /// The `initialize` parameters (JSON) of the stored session `id`, if
    /// there is one and `caller` owns it; to anyone else it does not exist.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn shared_session(
        &self,
        id: &str,
        caller: &str,
    ) -> Result<Option<String>, ServiceError> {
        let stored = self.store.mcp_session(mcp_session_digest(id)).await?;
        Ok(stored
            .filter(|s| s.record.owner == caller)
            .map(|s| s.record.init_params))
    }

    /// Whether the stored session `id` was ended (by its client, through
    /// any host): its row is then a tombstone. A session never stored is
    /// not ended.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn session_ended(&self, id: &str) -> Result<bool, ServiceError> {
        Ok(self.store.mcp_session_ended(mcp_session_digest(id)).await?)
    }

    /// Takes over the stored session `id` in `session` (fresh on this
    /// host): its owner, and its seats with their tokens derived again.
    ///
    /// # Errors
    /// Storage failures; [`ServiceError::AuthFailed`] when it is not stored.
    pub async fn take_over_session(&self, session: &Session, id: &str) -> Result<(), ServiceError> {
        let stored = self.store.mcp_session(mcp_session_digest(id)).await?;
        match stored.is_some_and(|s| self.adopt(session, s)) {
            true => Ok(()),
            false => Err(ServiceError::AuthFailed),
        }
    }

    /// Adds to `session` the seats bound to it on other hosts since this one
    /// opened or took it over (nothing to do for a session not shared).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn refresh_seats(&self, session: &Session) -> Result<(), ServiceError> {
        if let Some(shared) = session.shared.get() {
            self.look_up(session, shared).await?;
        }
        Ok(())
    }

    /// Whether `session` may still be used: `false` once it was ended on
    /// any host. A stored session is looked up again when its last look is
    /// older than [`RECHECK_US`] (picking up seats bound elsewhere as well).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn session_alive(&self, session: &Session) -> Result<bool, ServiceError> {
        let Some(shared) = session.shared.get() else {
            return Ok(true);
        };
        if shared.ended.load(Ordering::Acquire) {
            return Ok(false);
        }
        let checked_at = Timestamp::from_micros(shared.checked_at.load(Ordering::Acquire));
        let recent = self.clock.now().micros_since(checked_at) < RECHECK_US;
        if !shared.stored.load(Ordering::Acquire) || recent {
            return Ok(true);
        }
        self.look_up(session, shared).await
    }

    /// Reads the stored session: adopts its seats when it is there, marks it
    /// ended (dropping its seats) when a session once stored is gone.
    /// Whether it is alive.
    async fn look_up(
        &self,
        session: &Session,
        shared: &SharedSession,
    ) -> Result<bool, ServiceError> {
        let at = self.clock.now();
        match self.store.mcp_session(shared.id_hash.clone()).await? {
            Some(stored) => {
                self.adopt(session, stored);
                shared.checked_at.store(at.as_micros(), Ordering::Release);
                Ok(!shared.ended.load(Ordering::Acquire))
            }
            None if shared.stored.load(Ordering::Acquire) => {
                if !shared.ended.swap(true, Ordering::AcqRel) {
                    session.forget_seats();
                    tracing::info!(
                        "an MCP session held here was ended on another host; its calls are refused"
                    );
                }
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Makes `session` the stored one when its owner may use it: shared
    /// under the stored id, bound to every stored seat (tokens derived
    /// again; seats it has already stay). Whether it was adopted.
    fn adopt(&self, session: &Session, stored: StoredMcpSession) -> bool {
        if !session.owned_by(&stored.record.owner) {
            return false;
        }
        let shared = session
            .shared
            .get_or_init(|| SharedSession::new(stored.record.id_hash, stored.record.init_params));
        if shared.ended.load(Ordering::Acquire) {
            return false;
        }
        shared.stored.store(true, Ordering::Release);
        for (conversation, side) in stored.seats {
            let token = self.key.derive(&conversation, side);
            session.add(SessionCredentials {
                conversation,
                side,
                token,
            });
        }
        true
    }

    /// Forgets the stored session `id` when `caller` owns it (its client
    /// ended it); anyone else's request changes nothing.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn forget_session(&self, id: &str, caller: &str) -> Result<(), ServiceError> {
        Ok(self
            .store
            .delete_mcp_session(mcp_session_digest(id), caller.to_owned(), self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::{Session, mcp_session_digest};

    #[test]
    fn the_first_identity_owns_a_session() {
        let session = Session::new();
        assert!(session.owned_by("alice"));
        assert!(session.owned_by("alice"));
        assert!(!session.owned_by("mallory"));
    }

    #[test]
    fn oversized_initialize_parameters_are_not_shared() {
        let session = Session::new();
        session.note_shared("s", || Some("x".repeat(super::MAX_STORED_INIT_PARAMS + 1)));
        assert!(session.shared.get().is_none());
        session.note_shared("s", || Some("{}".to_owned()));
        assert!(session.shared.get().is_some());
    }

    #[test]
    fn digests_are_labelled_and_distinct() {
        let one = mcp_session_digest("0b6f7c1e-1");
        assert_eq!(one.len(), 64);
        assert_ne!(one, mcp_session_digest("0b6f7c1e-2"));
        let plain = <sha2::Sha256 as sha2::Digest>::digest(b"0b6f7c1e-1");
        assert_ne!(one, hex::encode(plain));
    }
}
