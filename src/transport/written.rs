//! A transport wrapper that reports each written reply to the server's
//! [`WrittenReplies`], so a leased inbox page is acknowledged only once its
//! response has really been handed to the client (see `mcp::delivery`).

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::JsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

use crate::mcp::delivery::WrittenReplies;
use crate::store::Store;

/// `inner`, acknowledging leased pages after their responses are sent.
pub struct ReportWrites<T, S: Store> {
    inner: T,
    replies: Arc<WrittenReplies<S>>,
}

impl<T, S: Store> ReportWrites<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, replies: Arc<WrittenReplies<S>>) -> Self {
        Self { inner, replies }
    }
}

impl<T, S> Transport<RoleServer> for ReportWrites<T, S>
where
    T: Transport<RoleServer>,
    S: Store,
{
    type Error = T::Error;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writing = match &item {
            JsonRpcMessage::Response(response) => self.replies.writing(&response.id),
            _ => None,
        };
        let sent = self.inner.send(item);
        async move {
            let result = sent.await;
            if let Some(writing) = writing {
                if result.is_ok() {
                    writing.written().await;
                } else {
                    writing.failed();
                }
            }
            result
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inner.receive()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
