//! The request ids of calls in progress in each MCP session, so that a
//! client reusing one is refused, as on stdio (`transport::written`): rmcp's
//! session worker keys calls by id, and a second call with the id of one in
//! progress replaced it; the first call's client never got its answer.
//!
//! Also what a session's later messages tell the pages its calls' replies
//! carry (see `mcp::held`): a cancel gives up the page of the call it names,
//! whether the reply is still being written or already out (the client
//! ignores it), and a new read of an inbox acknowledges the pages written to
//! the session before.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::Method;
use axum::response::Response;
use serde_json::value::RawValue;

use crate::mcp::held::{HeldAcks, SETTLE_FOR_CANCEL};
use crate::service::Bridge;
use crate::store::Store;

/// A call of a session: the session id and the request id, as
/// [`request_id`] writes it.
pub type CallKey = (String, String);

/// Ids in progress, per session, each with whether its client cancelled it.
#[derive(Debug, Default)]
struct CallIds {
    live: Mutex<HashMap<CallKey, Arc<AtomicBool>>>,
}

impl CallIds {
    /// Claims `key`: its cancel flag, or `None` while a call holds it.
    fn claim(&self, key: &CallKey) -> Option<Arc<AtomicBool>> {
        let mut live = self.lock();
        if live.contains_key(key) {
            return None;
        }
        let cancelled = Arc::new(AtomicBool::new(false));
        live.insert(key.clone(), Arc::clone(&cancelled));
        Some(cancelled)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CallKey, Arc<AtomicBool>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The calls of every MCP session here, and the pages their replies carried
/// that wait for a crossing cancel.
pub struct SessionCalls<S: Store> {
    ids: Arc<CallIds>,
    held: Arc<HeldAcks<S, CallKey>>,
}

/// One id in progress; released when dropped (with the response's body).
pub struct SessionCall<S: Store> {
    ids: Arc<CallIds>,
    key: CallKey,
    cancelled: Arc<AtomicBool>,
    held: Arc<HeldAcks<S, CallKey>>,
}

impl<S: Store> Drop for SessionCall<S> {
    fn drop(&mut self) {
        self.ids.lock().remove(&self.key);
    }
}

impl<S: Store> SessionCall<S> {
    /// Holds `page`, written as this call's reply, for a crossing cancel
    /// (see `mcp::held`); gives it up at once if the client cancelled the
    /// call before.
    pub fn written(&self, page: crate::mcp::held::WrittenPage) {
        self.held.hold(self.key.clone(), page);
        // After the hold: a cancel noted meanwhile either set the flag
        // before this load or found the page held (see `SessionCalls::note`).
        if self.cancelled.load(Ordering::SeqCst) {
            self.held.cancelled(&self.key);
        }
    }
}

impl<S: Store> SessionCalls<S> {
    /// Pages acknowledged through `bridge`.
    pub fn new(bridge: Arc<Bridge<S>>) -> Self {
        Self {
            ids: Arc::default(),
            held: HeldAcks::new(bridge),
        }
    }

    /// Claims the id of the request `body` in `session`: `Ok(None)` when the
    /// body is not a request (a notification, a response), `Err` with the id
    /// when a call with it is still in progress there.
    pub fn claim(
        &self,
        session: &str,
        id: Option<String>,
    ) -> Result<Option<SessionCall<S>>, String> {
        let Some(id) = id else {
            return Ok(None);
        };
        let key = (session.to_owned(), id);
        let Some(cancelled) = self.ids.claim(&key) else {
            return Err(key.1);
        };
        Ok(Some(SessionCall {
            ids: Arc::clone(&self.ids),
            key,
            cancelled,
            held: Arc::clone(&self.held),
        }))
    }

    /// What the POST `body` in `session` tells its earlier calls: a cancel
    /// gives up the named call's page (being written, or held); a read of
    /// an inbox acknowledges the session's held pages a moment later, as its
    /// client has moved on (and its read must not find its own last page
    /// leased; it waits for them, see `InFlightPages::settle`).
    pub fn note(&self, session: &str, body: &[u8]) {
        if let Some(id) = cancelled_id(body) {
            let key = (session.to_owned(), id);
            if let Some(flag) = self.ids.lock().get(&key) {
                flag.store(true, Ordering::SeqCst);
            }
            self.held.cancelled(&key);
        } else if super::peek::may_wait(&Method::POST, body) {
            // A cancel sent with this read may come a moment after it.
            let session = session.to_owned();
            self.held
                .acknowledge_after(SETTLE_FOR_CANCEL, move |(s, _)| *s == session);
        }
    }

    /// Acknowledges every held page (the server is stopping).
    pub async fn acknowledge_held(&self) {
        self.held.acknowledge_all().await;
    }
}

/// The id a `notifications/cancelled` body names, as [`request_id`] writes
/// ids. The method's name (or an escape) is looked for first.
fn cancelled_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow, rename = "requestId")]
        request_id: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
        #[serde(borrow)]
        id: Option<&'a RawValue>,
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    if memchr::memmem::find(body, b"cancelled").is_none()
        && memchr::memmem::find(body, b"\\u").is_none()
    {
        return None;
    }
    let message: Message<'_> = serde_json::from_slice(body).ok()?;
    if message.method.as_deref() != Some("notifications/cancelled") || message.id.is_some() {
        return None;
    }
    let id: serde_json::Value = serde_json::from_str(message.params?.request_id?.get()).ok()?;
    Some(id.to_string())
}

