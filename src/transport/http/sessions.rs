//! rmcp's session store, backed by the bridge's database (see
//! `service::mcp_session`): when a request names an MCP session this host
//! does not hold, rmcp asks here, and a session its caller owns is replayed
//! on this host instead of answered with 404.
//!
//! rmcp asks with the session id alone, so the caller's bearer identity
//! travels in a task-local that `access::check_caller` sets around the
//! request: to any other identity a stored session does not exist. The
//! sessions this host holds are guarded by [`Owners`] before rmcp sees the
//! request, so no other identity reads a session's stream or ends it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use rmcp::model::InitializeRequestParams;
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use super::access::refusal;
use super::resume::QuietResume;
use crate::mcp::Backend;
use crate::service::Bridge;

tokio::task_local! {
    /// The bearer identity of the request being served.
    static CALLER: String;
}

/// Runs `request` (the rest of the MCP route) as `identity`.
pub(super) async fn as_caller<F: Future>(identity: String, request: F) -> F::Output {
    CALLER.scope(identity, request).await
}

/// The sessions every server on the database can take over.
pub(super) struct SharedSessions<S: Backend> {
    bridge: Arc<Bridge<S>>,
}

impl<S: Backend> SharedSessions<S> {
    pub(super) fn new(bridge: Arc<Bridge<S>>) -> Self {
        Self { bridge }
    }
}

#[async_trait::async_trait]
impl<S: Backend> SessionStore for SharedSessions<S> {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Ok(caller) = CALLER.try_with(Clone::clone) else {
            return Ok(None);
        };
        let Some(params) = self.bridge.shared_session(session_id, &caller).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<InitializeRequestParams>(&params) {
            Ok(params) => Ok(Some(SessionState::new(params))),
            Err(e) => {
                tracing::warn!(error = %e, "a stored MCP session is unreadable; the client must initialize again");
                Ok(None)
            }
        }
    }

    /// Nothing here: a session is stored when it first binds a seat, since
    /// one bound to nothing loses nothing by starting afresh.
    async fn store(&self, _: &str, _: &SessionState) -> Result<(), SessionStoreError> {
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let Ok(caller) = CALLER.try_with(Clone::clone) else {
            return Ok(());
        };
        // Only its owner ends a stored session.
        Ok(self.bridge.forget_session(session_id, &caller).await?)
    }
}

/// The session manager of this host's MCP route.
pub(super) type Manager = QuietResume<LocalSessionManager>;

/// `404` for a `DELETE` naming a session that neither this host holds nor
/// the database keeps for the caller, or that was ended through another
/// host, as for any other request naming a session that is gone (rmcp
/// would answer `202` whatever the id). Runs
/// inside `access::check_caller`, which has set the caller.
pub(super) async fn end_only_known<S: Backend>(
    State((manager, bridge)): State<(Arc<Manager>, Arc<Bridge<S>>)>,
    request: Request,
    next: Next,
) -> Response {
    let id = match request.method() == Method::DELETE {
        true => request
            .headers()
            .get(HEADER_SESSION_ID)
            .and_then(|v| v.to_str().ok()),
        false => None,
    };
    let Some(id) = id else {
        return next.run(request).await;
    };
    let held = manager.has_session(&id.into()).await.unwrap_or(false);
    // Held here but ended through another host (before this host's recheck
    // noticed): gone, as it is everywhere else. It is closed here too.
    if held && matches!(bridge.session_ended(id).await, Ok(true)) {
        let _ = manager.close_session(&id.into()).await;
        return refusal(StatusCode::NOT_FOUND, "Not Found: Session not found");
    }
    let known = held
        || match CALLER.try_with(Clone::clone) {
            Ok(caller) => matches!(bridge.shared_session(id, &caller).await, Ok(Some(_))),
            Err(_) => false,
        };
    match known {
        true => next.run(request).await,
        false => refusal(StatusCode::NOT_FOUND, "Not Found: Session not found"),
    }
}

/// How long an owner is remembered after its session's last request: longer
/// than rmcp's idle close (5 minutes), after which the session is gone from
/// memory and a request takes it over again (with the store's owner check).
const OWNER_IDLE: Duration = Duration::from_secs(15 * 60);

/// rmcp's idle close of a session: one unused this long is gone.
const SESSION_IDLE: Duration = Duration::from_secs(5 * 60);

/// The bearer identity that owns each MCP session this host holds.
#[derive(Debug, Default)]
pub(super) struct Owners {
    held: Mutex<HashMap<String, Owner>>,
    /// Sessions being opened (an `initialize` not answered yet), per
    /// identity: they count against its share, or a burst of initializes
    /// sent together would all pass the check before any was answered.
    opening: Mutex<HashMap<String, usize>>,
}

/// The refusal of an `initialize` past an identity's share.
/// The largest `initialize` request that opens a session: its parameters
/// are held for the session's life (and stored with it), real clients send
/// under 2 KiB, and a padded one held ~1 MB a session, a thousand sessions
/// a token (red team).
pub(super) const MAX_INITIALIZE_BYTES: usize = crate::service::MAX_STORED_INIT_PARAMS;

/// The answer to a larger one.
pub(super) const INITIALIZE_TOO_LARGE: &str =
    "Payload Too Large: an initialize request may take at most 16 KiB";

pub(super) const TOO_MANY: &str = "Too Many Requests: this token holds as many MCP sessions as it may (http.max_sessions_per_token); end one (DELETE) or let an idle one close";

/// A place for a session being opened, counted against its identity's
/// share until dropped (the session is then held, or failed to open).
#[derive(Debug)]
pub(super) struct Opening<'a> {
    owners: &'a Owners,
    caller: String,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        let mut opening = self.owners.opening();
        if let Some(n) = opening.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                opening.remove(&self.caller);
            }
        }
    }
}

