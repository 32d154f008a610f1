//! rmcp's session store, backed by the bridge's database (see
//! `service::mcp_session`): when a request names an MCP session this host
//! does not hold, rmcp asks here, and a session its caller owns is replayed
//! on this host instead of answered with 404.
//!
//! rmcp asks with the session id alone, so the caller's bearer identity
//! travels in a task-local that `access::check_caller` sets around the
//! request: to any other identity a stored session does not exist.

use std::future::Future;
use std::sync::Arc;

use rmcp::model::InitializeRequestParams;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

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
        if self
            .bridge
            .shared_session(session_id, &caller)
            .await?
            .is_some()
        {
            self.bridge.forget_session(session_id).await?;
        }
        Ok(())
    }
}
