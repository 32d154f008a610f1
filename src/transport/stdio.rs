//! MCP over the process's stdin and stdout, as MCP clients spawn local servers.
//!
//! stdout carries only protocol messages; logs go to stderr.

use std::future::Future;
use std::sync::Arc;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use super::guard::LineGuard;
use super::lines::LineTransport;
use super::written::ReportWrites;

use crate::mcp::Backend;
use crate::mcp::BridgeServer;

/// Serves `server` on stdio until the client closes stdin or `shutdown` resolves.
///
/// # Errors
/// When the MCP session cannot start (e.g. the client's `initialize` is malformed).
pub async fn serve<S: Backend>(
    server: BridgeServer<S>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Non-blocking pipes when stdin/stdout are FIFOs (how clients launch us):
    // no hand-off to the blocking pool for every line.
    let (reader, writer) = rmcp::transport::stdio_pipes();
    let closed = CancellationToken::new();
    let reader = LineGuard::new(reader, closed.clone());
    let (server, replies) = server.with_session_end(closed).reporting_written_replies();
    let transport = ReportWrites::new(LineTransport::new(reader, writer), Arc::clone(&replies));
    let running = server.serve(transport).await?;
    let stop = running.cancellation_token();
    tokio::pin!(shutdown);
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        quit = &mut waiting => {
            tracing::debug!(?quit, "client closed the session");
        }
        () = &mut shutdown => {
            tracing::info!("shutting down");
            stop.cancel();
            let _ = waiting.await;
        }
    }
    // Pages written in the last moment: no cancel can come for them now.
    replies.acknowledge_held().await;
    Ok(())
}
