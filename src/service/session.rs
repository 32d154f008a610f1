//! Sessions that remember who they are: the credentials an MCP session (a
//! stdio server process, later an HTTP session) is bound to after it created
//! or joined a conversation, and how a call's explicit or omitted credentials
//! resolve against them.
//!
//! A call may pass `conversation_id`, `session_id` and `token` as before; or
//! omit the token, and then the bound sessions are used, narrowed by whatever
//! it did pass. A session bound to nothing gets `auth_failed`, exactly like a
//! wrong token.

use std::sync::{Mutex, OnceLock};

use super::{Bridge, ServiceError, SessionCredentials};
use crate::audit::AuditDraft;
use crate::auth::Token;
use crate::domain::{ConversationId, InvalidValue, Side};
use crate::store::{ClientBinding, ProcessStamp, Store};

/// Credentials as a call gave them: any of the three may be missing.
#[derive(Debug, Clone, Default)]
pub struct CredentialArgs {
    /// `conversation_id`, if given.
    pub conversation: Option<ConversationId>,
    /// `session_id`, if given.
    pub side: Option<Side>,
    /// `token`, if given (then the other two must be too).
    pub token: Option<Token>,
}

/// How many bound sessions a call may act for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Exactly one (sending, status, invites…).
    One,
    /// Every matching bound session (reading the inbox).
    All,
}

/// The process pair a stdio session runs in: the client that spawned the
/// server, and the server itself. `mcp-bridge inbox`, started by the same
/// client, finds the session's conversations through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientProcess {
    /// The MCP client process (the server's parent).
    pub client: ProcessStamp,
    /// This server process.
    pub server: ProcessStamp,
}

/// One MCP session's bound credentials. Tokens never leave it except to
/// authenticate this session's own calls.
#[derive(Debug, Default)]
pub struct Session {
    bound: Mutex<Vec<SessionCredentials>>,
    process: Option<ClientProcess>,
    /// Over HTTP: the bearer identity the session belongs to (see `mcp_session`).
    pub(super) owner: OnceLock<String>,
    /// Over HTTP with an `Mcp-Session-Id`: what any server needs to take it over.
    pub(super) shared: OnceLock<super::mcp_session::SharedSession>,
}

impl Session {
    /// A session of a connection whose client process is unknown (in-process, HTTP).
    pub fn new() -> Self {
        Self::default()
    }

    /// A stdio session spawned by `process.client`.
    pub fn for_process(process: ClientProcess) -> Self {
        Self {
            process: Some(process),
            ..Self::default()
        }
    }

    /// The client and server processes, when known.
    pub fn process(&self) -> Option<ClientProcess> {
        self.process
    }

    /// The bound credentials, oldest first.
    pub fn bound(&self) -> Vec<SessionCredentials> {
        self.with_bound(<[SessionCredentials]>::to_vec)
    }

