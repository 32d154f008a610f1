//! Which seat a tool call acts for, and what its MCP session learns from it.
//! A call that names its seat with a token that works binds a session bound
//! to nothing yet to that seat, as `create_conversation` and
//! `join_conversation` do: the partner handed `session_b_token` (or an agent
//! whose server restarted) then gets `mcp-bridge inbox` reminders and
//! `bridge://inbox` notifications like the agent that created the
//! conversation, and may leave its credentials out from then on.
//!
//! Only a session bound to nothing learns a seat this way, and only in this
//! process: one connection may carry several agents (Claude Code's subagents
//! share their parent's server), and a helper's one explicit call must not
//! make the lead's credential-less reads take the helper's messages, nor its
//! sends ambiguous. Nor is such a seat stored for other HTTP hosts: that
//! would be a database write per session a client opens, outside the storage
//! budget, for a client that passes its credentials anyway.

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
    /// with its token, when it is bound to nothing yet (the common case is a
    /// session that holds a seat: one lock, no store write). See the module
    /// doc for why no second seat, and why not shared with other hosts.
    pub(super) async fn remember(&self, creds: SessionCredentials) {
        if self.session.with_bound(<[SessionCredentials]>::is_empty) {
            self.bridge.bind_if_unbound(&self.session, creds).await;
        }
    }
}
