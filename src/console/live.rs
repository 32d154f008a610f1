//! Live updates: one watcher task per console follows the store's change
//! feed (which wakes on every committed message, from any process, and on a
//! short fallback interval for everything else), reads what is new since it
//! last looked — audit records by sequence number, then the conversations
//! and YOLO state those records touched — and broadcasts one event per
//! committed message, status change, read change, proposal or activation
//! change, and audit record. Server-Sent Events streams subscribe to it.
//!
//! Events are differences from the watcher's baseline, so a stream opens
//! only once the baseline is taken: a change committed between a
//! subscription and a later baseline would be folded into it and never
//! announced. When the watcher restarts (a storage failure), changes made
//! while it was down are folded into its new baseline the same way, so every
//! open stream is told `lagged` and reloads.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use super::{Backend, json as view};
use crate::domain::{ConversationId, Side, Timestamp};
use crate::service::{Bridge, ServiceError};
use crate::store::{ConversationRecord, ConversationSummary, ProposalState};

/// Audit records read per poll; more wait for the next turn of the loop.
const AUDIT_BATCH: u32 = 500;
/// Events a slow subscriber may fall behind before it misses some.
const CHANNEL_CAPACITY: usize = 1024;
/// How long a new stream waits for the watcher's baseline before it is
/// refused (the database is unreachable, or very slow to answer).
const READY_WAIT: Duration = Duration::from_secs(10);
/// The longest pause before the watcher tries again after a failure.
const MAX_RESTART_PAUSE: Duration = Duration::from_secs(60);

/// One change, ready to send.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// `message`, `status`, `read`, `conversation` (the overview line after
    /// any of those), `proposal`, `activation`, `audit`, or `lagged` (to
    /// every stream: reload, some changes were not announced).
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
    /// Whether the watcher holds a baseline to announce changes against.
    ready: watch::Receiver<bool>,
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
        let (ready_tx, ready) = watch::channel(false);
        let live = Self {
            tx: tx.clone(),
            ready,
        };
        tokio::spawn(async move {
            let mut watcher = Watcher {
                bridge,
                tx,
                ready: ready_tx,
                restarted: false,
                seq: 0,
                seen: HashMap::new(),
                settling: HashMap::new(),
                proposals: HashMap::new(),
                activations: HashMap::new(),
            };
            // A failure that comes back at once (a stored value that does
            // not open) is retried ever more slowly, not logged every second.
            let mut pause = Duration::from_secs(1);
            loop {
                let started = tokio::time::Instant::now();
                match watcher.run().await {
                    Ok(()) => return,
                    Err(e) => {
                        watcher.ready.send_replace(false);
                        watcher.restarted = true;
                        if started.elapsed() > MAX_RESTART_PAUSE {
                            pause = Duration::from_secs(1);
                        }
                        tracing::warn!(error = %e.logged(), retry_in_s = pause.as_secs(), "console live updates stopped; restarting");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_RESTART_PAUSE);
                    }
                }
            }
        });
        live
    }

    /// A new subscription, once the watcher holds its baseline (so every
    /// change committed from now on is announced to it); `None` when that
    /// takes longer than [`READY_WAIT`].
    pub async fn subscribe(&self) -> Option<broadcast::Receiver<Arc<LiveEvent>>> {
        let mut ready = self.ready.clone();
        let waited = tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await;
        matches!(waited, Ok(Ok(_))).then(|| self.tx.subscribe())
    }
}

struct Watcher<S: Backend> {
    bridge: Arc<Bridge<S>>,
    tx: broadcast::Sender<Arc<LiveEvent>>,
    ready: watch::Sender<bool>,
    /// Whether a baseline was lost to a failure (streams then reload).
    restarted: bool,
    seq: i64,
    seen: HashMap<ConversationId, Seen>,
    /// Conversations read again on every wake until then: a page is
    /// acknowledged (read) a moment after its reader's audit record (see
    /// `mcp::held`), and an acknowledgement writes no record of its own.
    settling: HashMap<ConversationId, tokio::time::Instant>,
    proposals: HashMap<String, ProposalState>,
    activations: HashMap<String, (String, i64)>,
}

/// How long a conversation touched by an audit record is read again on
/// every wake of the change feed (which wakes at least once a second).
const SETTLING: Duration = Duration::from_secs(3);

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
        // Subscriptions wait for this point: they subscribe after it, so a
        // stream sees every change the watcher finds from here on.
        self.ready.send_replace(true);
        if std::mem::take(&mut self.restarted) {
            self.emit("lagged", None, json!({ "missed": null }));
        }
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
            let now = tokio::time::Instant::now();
            self.settling.retain(|_, until| *until > now);
            for id in &dirty {
                self.settling.insert(id.clone(), now + SETTLING);
            }
            dirty.extend(self.settling.keys().cloned());
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

