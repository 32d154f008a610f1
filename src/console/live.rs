//! Live updates: one watcher task per console follows the store's change
//! feed (which wakes on every committed message, from any process, and on a
//! short fallback interval for everything else), reads what is new since it
//! last looked — audit records by sequence number, then the conversations
//! and YOLO state those records touched — and broadcasts one event per
//! committed message, status change, read change, proposal or activation
//! change, and audit record. Server-Sent Events streams subscribe to it.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{Backend, json as view};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::service::{Bridge, ServiceError};
use crate::store::{ConversationRecord, ConversationSummary, ProposalState};

/// Audit records read per poll; more wait for the next turn of the loop.
const AUDIT_BATCH: u32 = 500;
/// Events a slow subscriber may fall behind before it misses some.
const CHANNEL_CAPACITY: usize = 1024;

/// One change, ready to send.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// `message`, `status`, `read`, `conversation` (the overview line after
    /// any of those), `proposal`, `activation` or `audit`.
    pub kind: &'static str,
    /// The conversation concerned, for per-conversation streams.
    pub conversation: Option<String>,
    /// The event's JSON.
    pub data: Value,
}

/// The broadcast side of the watcher.
#[derive(Debug, Clone)]
pub struct Live {
    tx: broadcast::Sender<Arc<LiveEvent>>,
}

/// What the watcher last saw of one conversation.
#[derive(Debug, Default)]
struct Seen {
    last_message: i64,
    statuses: HashMap<Side, Option<(String, Option<String>, Timestamp)>>,
    unread: HashMap<i64, Vec<Side>>,
}

