//! The MCP tool layer: `BridgeServer` declares the tools with rmcp's macros
//! and translates between wire types and the service layer. It holds no rules
//! of its own and knows nothing of the transport that carries it.

pub mod delivery;
mod described;
pub mod error;
mod handler;
pub mod held;
mod http_session;
mod inbox;
mod invalid_line;
pub mod params;
mod progress;
mod prompts;
pub mod results;
mod schema;
mod seat;
mod team;
mod yolo;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use tokio_util::sync::CancellationToken;

use self::delivery::{ParkedCall, ReplySlot, WrittenReplies};
use self::error::ToolFailure;
use self::params::{
    CheckMessagesParams, CheckPartnerStatusParams, CreateConversationParams, Parameters,
    SendToPartnerParams, ToolArgs, UpdateMyStatusParams,
};
use self::results::{
    CheckMessagesResult, CheckPartnerStatusResult, CreateConversationResult, SendToPartnerResult,
    UpdateMyStatusResult,
};
use crate::service::{
    Addressing, Bridge, CheckMessages, Scope, SendToPartner, ServiceError, Session,
    SessionCredentials, UpdateStatus,
};
use crate::store::{McpSessionStore, YoloStore};

/// What the tools need of a store: everything a session does, and the MCP
/// sessions that any server on the database can take over.
pub trait Backend: YoloStore + McpSessionStore {}
impl<T: YoloStore + McpSessionStore> Backend for T {}

pub(crate) use self::inbox::STATELESS_LISTEN;
pub(crate) use self::schema::{input_schema, output_schema};

pub use self::invalid_line::{
    INVALID_LINE_METHOD, MAX_LINE_BYTES, params_not_object, params_not_object_message,
};

/// The MCP server: one per connection, sharing one [`Bridge`].
pub struct BridgeServer<S: Backend> {
    bridge: Arc<Bridge<S>>,
    /// Shared by every session of an HTTP server (see [`BridgeServer::new_session`]).
    tool_router: Arc<ToolRouter<Self>>,
    /// Cancelled when the session's transport closes (client gone).
    session_end: CancellationToken,
    /// The credentials this MCP session created or joined with.
    session: Arc<Session>,
    /// The watches behind `bridge://inbox` subscriptions and listens.
    inbox_watch: Arc<inbox::InboxWatch>,
    /// Set when the transport reports written replies: inbox pages are then
    /// leased and acknowledged once written (see [`delivery`]).
    replies: Option<Arc<WrittenReplies<S>>>,
    /// Cancelled when the server shuts down: waiting long-polls then
    /// return an empty page instead of an error.
    shutdown: CancellationToken,
}

