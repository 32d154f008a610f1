//! MCP over the process's stdin and stdout, as MCP clients spawn local servers.
//!
//! stdout carries only protocol messages; logs go to stderr.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use rmcp::ServiceExt;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::mcp::BridgeServer;
use crate::store::YoloStore;

/// Serves `server` on stdio until the client closes stdin or `shutdown` resolves.
///
/// # Errors
/// When the MCP session cannot start (e.g. the client's `initialize` is malformed).
pub async fn serve<S: YoloStore>(
    server: BridgeServer<S>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Non-blocking pipes when stdin/stdout are FIFOs (how clients launch us):
    // no hand-off to the blocking pool for every line.
    let (reader, writer) = rmcp::transport::stdio_pipes();
    let closed = CancellationToken::new();
    let reader = EofSignal {
        inner: reader,
        closed: closed.clone(),
    };
    let running = server
        .with_session_end(closed)
        .serve((reader, writer))
        .await?;
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
    Ok(())
}

/// Cancels `closed` when the client closes stdin, so calls still waiting
/// (long-polls) end at once instead of holding the process open: rmcp lets
/// in-flight requests finish before it exits, but their answers can no longer
/// reach anyone.
struct EofSignal<R> {
    inner: R,
    closed: CancellationToken,
}

impl<R: AsyncRead + Unpin> AsyncRead for EofSignal<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                self.closed.cancel()
            }
            Poll::Ready(Err(_)) => self.closed.cancel(),
            _ => {}
        }
        polled
    }
}