/// The id of a JSON-RPC request (a message with a method and an id), as
/// decoded and written again (`7` and `"7"` are different ids; `"\u0037"`
/// and `"7"` are the same one, as rmcp reads them).
pub fn request_id(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
        // Borrowed when it can be: a name written with escapes is a method too.
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let message: Message<'_> = serde_json::from_slice(body).ok()?;
    message.method?;
    let id = message.id?;
    let decoded: serde_json::Value = serde_json::from_str(id.get()).ok()?;
    Some(decoded.to_string())
}

/// The answer to a request reusing the id of a call in progress.
pub fn reused(id: &str) -> Response {
    let id: serde_json::Value = serde_json::from_str(id).unwrap_or(serde_json::Value::Null);
    super::peek::json_rpc_error(
        id,
        -32600,
        "a call with this request id is still in progress in this session; use a new id (nothing was done)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_methods_written_with_escapes_are_the_same_ones() {
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","id":"\u0037","method":"p\u0069ng"}"#),
            request_id(br#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#)
        );
        assert_ne!(
            request_id(br#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#),
            request_id(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#)
        );
    }

    #[test]
    fn a_cancel_names_the_id_as_requests_do() {
        let cancel = |params: &str| {
            cancelled_id(
                format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{params}}}"#
                )
                .as_bytes(),
            )
        };
        assert_eq!(
            cancel(r#"{"requestId":7}"#),
            request_id(br#"{"id":7,"method":"p"}"#)
        );
        assert_eq!(
            cancel(r#"{"requestId":"\u0037"}"#).as_deref(),
            Some("\"7\"")
        );
        assert_eq!(cancel(r#"{"reason":"no id"}"#), None);
        assert_eq!(
            cancelled_id(br#"{"jsonrpc":"2.0","id":1,"method":"notifications/cancelled","params":{"requestId":7}}"#),
            None,
            "a request, not the notification"
        );
        assert_eq!(
            cancelled_id(br#"{"method":"tools/call","params":{"requestId":7}}"#),
            None
        );
    }

    #[test]
    fn only_requests_have_ids_and_an_id_is_held_once_per_session() {
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).as_deref(),
            Some("7")
        );
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","id":"7","method":"ping"}"#).as_deref(),
            Some("\"7\"")
        );
        assert_eq!(
            request_id(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            None
        );
        assert_eq!(request_id(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#), None);
        assert_eq!(request_id(b"not json"), None);
        let ids = CallIds::default();
        let key = |s: &str, id: &str| (s.to_owned(), id.to_owned());
        assert!(ids.claim(&key("s", "7")).is_some(), "free");
        assert!(ids.claim(&key("s", "7")).is_none(), "held");
        assert!(ids.claim(&key("other", "7")).is_some(), "another session");
        assert!(ids.claim(&key("s", "\"7\"")).is_some(), "a string id");
        ids.lock().remove(&key("s", "7"));
        assert!(ids.claim(&key("s", "7")).is_some(), "released");
    }
}