impl Live {
    /// Starts the watcher on the current Tokio runtime.
    pub fn start<S: Backend>(bridge: Arc<Bridge<S>>) -> Self {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let live = Self { tx: tx.clone() };
        tokio::spawn(async move {
            let mut watcher = Watcher {
                bridge,
                tx,
                seq: 0,
                seen: HashMap::new(),
                proposals: HashMap::new(),
                activations: HashMap::new(),
            };
            loop {
                match watcher.run().await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "console live updates stopped; restarting");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        live
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }
}

struct Watcher<S: Backend> {
    bridge: Arc<Bridge<S>>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    seq: i64,
    seen: HashMap<ConversationId, Seen>,
    proposals: HashMap<String, ProposalState>,
    activations: HashMap<String, (String, i64)>,
}

impl<S: Backend> Watcher<S> {
    fn emit(&self, kind: &'static str, conversation: Option<&str>, data: Value) {
        // No subscriber is not an error: the state is kept current anyway.
        let _ = self.tx.send(Arc::new(LiveEvent {
            kind,
            conversation: conversation.map(str::to_owned),
            data,
        }));
    }

    /// Takes the current state as the baseline, then follows changes. Returns
    /// only when the console is gone (`Ok`) or on a storage failure.
    async fn run(&mut self) -> Result<(), ServiceError> {
        let mut feed = self.bridge.console_changes();
        feed.mark_seen();
        self.seq = self.bridge.console_audit_head().await?;
        let all = self.bridge.console_all_records().await?;
        self.seen.clear();
        for r in &all {
            self.diff(r, false);
        }
        self.diff_yolo(false).await?;
        loop {
            if self.tx.receiver_count() == 0 && Arc::strong_count(&self.bridge) == 1 {
                return Ok(());
            }
            feed.mark_seen();
            let records = self
                .bridge
                .console_audit_since(self.seq, AUDIT_BATCH)
                .await?;
            let mut dirty = HashSet::new();
            let mut yolo = false;
            for r in &records {
                self.seq = r.seq;
                if let Some(id) = r
                    .draft
                    .conversation
                    .as_deref()
                    .and_then(|c| ConversationId::parse(c).ok())
                {
                    dirty.insert(id);
                }
                let action = r.draft.action.as_str();
                yolo |= action.contains("yolo") || action == "execute_command";
                self.emit("audit", r.draft.conversation.as_deref(), view::audit(r));
            }
            if !dirty.is_empty() {
                let fresh = self
                    .bridge
                    .console_records(dirty.into_iter().collect())
                    .await?;
                for r in &fresh {
                    self.diff(r, true);
                }
            }
            if yolo {
                self.diff_yolo(true).await?;
            }
            if records.len() < AUDIT_BATCH as usize {
                feed.changed().await;
            }
        }
    }

    /// Compares a conversation with what was seen and emits the differences.
    fn diff(&mut self, r: &ConversationRecord, announce: bool) {
        let now = self.bridge.console_now();
        let timeout = self.bridge.console_heartbeat_timeout_s();
        let id = r.conversation.id.as_str().to_owned();
        let mut events = Vec::new();
        let seen = self.seen.entry(r.conversation.id.clone()).or_default();
        for p in &r.conversation.participants {
            let now_status = p
                .status
                .as_ref()
                .map(|s| (s.status.as_str().to_owned(), s.note.clone(), s.updated_at));
            if seen.statuses.get(&p.side) != Some(&now_status) {
                let mut data = view::participant(p, now, timeout);
                data["conversation_id"] = json!(id);
                events.push(("status", data));
                seen.statuses.insert(p.side, now_status);
            }
        }
        for m in &r.messages {
            if m.message.id > seen.last_message {
                let mut data = view::message_record(m);
                data["conversation_id"] = json!(id);
                events.push(("message", data));
                seen.last_message = m.message.id;
            } else if seen.unread.get(&m.message.id) != Some(&m.unread_by) {
                events.push((
                    "read",
                    json!({
                        "conversation_id": id,
                        "message_id": m.message.id,
                        "unread_by": m.unread_by.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    }),
                ));
            }
            seen.unread.insert(m.message.id, m.unread_by.clone());
        }
        if announce && !events.is_empty() {
            for (kind, data) in events {
                self.emit(kind, Some(&id), data);
            }
            // The overview's row, so a page need not fetch (and audit) the list.
            let summary = summarize(r);
            self.emit(
                "conversation",
                Some(&id),
                view::summary(&summary, now, timeout),
            );
        }
    }

    async fn diff_yolo(&mut self, announce: bool) -> Result<(), ServiceError> {
        let now = self.bridge.console_now();
        let (activations, proposals) = self.bridge.console_yolo().await?;
        for a in &activations {
            let conv = a.request.conversation.as_str().to_owned();
            let key = (
                view::activation_state(a, now).to_owned(),
                a.request.requested_at.as_micros(),
            );
            if self.activations.get(&conv) != Some(&key) {
                if announce {
                    self.emit("activation", Some(&conv), view::activation(a, now));
                }
                self.activations.insert(conv, key);
            }
        }
        for p in &proposals {
            if self.proposals.get(&p.id) != Some(&p.state) {
                if announce {
                    self.emit("proposal", Some(p.conversation.as_str()), view::proposal(p));
                }
                self.proposals.insert(p.id.clone(), p.state);
            }
        }
        Ok(())
    }
}

/// The overview line of a conversation read in full.
fn summarize(r: &ConversationRecord) -> ConversationSummary {
    let unread = r
        .conversation
        .participants
        .iter()
        .map(|p| {
            let n = r
                .messages
                .iter()
                .filter(|m| m.unread_by.contains(&p.side))
                .count();
            (p.side, u64::try_from(n).unwrap_or(u64::MAX))
        })
        .collect();
    ConversationSummary {
        conversation: r.conversation.clone(),
        messages: u64::try_from(r.messages.len()).unwrap_or(u64::MAX),
        unread,
        last_message_at: r.messages.last().map(|m| m.message.created_at),
    }
}

/// An SSE response of every live event, or only those of `conversation`.
pub fn stream(
    live: &Live,
    conversation: Option<ConversationId>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    let rx = live.subscribe();
    let filter = conversation.map(|c| c.as_str().to_owned());
    let events = futures_util::stream::unfold((rx, filter), |(mut rx, filter)| async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    if filter.is_some() && event.conversation != filter {
                        continue;
                    }
                    let sse = SseEvent::default()
                        .event(event.kind)
                        .data(event.data.to_string());
                    return Some((Ok(sse), (rx, filter)));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Tell the client it missed some, so it reloads.
                    let sse = SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string());
                    return Some((Ok(sse), (rx, filter)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
