//! A transport wrapper that reports each written reply to the server's
//! [`WrittenReplies`], so a leased inbox page is acknowledged only once its
//! response has really been handed to the client (see `mcp::delivery`), and
//! not when the client had cancelled the call: a reply written after the
//! cancel came in, or one the cancel crossed (see `mcp::held`), is ignored by
//! the client, so its page is given up and delivered again.
//!
//! Replies are matched to requests by id, and so is everything inside rmcp
//! (a second request with the id of one still running replaces it, and the
//! first's reply is lost, page and all). So a request whose id is already in
//! use by a call in progress is refused here (`-32600`) and never reaches
//! rmcp; an id becomes free again when its reply or error is sent, or when
//! the client cancels the call.

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{ClientNotification, ClientRequest, ErrorData, JsonRpcMessage, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;

use crate::mcp::delivery::WrittenReplies;
use crate::store::Store;

/// `inner`, acknowledging leased pages after their responses are sent.
pub struct ReportWrites<T, S: Store> {
    inner: T,
    replies: Arc<WrittenReplies<S>>,
    /// Ids of the client's requests not yet answered.
    running: Arc<Mutex<HashSet<RequestId>>>,
}

impl<T, S: Store> ReportWrites<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, replies: Arc<WrittenReplies<S>>) -> Self {
        Self {
            inner,
            replies,
            running: Arc::default(),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<RequestId>> {
        // Single inserts and removes: a poisoned set is still consistent.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
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
            JsonRpcMessage::Response(response) => {
                // Not running any more: the client cancelled it, and will
                // ignore this reply.
                let answered = self.running().remove(&response.id);
                self.replies
                    .writing(&response.id)
                    .map(|w| (w, answered.then(|| response.id.clone())))
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.running().remove(id);
                }
                None
            }
            _ => None,
        };
        let sent = self.inner.send(item);
        async move {
            let result = sent.await;
            match writing {
                Some((writing, Some(id))) if result.is_ok() => writing.written(id),
                Some((writing, _)) => writing.failed(),
                None => {}
            }
            result
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            let message = self.inner.receive().await?;
            match &message {
                JsonRpcMessage::Request(request) => {
                    if !self.running().insert(request.id.clone()) {
                        let refusal = JsonRpcMessage::error(
                            ErrorData::invalid_request(
                                "request id already in use by a call in progress",
                                None,
                            ),
                            Some(request.id.clone()),
                        );
                        if self.inner.send(refusal).await.is_err() {
                            return None;
                        }
                        continue;
                    }
                    // Receipts left under this id by an earlier call that was
                    // cancelled after it took a page: its reply never went out.
                    self.replies.forget(&request.id);
                    if reads_an_inbox(request) {
                        self.replies.reading();
                    }
                }
                JsonRpcMessage::Notification(note) => {
                    if let ClientNotification::CancelledNotification(cancel) = &note.notification
                        && let Some(id) = &cancel.params.request_id
                    {
                        self.running().remove(id);
                        self.replies.cancelled(id);
                    }
                }
                _ => {}
            }
            return Some(message);
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// Whether `request` is a `check_messages` call: its client has moved on
/// from the pages it was sent before (see `WrittenReplies::reading`).
fn reads_an_inbox(request: &rmcp::model::JsonRpcRequest<rmcp::model::ClientRequest>) -> bool {
    matches!(&request.request, ClientRequest::CallToolRequest(call) if call.params.name == "check_messages")
}
