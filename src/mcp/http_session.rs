//! The tool layer's side of MCP sessions over HTTP (see
//! `service::mcp_session`): a call is refused when its bearer identity is not
//! the session's owner; a session's first call notes its id so its bindings
//! can be shared; a session replayed from the store on this host takes over
//! its owner and seats before its first request runs; and a call that reads
//! the seats picks up those another host bound meanwhile.

use axum::http::request::Parts;
use rmcp::model::{InitializeRequestParams, InitializeResult};
use rmcp::service::RequestContext;
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use rmcp::transport::streamable_http_server::SessionRestoreMarker;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::{Backend, BridgeServer};
use crate::service::{
    CredentialArgs, HttpIdentity, Scope, ServiceError, SessionCredentials, resolve,
};

/// The request's HTTP head and bearer identity, when it came over HTTP.
fn http_caller(context: &RequestContext<RoleServer>) -> Option<(&Parts, &HttpIdentity)> {
    let parts = context.extensions.get::<Parts>()?;
    Some((parts, parts.extensions.get::<HttpIdentity>()?))
}

/// Whether the request came over HTTP without an MCP session (the stateless
/// protocol): it is served by a fresh instance that remembers nothing.
pub(super) fn stateless_http(context: &RequestContext<RoleServer>) -> bool {
    context
        .extensions
        .get::<Parts>()
        .is_some_and(|p| !p.headers.contains_key(HEADER_SESSION_ID))
}

impl<S: Backend> BridgeServer<S> {
    /// Binds this MCP session to `creds` (after create or join), here and,
    /// for an HTTP session, in the store for every other host.
    pub(super) async fn bind(&self, creds: SessionCredentials) {
        self.bridge.share_binding(&self.session, &creds).await;
        self.bridge.bind(&self.session, creds).await;
    }

    /// The seats this session acts for, with those another host bound to it
    /// (a shared session may have joined a conversation there).
    pub(super) async fn bound_seats(&self) -> Vec<SessionCredentials> {
        if self.session.is_shared() {
            self.refresh_seats().await;
        }
        self.session.bound()
    }

    /// `Bridge::credentials` for this session. A shared session first learns
    /// the seats other hosts bound to it when they could matter: when what
    /// it knows does not resolve the call, or the call reads every seat.
    pub(super) async fn session_credentials(
        &self,
        tool: &'static str,
        args: CredentialArgs,
        scope: Scope,
    ) -> Result<Vec<SessionCredentials>, ServiceError> {
        if self.session.is_shared() {
            let (miss, any) = self.session.with_bound(|known| {
                let miss = args.token.is_none() && resolve(args.clone(), known, scope).is_err();
                (miss, !known.is_empty())
            });
            if miss || (scope == Scope::All && any) {
                self.refresh_seats().await;
            }
        }
        self.bridge
            .credentials(&self.session, tool, args, scope)
            .await
    }

    async fn refresh_seats(&self) {
        if let Err(e) = self.bridge.refresh_seats(&self.session).await {
            tracing::warn!(error = %e, "cannot read the MCP session's seats from the store");
        }
    }

    /// Admits a tool call: over HTTP only from the session's owner and only
    /// while the session was not ended on another host; the first call of a
    /// session with an id records what sharing it needs. Gives the caller's
    /// bearer identity, when the call came over HTTP.
    pub(super) async fn admit_call(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<Option<String>, ErrorData> {
        let Some((parts, identity)) = http_caller(context) else {
            return Ok(None);
        };
        if !self.session.owned_by(&identity.name) {
            return Err(ErrorData::invalid_request(
                "this MCP session was opened with another bearer token; initialize a session of your own",
                None,
            ));
        }
        if let Some(id) = parts
            .headers
            .get(HEADER_SESSION_ID)
            .and_then(|v| v.to_str().ok())
        {
            self.session.note_shared(id, || {
                serde_json::to_string(&context.peer.peer_info()?).ok()
            });
        }
        match self.bridge.session_alive(&self.session).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(ErrorData::invalid_request(
                    "this MCP session has ended (its client closed it, perhaps through another host); initialize a new session",
                    None,
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the MCP session in the store");
                return Err(ErrorData::internal_error(
                    "cannot check this MCP session right now; try again",
                    None,
                ));
            }
        }
        Ok(Some(identity.name.clone()))
    }

    /// `initialize`: a fresh HTTP session belongs to the caller's identity; a
    /// session replayed from the store (another host opened it, or this one
    /// before a restart) takes over its stored owner and seats.
    pub(super) async fn initialize_session(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        if let Some(marker) = context.extensions.get::<SessionRestoreMarker>() {
            self.bridge
                .take_over_session(&self.session, marker.id.as_ref())
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "cannot take over a stored MCP session");
                    ErrorData::internal_error(
                        "the session could not be restored; initialize again",
                        None,
                    )
                })?;
        } else if let Some((_, identity)) = http_caller(&context) {
            self.session.owned_by(&identity.name);
        }
        context.peer.set_peer_info(request.clone());
        self.negotiate_initialize(&request)
    }
}