impl<S: Backend> Clone for BridgeServer<S> {
    fn clone(&self) -> Self {
        Self {
            bridge: Arc::clone(&self.bridge),
            tool_router: Arc::clone(&self.tool_router),
            session_end: self.session_end.clone(),
            session: Arc::clone(&self.session),
            inbox_watch: Arc::clone(&self.inbox_watch),
            replies: self.replies.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

impl<S: Backend> BridgeServer<S> {
    /// Ends waiting calls when `token` is cancelled (the transport knows when
    /// its client has gone; the server does not).
    pub fn with_session_end(mut self, token: CancellationToken) -> Self {
        self.session_end = token;
        self
    }

    /// A server for a new MCP session over the same bridge and tools: the
    /// tool router (with its schemas) is shared, the session state is fresh.
    /// Building the router anew costs far more than a whole tool call, so an
    /// HTTP server makes one server and calls this per session or request.
    pub fn new_session(&self) -> Self {
        Self {
            bridge: Arc::clone(&self.bridge),
            tool_router: Arc::clone(&self.tool_router),
            session_end: CancellationToken::new(),
            session: Arc::new(Session::new()),
            inbox_watch: Arc::default(),
            replies: None,
            shutdown: self.shutdown.clone(),
        }
    }

    /// Ends waiting long-polls with an empty page when `token` is cancelled
    /// (a server shutting down gracefully).
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// Runs this server for `session` (e.g. one that knows its client process).
    pub fn with_session(mut self, session: Arc<Session>) -> Self {
        self.session = session;
        self
    }

    /// The MCP session's bound credentials.
    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// For a transport that can tell when a reply has been written: inbox
    /// pages are then leased and acknowledged through the returned
    /// [`WrittenReplies`], which the transport must notify of every response
    /// it sends (see `transport::written`).
    pub fn reporting_written_replies(mut self) -> (Self, Arc<WrittenReplies<S>>) {
        let replies = WrittenReplies::new(Arc::clone(&self.bridge));
        self.replies = Some(Arc::clone(&replies));
        (self, replies)
    }

    /// A tool's validated arguments; a schema mismatch is audited and refused.
    fn arguments<T: ToolArgs>(
        &self,
        tool: &'static str,
        params: Parameters<T>,
    ) -> Result<T::Valid, ToolFailure> {
        match params.args {
            Ok(args) => Ok(args),
            Err(error) => {
                let (conversation, side) = &params.raw_ids;
                self.bridge.record_rejected_call(
                    tool,
                    conversation.as_deref(),
                    side.as_deref(),
                    "invalid_params",
                );
                Err(ToolFailure::Arguments { tool, error })
            }
        }
    }
}

#[tool_router]
impl<S: Backend> BridgeServer<S> {
    /// A server over `bridge`.
    pub fn new(bridge: Arc<Bridge<S>>) -> Self {
        let mut tool_router =
            Self::tool_router() + team::router() + yolo::router(bridge.yolo_enabled());
        // 2020-12 is MCP's default dialect: naming it in every schema would
        // cost each client 60 bytes per schema in tools/list, on every turn.
        for route in tool_router.map.values_mut() {
            let attr = &mut route.attr;
            Arc::make_mut(&mut attr.input_schema).remove("$schema");
            if let Some(out) = attr.output_schema.as_mut() {
                Arc::make_mut(out).remove("$schema");
            }
        }
        let (conversation_us, invite_us) = bridge.lifetimes_us();
        described::name_lifetimes(&mut tool_router, conversation_us, invite_us);
        Self {
            bridge,
            tool_router: Arc::new(tool_router),
            session_end: CancellationToken::new(),
            session: Arc::new(Session::new()),
            inbox_watch: Arc::default(),
            replies: None,
            shutdown: CancellationToken::new(),
        }
    }

    #[tool(
        title = "Create conversation",
        description = "Open a conversation with a partner agent; you are session \"a\". Have the human give your \
partner conversation_id and session_b_token (it passes them with session_id \"b\"); never put a token in a message. \
Expires after 3 h by default.",
        annotations(
            title = "Create conversation",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_conversation(
        &self,
        params: Parameters<CreateConversationParams>,
    ) -> Result<Json<CreateConversationResult>, ToolFailure> {
        let args = self.arguments("create_conversation", params)?;
        let created = self
            .bridge
            .create_conversation(&args.my_role, &args.partner_role)
            .await?;
        let creds = SessionCredentials {
            conversation: created.conversation.clone(),
            side: crate::domain::Side::A,
            token: created.token_a.clone(),
        };
        self.bind(creds).await;
        Ok(Json(created.into()))
    }

    #[tool(
        title = "Send to partner",
        description = "Send a message to your partner (at most 51200 bytes; secrets are redacted). Then wait for the \
reply with check_messages and wait_seconds, not by sleeping.",
        annotations(
            title = "Send to partner",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn send_to_partner(
        &self,
        params: Parameters<SendToPartnerParams>,
    ) -> Result<Json<SendToPartnerResult>, ToolFailure> {
        let (creds, args) = self.arguments("send_to_partner", params)?;
        let send = SendToPartner {
            message: args.message,
            action_type: args.action_type.into(),
            files_involved: args.files_involved,
            to: Addressing::Everyone,
        };
        let sent = self
            .act("send_to_partner", creds, async |c| {
                self.bridge.send_message(c, send, "send_to_partner").await
            })
            .await?;
        Ok(Json(sent.into()))
    }

    #[tool(
        title = "Check messages",
        description = "Receive your unread messages in send order, each once. To wait for one, pass wait_seconds \
(waits up to 45 s, returns as soon as one arrives) instead of sleeping; call again if it comes back empty.",
        annotations(
            title = "Check messages",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn check_messages(
        &self,
        params: Parameters<CheckMessagesParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<CheckMessagesResult>, ToolFailure> {
        let (creds, args) = self.arguments("check_messages", params)?;
        let explicit = creds.token.is_some();
        // Without conversation_id, a session bound to several reads them all.
        let creds = self
            .session_credentials("check_messages", creds, Scope::All)
            .await?;
        let (wait, parked) = ParkedCall::rest_of(&context.extensions, args.wait());
        let limit = args.page();
        let (request, session) = (context.ct.clone(), self.session_end.clone());
        let shutdown = self.shutdown.clone();
        let stopping = shutdown.clone();
        // Over HTTP the request carries its own slot for the page's receipts.
        let http_slot = ReplySlot::of(&context.extensions);
        let client_gone = http_slot.as_ref().map(ReplySlot::gone).unwrap_or_default();
        let cancelled = async move {
            tokio::select! {
                () = request.cancelled() => {}
                () = session.cancelled() => {}
                () = stopping.cancelled() => {}
                () = client_gone.cancelled() => {}
            }
        };
        if let Some(replies) = &self.replies {
            // Our own last page must be acknowledged before we look again.
            replies.settle().await;
        }
        if let Some(slot) = &http_slot {
            // The same over HTTP, for every earlier response of these inboxes.
            let inboxes: Vec<_> = creds
                .iter()
                .map(|c| (c.conversation.clone(), c.side))
                .collect();
            slot.settle(&inboxes).await;
        }
        let check = CheckMessages {
            wait,
            limit,
            leased: self.replies.is_some() || http_slot.is_some(),
            parked,
        };
        // Named with its token, the seat is remembered once the call
        // succeeds (see `seat`); an explicit call names exactly one.
        let named = explicit.then(|| creds.first().cloned()).flatten();
        let work = self.bridge.check_messages(&creds, check, cancelled);
        let inbox = match context.meta.get_progress_token() {
            Some(token) if !wait.is_zero() => {
                progress::report_while(work, &context.peer, token, wait).await
            }
            _ => work.await,
        };
        let mut inbox = match inbox {
            // The server is stopping: nothing was taken, so the wait just
            // ends empty and the client asks again (of the next server).
            Err(ServiceError::Cancelled) if shutdown.is_cancelled() => Default::default(),
            other => other?,
        };
        // A call cancelled meanwhile gets no reply (rmcp drops it), so its
        // page must not wait for one: the lease lapses and it comes again.
        let gone = http_slot.as_ref().is_some_and(|s| s.gone().is_cancelled());
        if !inbox.receipts.is_empty() && !context.ct.is_cancelled() && !gone {
            let receipts = std::mem::take(&mut inbox.receipts);
            match (&http_slot, &self.replies) {
                (Some(slot), _) => slot.file(receipts),
                (None, Some(replies)) => replies.expect(context.id.clone(), receipts),
                (None, None) => {}
            }
        }
        if let Some(seat) = named {
            self.remember(seat).await;
        }
        Ok(Json(inbox.into()))
    }

    #[tool(
        title = "Update my status",
        description = "Publish your status (working, waiting, blocked, complete) and an optional note; this is your heartbeat.",
        annotations(
            title = "Update my status",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_my_status(
        &self,
        params: Parameters<UpdateMyStatusParams>,
    ) -> Result<Json<UpdateMyStatusResult>, ToolFailure> {
        let (creds, args) = self.arguments("update_my_status", params)?;
        let update = UpdateStatus {
            status: args.status.into(),
            note: args.note,
        };
        let updated = self
            .act("update_my_status", creds, async |c| {
                self.bridge.update_my_status(c, update).await
            })
            .await?;
        Ok(Json(updated.into()))
    }

    #[tool(
        title = "Check partner status",
        description = "See your partner's last status and note, and whether its heartbeat is recent (alive).",
        annotations(
            title = "Check partner status",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn check_partner_status(
        &self,
        params: Parameters<CheckPartnerStatusParams>,
    ) -> Result<Json<CheckPartnerStatusResult>, ToolFailure> {
        let (creds, _) = self.arguments("check_partner_status", params)?;
        let status = self
            .act("check_partner_status", creds, async |c| {
                self.bridge.check_partner_status(c).await
            })
            .await?;
        Ok(Json(status.into()))
    }
}
