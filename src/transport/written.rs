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
//! the client cancels the call. A cancelled call may still be finishing
//! inside rmcp, under its id, when the client reuses that id; rmcp would
//! then send the cancelled call's reply for the new call and drop the new
//! call's own. So a request reusing a cancelled id reaches rmcp under an id
//! of the bridge's own ([`Reissued`]), and its reply goes out under the
//! client's.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
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
    /// Requests that reached rmcp under another id.
    reissued: Mutex<Reissued>,
}

/// Most cancelled ids remembered as possibly still finishing inside rmcp:
/// a cancelled call ends within moments, and clients cancel rarely.
const CANCELLED_REMEMBERED: usize = 1024;

/// Ids cancelled lately, and the calls that reused one, by the id rmcp
/// knows them under.
#[derive(Default)]
struct Reissued {
    cancelled: HashSet<RequestId>,
    cancelled_order: VecDeque<RequestId>,
    /// rmcp's id → the client's.
    to_client: HashMap<RequestId, RequestId>,
    /// The client's id → rmcp's, for the calls in `to_client`.
    to_rmcp: HashMap<RequestId, RequestId>,
    next: u64,
}

impl Reissued {
    /// Notes that `id`'s call was cancelled: it may still be finishing.
    fn cancelled(&mut self, id: &RequestId) {
        if self.cancelled.insert(id.clone()) {
            self.cancelled_order.push_back(id.clone());
            if self.cancelled_order.len() > CANCELLED_REMEMBERED
                && let Some(oldest) = self.cancelled_order.pop_front()
            {
                self.cancelled.remove(&oldest);
            }
        }
    }

    /// The id rmcp gets for a new request under the client's `id`: the same,
    /// unless a cancelled call may still be finishing under it, or a call of
    /// ours runs under it. `in_use` are the client's ids in progress, which an
    /// id of ours must not be.
    fn for_rmcp(&mut self, id: &RequestId, in_use: &HashSet<RequestId>) -> RequestId {
        if !self.cancelled.contains(id) && !self.to_client.contains_key(id) {
            return id.clone();
        }
        let ours = loop {
            self.next += 1;
            let candidate = RequestId::String(format!("mcp-bridge-reissued-{}", self.next).into());
            if !in_use.contains(&candidate) && !self.to_client.contains_key(&candidate) {
                break candidate;
            }
        };
        self.to_client.insert(ours.clone(), id.clone());
        self.to_rmcp.insert(id.clone(), ours.clone());
        ours
    }

    /// The id rmcp knows the client's `id` under, while its call runs.
    fn rmcp_id(&self, id: &RequestId) -> RequestId {
        self.to_rmcp.get(id).cloned().unwrap_or_else(|| id.clone())
    }

    /// The client's id for rmcp's `id`; the call is over.
    fn finished(&mut self, id: &RequestId) -> RequestId {
        match self.to_client.remove(id) {
            Some(client) => {
                self.to_rmcp.remove(&client);
                client
            }
            None => id.clone(),
        }
    }
}

impl<T, S: Store> ReportWrites<T, S> {
    /// Wraps `inner`.
    pub fn new(inner: T, replies: Arc<WrittenReplies<S>>) -> Self {
        Self {
            inner,
            replies,
            running: Arc::default(),
            reissued: Mutex::default(),
        }
    }

    fn reissued(&self) -> std::sync::MutexGuard<'_, Reissued> {
        self.reissued.lock().unwrap_or_else(|p| p.into_inner())
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
        mut item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let writing = match &mut item {
            JsonRpcMessage::Response(response) => {
                let ours = response.id.clone();
                response.id = self.reissued().finished(&ours);
                // Not running any more: the client cancelled it, and will
                // ignore this reply.
                let answered = self.running().remove(&response.id);
                self.replies
                    .writing(&ours)
                    .map(|w| (w, answered.then_some(ours)))
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &mut error.id {
                    *id = self.reissued().finished(id);
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
            let mut message = self.inner.receive().await?;
            match &mut message {
                JsonRpcMessage::Request(request) => {
                    let fresh = {
                        let mut running = self.running();
                        let fresh = running.insert(request.id.clone());
                        if fresh {
                            request.id = self.reissued().for_rmcp(&request.id, &running);
                        }
                        fresh
                    };
                    if !fresh {
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
                    if let ClientNotification::CancelledNotification(cancel) =
                        &mut note.notification
                        && let Some(id) = &mut cancel.params.request_id
                    {
                        self.running().remove(id);
                        let ours = {
                            let mut reissued = self.reissued();
                            let ours = reissued.rmcp_id(id);
                            reissued.finished(&ours);
                            reissued.cancelled(id);
                            ours
                        };
                        self.replies.cancelled(&ours);
                        *id = ours;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_that_could_meet_a_call_still_in_rmcp_are_reissued() {
        let mut r = Reissued::default();
        let (seven, eight) = (RequestId::Number(7), RequestId::Number(8));
        let in_use = HashSet::from([seven.clone()]);
        assert_eq!(r.for_rmcp(&seven, &in_use), seven);
        r.cancelled(&seven);
        let ours = r.for_rmcp(&seven, &in_use);
        assert_ne!(ours, seven);
        assert_eq!(r.rmcp_id(&seven), ours);
        // A client id that happens to be ours while our call runs is moved too.
        let clash = r.for_rmcp(&ours, &HashSet::new());
        assert_ne!(clash, ours);
        assert_eq!(r.finished(&clash), ours);
        // The reply goes out under the client's id, and the mapping is gone.
        assert_eq!(r.finished(&ours), seven);
        assert_eq!(r.rmcp_id(&seven), seven);
        assert_eq!(r.for_rmcp(&eight, &in_use), eight);
    }

    #[test]
    fn cancelled_ids_are_remembered_within_a_bound() {
        let mut r = Reissued::default();
        for n in 0..(CANCELLED_REMEMBERED as i64 + 10) {
            r.cancelled(&RequestId::Number(n));
        }
        assert_eq!(r.cancelled.len(), CANCELLED_REMEMBERED);
        assert!(!r.cancelled.contains(&RequestId::Number(0)));
        assert!(
            r.cancelled
                .contains(&RequestId::Number(CANCELLED_REMEMBERED as i64 + 9))
        );
    }
}