/// Asks whether the stream's caller may still read: its session is open,
/// its token unrevoked. `false` on a storage failure too (the browser
/// reconnects, and is let in again if it still may).
pub type StillAllowed =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// How often a stream asks [`StillAllowed`] when nothing announced a
/// sign-out or a revocation (a session also ends when it expires).
const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Audit actions after which some stream may no longer be allowed: a
/// stream asks again before it passes on anything committed after them.
const ENDS_ACCESS: [&str; 2] = ["console token revoke", "console sign_out"];

/// An SSE response of every live event, or only those of `conversation`,
/// for a subscription from [`Live::subscribe`]. The caller was allowed when
/// it opened; `allowed` is asked again after every sign-out or token
/// revocation and every [`RECHECK_EVERY`], and the stream ends with an
/// `ended` event once it says no, so a revoked token or a signed-out
/// session stops receiving agent text at once.
pub fn stream(
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    conversation: Option<ConversationId>,
    allowed: StillAllowed,
    slot: super::guard::StreamSlot,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    struct State {
        rx: broadcast::Receiver<Arc<LiveEvent>>,
        filter: Option<String>,
        allowed: StillAllowed,
        recheck_at: tokio::time::Instant,
        ended: bool,
        /// Counts this stream against its token's cap until it is dropped.
        _slot: super::guard::StreamSlot,
    }
    let state = State {
        rx,
        filter: conversation.map(|c| c.as_str().to_owned()),
        allowed,
        recheck_at: tokio::time::Instant::now() + RECHECK_EVERY,
        ended: false,
        _slot: slot,
    };
    let ended = || {
        SseEvent::default()
            .event("ended")
            .data(json!({ "reason": "signed out, session expired or token revoked" }).to_string())
    };
    let events = futures_util::stream::unfold(state, move |mut st| async move {
        if st.ended {
            return None;
        }
        loop {
            let received = tokio::select! {
                r = st.rx.recv() => r,
                () = tokio::time::sleep_until(st.recheck_at) => {
                    st.recheck_at = tokio::time::Instant::now() + RECHECK_EVERY;
                    if (st.allowed)().await {
                        continue;
                    }
                    st.ended = true;
                    return Some((Ok(ended()), st));
                }
            };
            match received {
                Ok(event) => {
                    // Before the filter: a revocation concerns no conversation.
                    if event.kind == "audit"
                        && event.data["action"]
                            .as_str()
                            .is_some_and(|a| ENDS_ACCESS.contains(&a))
                        && !(st.allowed)().await
                    {
                        st.ended = true;
                        return Some((Ok(ended()), st));
                    }
                    if st.filter.is_some()
                        && event.conversation != st.filter
                        && event.kind != "lagged"
                    {
                        continue;
                    }
                    let sse = SseEvent::default()
                        .event(event.kind)
                        .data(event.data.to_string());
                    return Some((Ok(sse), st));
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // What was missed may have been a revocation.
                    if !(st.allowed)().await {
                        st.ended = true;
                        return Some((Ok(ended()), st));
                    }
                    // Tell the client it missed some, so it reloads.
                    let sse = SseEvent::default()
                        .event("lagged")
                        .data(json!({ "missed": n }).to_string());
                    return Some((Ok(sse), st));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::domain::ActionType;
    use crate::service::{Addressing, SendToPartner, SessionCredentials};
    use crate::store::sqlite::OpenMode;

    /// A change committed right after a stream subscribed is announced even
    /// when the watcher had not taken its baseline yet: the subscription
    /// waits for it. (It used to subscribe at once, and the baseline then
    /// folded the change in silently: a console test missed a message under
    /// load.)
    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_opened_at_start_misses_no_change() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            crate::config::Config::load(None, std::iter::empty::<(String, String)>()).unwrap();
        let app = App::open(&dir.path().join("bridge.db"), config, OpenMode::Create).unwrap();
        let live = Live::start(Arc::clone(&app.bridge));
        let mut rx = live.subscribe().await.expect("the watcher's baseline");
        // Committed on another thread while this one blocks: the watcher
        // cannot run in between, as under a heavily loaded machine.
        let bridge = Arc::clone(&app.bridge);
        let conversation = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let created = bridge
                    .create_conversation("writer", "reader")
                    .await
                    .unwrap();
                let creds = SessionCredentials {
                    conversation: created.conversation.clone(),
                    side: Side::A,
                    token: created.token_a,
                };
                let send = SendToPartner {
                    message: "hello".into(),
                    action_type: ActionType::Info,
                    files_involved: Vec::new(),
                    to: Addressing::Everyone,
                };
                bridge
                    .send_message(&creds, send, "send_to_partner")
                    .await
                    .unwrap();
                created.conversation
            })
        })
        .join()
        .unwrap();
        let message = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let event = rx.recv().await.expect("live events");
                if event.kind == "message" {
                    return event;
                }
            }
        })
        .await
        .expect("the message is announced");
        assert_eq!(message.conversation.as_deref(), Some(conversation.as_str()));
        assert_eq!(message.data["content"], "hello");
    }
}