#[derive(Debug)]
struct Owner {
    /// The identity's name.
    name: String,
    /// Its named token's hash, re-checked while the session may be open
    /// (see `revoke`); none for the shared token and `--no-auth`.
    token: Option<[u8; 32]>,
    /// The session's last successful request.
    seen: Instant,
}

impl Owners {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Owner>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn opening(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.opening.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for one more session of `caller`, if the sessions it holds
    /// (see [`Owners::open`]) and those it is opening come to fewer than `max`.
    pub(super) fn reserve(&self, caller: &str, max: usize) -> Option<Opening<'_>> {
        let open = self.open(caller);
        let mut opening = self.opening();
        let n = opening.entry(caller.to_owned()).or_default();
        if open + *n >= max {
            if *n == 0 {
                opening.remove(caller);
            }
            return None;
        }
        *n += 1;
        Some(Opening {
            owners: self,
            caller: caller.to_owned(),
        })
    }

    /// Whether session `id` is held here (opened or taken over, and used
    /// within the last quarter of an hour).
    pub(super) fn holds(&self, id: &str) -> bool {
        self.held().contains_key(id)
    }

    /// Whether `caller` may send a request naming session `id`. A session
    /// not held here is rmcp's to answer (`404`, or a take-over that checks
    /// the stored owner).
    pub(super) fn admit(&self, id: &str, caller: &str) -> bool {
        self.held().get(id).is_none_or(|owner| owner.name == caller)
    }

    /// Records that `caller` (with its named token's hash `token`) used
    /// session `id` successfully: the identity that opened it, or took it
    /// over, owns it.
    pub(super) fn used(&self, id: &str, caller: &str, token: Option<[u8; 32]>) {
        let now = Instant::now();
        let mut held = self.held();
        if held.len() >= 1024 && !held.contains_key(id) {
            held.retain(|_, owner| now.duration_since(owner.seen) < OWNER_IDLE);
        }
        held.entry(id.to_owned())
            .and_modify(|owner| owner.seen = now)
            .or_insert_with(|| Owner {
                name: caller.to_owned(),
                token,
                seen: now,
            });
    }

    /// How many sessions `caller` holds here that may still be open: used
    /// within rmcp's idle close, and not ended.
    pub(super) fn open(&self, caller: &str) -> usize {
        let now = Instant::now();
        self.held()
            .values()
            .filter(|owner| owner.name == caller && now.duration_since(owner.seen) < SESSION_IDLE)
            .count()
    }

    /// Forgets session `id` (ended).
    pub(super) fn ended(&self, id: &str) {
        self.held().remove(id);
    }

    /// The named tokens owning sessions that may still be open here.
    pub(super) fn hashes(&self) -> Vec<[u8; 32]> {
        let now = Instant::now();
        self.held()
            .values()
            .filter(|owner| now.duration_since(owner.seen) < SESSION_IDLE)
            .filter_map(|owner| owner.token)
            .collect()
    }

    /// Forgets every session owned through the token `hash` (revoked): their
    /// ids and owners' names, to end them.
    pub(super) fn revoked(&self, hash: &[u8; 32]) -> Vec<(String, String)> {
        let mut ended = Vec::new();
        self.held().retain(|id, owner| {
            let keep = owner.token.as_ref() != Some(hash);
            if !keep {
                ended.push((id.clone(), owner.name.clone()));
            }
            keep
        });
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::Owners;

    #[test]
    fn the_first_identity_to_use_a_session_owns_it() {
        let owners = Owners::default();
        assert!(owners.admit("s1", "mallory"), "unknown here: rmcp decides");
        owners.used("s1", "alice", Some([1; 32]));
        owners.used("s1", "mallory", Some([2; 32]));
        assert!(owners.admit("s1", "alice"));
        assert!(!owners.admit("s1", "mallory"));
        owners.ended("s1");
        assert!(owners.admit("s1", "mallory"));
    }

    #[test]
    fn sessions_being_opened_count_against_the_share() {
        let owners = Owners::default();
        owners.used("s1", "alice", None);
        let two = owners.reserve("alice", 3).expect("a second place");
        let three = owners.reserve("alice", 3).expect("a third place");
        assert!(
            owners.reserve("alice", 3).is_none(),
            "a burst stops at the share"
        );
        assert!(
            owners.reserve("bob", 3).is_some(),
            "another identity is not held up"
        );
        drop(three);
        let again = owners
            .reserve("alice", 3)
            .expect("a failed opening gives its place back");
        drop((two, again));
        assert!(owners.opening().is_empty());
    }

    #[test]
    fn a_revoked_token_loses_its_sessions_and_only_its_own() {
        let owners = Owners::default();
        owners.used("s1", "alice", Some([1; 32]));
        owners.used("s2", "alice", Some([1; 32]));
        owners.used("s3", "bob", Some([2; 32]));
        owners.used("s4", "(shared)", None);
        let mut hashes = owners.hashes();
        hashes.sort_unstable();
        assert_eq!(hashes, [[1; 32], [1; 32], [2; 32]]);
        let mut ended = owners.revoked(&[1; 32]);
        ended.sort();
        assert_eq!(
            ended,
            [
                ("s1".to_owned(), "alice".to_owned()),
                ("s2".to_owned(), "alice".to_owned())
            ]
        );
        assert_eq!(owners.open("alice"), 0);
        assert_eq!(owners.open("bob"), 1);
        assert_eq!(owners.open("(shared)"), 1);
    }
}
