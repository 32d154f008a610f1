//! The team tools: invite, join, send to chosen participants, remove, and list
//! the conversations this MCP session takes part in.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{Json, tool, tool_router};

use super::Backend;
use super::BridgeServer;
use super::error::ToolFailure;
use super::params::{
    CreateInviteParams, JoinConversationParams, ListMyConversationsParams, Parameters,
    RemoveParticipantParams, SendMessageParams,
};
use super::results::{
    CreateInviteResult, JoinConversationResult, ListMyConversationsResult, RemoveParticipantResult,
    SendMessageResult,
};
use crate::service::{Scope, SendToPartner, SessionState};

#[tool_router(router = team_router, vis = "pub(super)")]
impl<S: Backend> BridgeServer<S> {
    #[tool(
        title = "Create invite",
        description = "Owner only: make a single-use code (expires in 10 min) that lets one more agent join with `role`, \
as member or observer. Give it to the human, never in a message.",
        annotations(
            title = "Create invite",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_invite(
        &self,
        params: Parameters<CreateInviteParams>,
    ) -> Result<Json<CreateInviteResult>, ToolFailure> {
        let (creds, args) = self.arguments("create_invite", params)?;
        let invited = self
            .act("create_invite", creds, async |c| {
                let kind = args.kind.into();
                (self.bridge)
                    .create_invite(c, &args.role, kind, args.expires_minutes)
                    .await
            })
            .await?;
        Ok(Json(invited.into()))
    }

    #[tool(
        title = "Join conversation",
        description = "Join a conversation with an invite code from a human. This session then remembers its credentials.",
        annotations(
            title = "Join conversation",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn join_conversation(
        &self,
        params: Parameters<JoinConversationParams>,
    ) -> Result<Json<JoinConversationResult>, ToolFailure> {
        let args = self.arguments("join_conversation", params)?;
        let joined = self.bridge.join_conversation(&args.invite_code).await?;
        self.bind(joined.creds.clone()).await;
        Ok(Json(joined.into()))
    }

    #[tool(
        title = "Send message",
        description = "Send a message to the participants `to` names (roles or session ids), or to everyone else if omitted. \
Secrets are redacted; at most 51200 bytes. Wait for replies with check_messages and wait_seconds.",
        annotations(
            title = "Send message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn send_message(
        &self,
        params: Parameters<SendMessageParams>,
    ) -> Result<Json<SendMessageResult>, ToolFailure> {
        let (creds, args) = self.arguments("send_message", params)?;
        let send = SendToPartner {
            to: args.addressing(),
            message: args.message,
            action_type: args.action_type.into(),
            files_involved: args.files_involved,
        };
        let sent = self
            .act("send_message", creds, async |c| {
                self.bridge.send_message(c, send, "send_message").await
            })
            .await?;
        Ok(Json(sent.into()))
    }

    #[tool(
        title = "Remove participant",
        description = "Owner only: remove a participant (role or session id); its token stops working at once.",
        annotations(
            title = "Remove participant",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn remove_participant(
        &self,
        params: Parameters<RemoveParticipantParams>,
    ) -> Result<Json<RemoveParticipantResult>, ToolFailure> {
        let (creds, args) = self.arguments("remove_participant", params)?;
        let removed = self
            .act("remove_participant", creds, async |c| {
                self.bridge.remove_participant(c, &args.participant).await
            })
            .await?;
        Ok(Json(removed.into()))
    }

    #[tool(
        title = "List my conversations",
        description = "List the conversations this session created or joined, with roles, participants and unread counts.",
        annotations(
            title = "List my conversations",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_my_conversations(
        &self,
        params: Parameters<ListMyConversationsParams>,
    ) -> Result<Json<ListMyConversationsResult>, ToolFailure> {
        let (creds, _) = self.arguments("list_my_conversations", params)?;
        let explicit = creds.token.is_some();
        let bound = if creds.conversation.is_none() && creds.side.is_none() && !explicit {
            // Nothing bound is an empty list here, not a refusal.
            self.bound_seats().await
        } else {
            self.session_credentials("list_my_conversations", creds, Scope::All)
                .await?
        };
        let mine = self.bridge.my_conversations(&bound).await?;
        if explicit {
            // A token still verifies after its seat was removed or its
            // conversation expired: only a working seat is remembered.
            for (seat, listed) in bound.into_iter().zip(&mine) {
                if listed.state == SessionState::Active {
                    self.remember(seat).await;
                }
            }
        }
        Ok(Json(mine.into()))
    }
}

/// The team tools.
pub(super) fn router<S: Backend>() -> ToolRouter<BridgeServer<S>> {
    BridgeServer::<S>::team_router()
}