    /// Runs `f` on the bound credentials without copying them: an agent in
    /// hundreds of conversations would otherwise pay for a copy of every
    /// seat on each call.
    pub fn with_bound<T>(&self, f: impl FnOnce(&[SessionCredentials]) -> T) -> T {
        f(&self.bound.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Drops every bound seat (the session was ended elsewhere).
    pub(super) fn forget_seats(&self) {
        self.bound.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Adds `creds` unless that session is bound already; whether it was new.
    pub(super) fn add(&self, creds: SessionCredentials) -> bool {
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        if bound
            .iter()
            .any(|b| b.conversation == creds.conversation && b.side == creds.side)
        {
            return false;
        }
        bound.push(creds);
        true
    }

    /// Adds `creds` only when bound to nothing (checked and added under one
    /// lock, so two calls at once cannot both add); whether it was added.
    fn add_first(&self, creds: SessionCredentials) -> bool {
        let mut bound = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        if !bound.is_empty() {
            return false;
        }
        bound.push(creds);
        true
    }
}

/// Picks the credentials a call acts with. Pure, so the rules are testable.
///
/// # Errors
/// [`ServiceError::InvalidArgument`] for a token without its conversation and
/// session, or an ambiguous choice among several bound sessions;
/// [`ServiceError::AuthFailed`] when nothing bound matches.
pub fn resolve(
    args: CredentialArgs,
    bound: &[SessionCredentials],
    scope: Scope,
) -> Result<Vec<SessionCredentials>, ServiceError> {
    if let Some(token) = args.token {
        return match (args.conversation, args.side) {
            (Some(conversation), Some(side)) => Ok(vec![SessionCredentials {
                conversation,
                side,
                token,
            }]),
            _ => Err(InvalidValue::new(
                "token",
                "comes with conversation_id and session_id (or leave all three out to use this session's own)",
            )
            .into()),
        };
    }
    let matching: Vec<SessionCredentials> = bound
        .iter()
        .filter(|b| {
            args.conversation
                .as_ref()
                .is_none_or(|c| *c == b.conversation)
        })
        .filter(|b| args.side.is_none_or(|s| s == b.side))
        .cloned()
        .collect();
    match (matching.len(), scope) {
        // Nothing to pick from: say what to pass instead of a bare
        // "authentication failed" for credentials the caller never gave.
        (0, _) if bound.is_empty() && args.conversation.is_none() && args.side.is_none() => {
            Err(InvalidValue::new(
                "token",
                "is needed, with conversation_id and session_id: nothing this client created or joined is remembered here (a stateless HTTP request remembers nothing); a partner given session_b_token passes session_id \"b\", and an invite code goes to join_conversation",
            )
            .into())
        }
        (0, _) => Err(ServiceError::AuthFailed),
        (1, _) | (_, Scope::All) => Ok(matching),
        // The conversation given holds several of this session's seats:
        // it is the seat that is missing, not the conversation.
        (_, Scope::One) if args.conversation.is_some() => {
            let sides: Vec<&str> = matching.iter().map(|b| b.side.as_str()).collect();
            Err(InvalidValue::new(
                "session_id",
                format!(
                    "is needed: this session holds seats {} in that conversation; pass one of them",
                    sides.join(", ")
                ),
            )
            .into())
        }
        (_, Scope::One) => {
            let choices: Vec<String> = matching
                .iter()
                .map(|b| format!("{} (session {})", b.conversation, b.side))
                .collect();
            Err(InvalidValue::new(
                "conversation_id",
                format!(
                    "is needed: this session takes part in {}; pass one of them (and session_id if both are yours)",
                    choices.join(", ")
                ),
            )
            .into())
        }
    }
}

impl<S: Store> Bridge<S> {
    /// Binds `session` to `creds` (after create or join) and records the
    /// binding for `mcp-bridge inbox` when the client process is known. A
    /// failure to record only costs the inbox hook, so it is logged, not returned.
    pub async fn bind(&self, session: &Session, creds: SessionCredentials) {
        let (conversation, side) = (creds.conversation.clone(), creds.side);
        if session.add(creds) {
            self.record_binding(session, conversation, side).await;
        }
    }

    /// Binds `session` to `creds` only when it is bound to nothing yet: a
    /// seat a call named with its token (see `mcp::seat`).
    pub async fn bind_if_unbound(&self, session: &Session, creds: SessionCredentials) {
        let (conversation, side) = (creds.conversation.clone(), creds.side);
        if session.add_first(creds) {
            self.record_binding(session, conversation, side).await;
        }
    }

    /// Records a new binding of `session` for `mcp-bridge inbox` when its
    /// client process is known.
    async fn record_binding(&self, session: &Session, conversation: ConversationId, side: Side) {
        let Some(process) = session.process() else {
            return;
        };
        let binding = ClientBinding {
            client: process.client,
            server: process.server,
            conversation,
            side,
            bound_at: self.clock.now(),
        };
        if let Err(e) = self.store.record_binding(binding).await {
            tracing::warn!(error = %crate::store::error_chain(&e), "cannot record the session binding for `mcp-bridge inbox`");
        }
    }

    /// Forgets this server process's bindings (it is exiting).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn unbind_process(&self, session: &Session) -> Result<(), ServiceError> {
        match session.process() {
            Some(p) => Ok(self.store.forget_bindings(p.server).await?),
            None => Ok(()),
        }
    }

    /// The credentials `tool` acts with: [`resolve`], with a refusal audited.
    ///
    /// # Errors
    /// As [`resolve`].
    pub async fn credentials(
        &self,
        session: &Session,
        tool: &'static str,
        args: CredentialArgs,
        scope: Scope,
    ) -> Result<Vec<SessionCredentials>, ServiceError> {
        let given = (args.conversation.clone(), args.side);
        let without_token = args.token.is_none();
        let first = session.with_bound(|bound| resolve(args, bound, scope));
        let picked = match first {
            // Several seats to choose from: those this session was removed
            // from, or whose conversation expired, are no choice (its
            // credential-less checks leave them out too). Read only on this
            // path, where the call would otherwise be refused.
            Err(ServiceError::InvalidArgument(_)) if scope == Scope::One && without_token => {
                let args = CredentialArgs {
                    conversation: given.0.clone(),
                    side: given.1,
                    token: None,
                };
                let bound = session.with_bound(<[SessionCredentials]>::to_vec);
                let mut live = Vec::with_capacity(bound.len());
                let now = self.clock.now();
                for seat in bound {
                    if let Ok(Some(c)) = self.store.conversation(&seat.conversation).await
                        && super::admitted(&c, seat.side, now).is_ok()
                    {
                        live.push(seat);
                    }
                }
                match resolve(args, &live, scope) {
                    Ok(creds) if !creds.is_empty() => Ok(creds),
                    // Still several: name only those.
                    Err(e @ ServiceError::InvalidArgument(_)) => Err(e),
                    _ => first,
                }
            }
            other => other,
        };
        match picked {
            Ok(creds) => Ok(creds),
            Err(e) => {
                let draft = AuditDraft::new("mcp", tool).on(
                    given.0.as_ref().map(ConversationId::as_str),
                    given.1.map(Side::as_str),
                );
                Err(self.refuse(draft, e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(n: u8) -> ConversationId {
        ConversationId::parse(&format!("conv_{n:016x}")).unwrap()
    }

    fn token() -> Token {
        Token::parse(&"ab".repeat(32)).unwrap()
    }

    fn bound(n: u8, side: Side) -> SessionCredentials {
        SessionCredentials {
            conversation: conv(n),
            side,
            token: token(),
        }
    }

    fn picked(r: Result<Vec<SessionCredentials>, ServiceError>) -> Vec<(ConversationId, Side)> {
        r.unwrap()
            .into_iter()
            .map(|c| (c.conversation, c.side))
            .collect()
    }

    #[test]
    fn explicit_credentials_win_and_need_all_three() {
        let args = CredentialArgs {
            conversation: Some(conv(9)),
            side: Some(Side::B),
            token: Some(token()),
        };
        assert_eq!(
            picked(resolve(args, &[bound(1, Side::A)], Scope::One)),
            vec![(conv(9), Side::B)]
        );
        let half = CredentialArgs {
            token: Some(token()),
            side: Some(Side::A),
            ..CredentialArgs::default()
        };
        assert_eq!(
            resolve(half, &[], Scope::One).unwrap_err().code(),
            "invalid_argument"
        );
    }

    #[test]
    fn nothing_bound_says_what_to_pass_and_a_wrong_pick_is_an_authentication_failure() {
        let err = resolve(CredentialArgs::default(), &[], Scope::All).unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        assert!(err.to_string().contains("join_conversation"), "{err}");
        let named = CredentialArgs {
            conversation: Some(conv(2)),
            ..CredentialArgs::default()
        };
        let err = resolve(named, &[], Scope::One).unwrap_err();
        assert_eq!(err.code(), "auth_failed");
        let other = CredentialArgs {
            conversation: Some(conv(2)),
            ..CredentialArgs::default()
        };
        let err = resolve(other, &[bound(1, Side::A)], Scope::One).unwrap_err();
        assert_eq!(err.code(), "auth_failed");
    }

    #[test]
    fn bound_sessions_are_narrowed_by_what_was_given() {
        let b = [
            bound(1, Side::A),
            bound(2, Side::nth(2).unwrap()),
            bound(2, Side::B),
        ];
        assert_eq!(
            picked(resolve(CredentialArgs::default(), &b[..1], Scope::One)),
            vec![(conv(1), Side::A)]
        );
        let err = resolve(CredentialArgs::default(), &b, Scope::One).unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        assert!(err.to_string().contains(conv(2).as_str()), "{err}");
        assert_eq!(
            picked(resolve(CredentialArgs::default(), &b, Scope::All)).len(),
            3
        );
        let two = CredentialArgs {
            conversation: Some(conv(2)),
            ..CredentialArgs::default()
        };
        let err = resolve(two.clone(), &b, Scope::One).unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
        // The conversation was given: the seat is what is missing.
        let text = err.to_string();
        assert!(
            text.contains("session_id") && text.contains("c, b"),
            "{text}"
        );
        let two_b = CredentialArgs {
            side: Some(Side::B),
            ..two
        };
        assert_eq!(
            picked(resolve(two_b, &b, Scope::One)),
            vec![(conv(2), Side::B)]
        );
    }
}
