//! The two YOLO tools. They are always listed; on a server started without
//! `MCP_BRIDGE_YOLO=1` their descriptions say so and they answer `yolo_disabled`.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{Json, tool, tool_router};

use super::Backend;
use super::BridgeServer;
use super::error::ToolFailure;
use super::params::{EnableYoloModeParams, ExecuteCommandParams, Parameters};
use super::results::{EnableYoloModeResult, ExecuteCommandResult};
use crate::service::{EnableYolo, ExecuteCommand};

/// Appended to both descriptions when this server does not offer execution.
const DISABLED_NOTE: &str =
    " DISABLED on this server (it was not started with MCP_BRIDGE_YOLO=1): answers yolo_disabled.";

#[tool_router(router = yolo_router, vis = "pub(super)")]
impl<S: Backend> BridgeServer<S> {
    #[tool(
        title = "Request command execution",
        description = "Ask for command execution in a workspace (mode safe, restricted or yolo). Nothing is enabled \
until a human confirms it in a terminal.",
        annotations(
            title = "Request command execution",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn enable_yolo_mode(
        &self,
        params: Parameters<EnableYoloModeParams>,
    ) -> Result<Json<EnableYoloModeResult>, ToolFailure> {
        let (creds, args) = self.arguments("enable_yolo_mode", params)?;
        let enable = EnableYolo {
            mode: args.mode.into(),
            workspace: args.workspace,
            timeout_s: args.timeout_s,
            sandbox: args.sandbox,
        };
        let activation = self
            .act("enable_yolo_mode", creds, async |c| {
                self.bridge.enable_yolo_mode(c, enable).await
            })
            .await?;
        Ok(Json(activation.into()))
    }

    #[tool(
        title = "Execute command",
        description = "Propose a shell command (nothing runs yet); once a human approves it, call again with the same \
command and the approval_token to run it once. dry_run shows what would run.",
        annotations(
            title = "Execute command",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn execute_command(
        &self,
        params: Parameters<ExecuteCommandParams>,
    ) -> Result<Json<ExecuteCommandResult>, ToolFailure> {
        let (creds, args) = self.arguments("execute_command", params)?;
        let exec = ExecuteCommand {
            command: args.command,
            dry_run: args.dry_run,
            approval_token: args.approval_token,
        };
        let execution = self
            .act("execute_command", creds, async |c| {
                self.bridge.execute_command(c, exec).await
            })
            .await?;
        Ok(Json(execution.into()))
    }
}

/// The YOLO tools, described as disabled unless `enabled`.
pub(super) fn router<S: Backend>(enabled: bool) -> ToolRouter<BridgeServer<S>> {
    let mut router = BridgeServer::<S>::yolo_router();
    if !enabled {
        for route in router.map.values_mut() {
            let description = route.attr.description.as_deref().unwrap_or_default();
            route.attr.description = Some(format!("{description}{DISABLED_NOTE}").into());
        }
    }
    router
}
