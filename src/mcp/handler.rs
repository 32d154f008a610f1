//! The MCP protocol surface beside the tools: `initialize`, the instructions
//! and capabilities a client sees, prompts, the inbox resource and its
//! subscriptions, and the per-call admission that wraps every tool call.

use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool_handler};

use super::{Backend, BridgeServer, inbox, invalid_line, prompts};

/// Instructions sent to clients at `initialize`; short, since every client
/// pays for them in its context window.
const INSTRUCTIONS: &str = "Coordinate with other agents. One calls create_conversation (its partner gets \
session_b_token) and create_invite for more; the others call join_conversation with the code a human gives them. \
The session then remembers its credentials: send_message (or send_to_partner) to write, check_messages to read \
(pass wait_seconds, up to 45 s, to wait for a reply instead of sleeping), update_my_status and \
check_partner_status for heartbeats. Never put a token or invite code in a message; secrets are redacted.";

#[tool_handler(router = self.tool_router)]
impl<S: Backend> ServerHandler for BridgeServer<S> {
    /// Runs each tool call with its unauthenticated calls counted for the
    /// HTTP bearer token it came with, if any (see `service::with_quota_scope`).
    async fn call_tool(
        &self,
        request: rmcp::model::CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        // Boxed, like `initialize`: rmcp's request future holds the largest
        // of its handlers' futures inline and moves it on every spawn, so a
        // few KiB here were copied for every request, pings included.
        Box::pin(async move {
            let scope = self.admit_call(&context).await?;
            let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
            crate::service::with_quota_scope(scope, self.tool_router.call(call)).await
        })
        .await
    }

    async fn initialize(
        &self,
        request: rmcp::model::InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::InitializeResult, rmcp::ErrorData> {
        // Boxed: this future is the largest of rmcp's handlers (see `call_tool`).
        Box::pin(self.initialize_session(request, context)).await
    }

    /// Answers the transport guard's stand-in for a line that was not usable
    /// JSON (see `transport::guard`); any other unknown method is not found.
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, rmcp::ErrorData> {
        Err(invalid_line::refusal(&request))
    }

    async fn list_prompts(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, rmcp::ErrorData> {
        Ok(prompts::list())
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, rmcp::ErrorData> {
        prompts::get(&request, self.bridge.lifetimes_us().1).map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, rmcp::ErrorData> {
        Ok(inbox::list())
    }

    // The inbox resource is admitted as a tool call is: over HTTP only from
    // the session's owner (another token that learnt a session's id read its
    // inbox through it: red team), and only while it was not ended elsewhere.
    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, rmcp::ErrorData> {
        // Boxed, like `listen`: rmcp's request dispatch holds the largest of
        // these handlers' futures inline in every request's task (over HTTP,
        // every open request's), whichever handler the request calls.
        Box::pin(async {
            self.admit_call(&context).await?;
            self.read_inbox(&request.uri).await
        })
        .await
        .map(Into::into)
    }

    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        Box::pin(self.admit_call(&context)).await?;
        self.subscribe_inbox(&request.uri, context.peer)
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        Box::pin(self.admit_call(&context)).await?;
        self.unsubscribe_inbox(&request.uri)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        self.inbox_filter(requested)
    }

    async fn listen(
        &self,
        context: rmcp::service::SubscriptionContext,
    ) -> Result<(), rmcp::ErrorData> {
        Box::pin(self.listen_inbox(context)).await
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .build(),
        )
        .with_server_info(Implementation::new("mcp-bridge", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }
}
