//! Which seat a tool call acts for, and what its MCP session learns from it.
//! A call that names its seat with a token that works binds the session to
//! that seat, exactly as `create_conversation` and `join_conversation` do:
//! the partner handed `session_b_token` (or an agent whose server restarted)
//! then gets `mcp-bridge inbox` reminders and `bridge://inbox` notifications
//! like the agent that created the conversation, and may leave its
//! credentials out from then on.

use super::error::ToolFailure;
use super::{Backend, BridgeServer};
use crate::service::{CredentialArgs, Scope, ServiceError, SessionCredentials};

impl<S: Backend> BridgeServer<S> {
    /// The one session a call acts for: its explicit credentials, or this
    /// MCP session's own (see `service::session`).
    pub(super) async fn credentials(
        &self,
        tool: &'static str,
        args: CredentialArgs,
    ) -> Result<SessionCredentials, ToolFailure> {
        let creds = self.session_credentials(tool, args, Scope::One).await?;
        Ok(creds.into_iter().next().ok_or(ServiceError::AuthFailed)?)
    }

    /// Runs `op` as the one seat `args` resolve to, and remembers that seat
    /// when the call named it with a token and `op` succeeded. Only success
    /// binds: a token that does not verify, or a seat removed meanwhile,
    /// must not leave this session holding it.
    pub(super) async fn act<T>(
        &self,
        tool: &'static str,
        args: CredentialArgs,
        op: impl AsyncFnOnce(&SessionCredentials) -> Result<T, ServiceError>,
    ) -> Result<T, ToolFailure> {
        let explicit = args.token.is_some();
        let creds = self.credentials(tool, args).await?;
        let done = op(&creds).await?;
        if explicit {
            self.remember(creds).await;
        }
        Ok(done)
    }

    /// Binds this session to `creds`, which a call just used successfully
    /// with its token, unless it holds that seat already (the common case:
    /// one lock and a scan, no store write).
    pub(super) async fn remember(&self, creds: SessionCredentials) {
        let known = self.session.with_bound(|bound| {
            bound
                .iter()
                .any(|b| b.conversation == creds.conversation && b.side == creds.side)
        });
        if !known {
            self.bind(creds).await;
        }
    }
}
