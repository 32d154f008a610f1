//! The request ids of calls in progress in each MCP session, so that a
//! client reusing one is refused, as on stdio (`transport::written`): rmcp's
//! session worker keys calls by id, and a second call with the id of one in
//! progress replaced it; the first call's client never got its answer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::response::Response;
use serde_json::value::RawValue;

/// Ids in progress, per session.
#[derive(Debug, Default)]
pub struct CallIds {
    live: Mutex<HashSet<(String, String)>>,
}

/// One id in progress; released when dropped (with the response's body).
#[derive(Debug)]
pub struct CallId {
    ids: Arc<CallIds>,
    key: (String, String),
}

impl Drop for CallId {
    fn drop(&mut self) {
        self.ids.lock().remove(&self.key);
    }
}

impl CallIds {
    /// Claims the id of the request `body` in `session`: `Ok(None)` when the
    /// body is not a request (a notification, a response), `Err` with the id
    /// when a call with it is still in progress there.
    pub fn claim(
        self: &Arc<Self>,
        session: &str,
        id: Option<String>,
    ) -> Result<Option<CallId>, String> {
        let Some(id) = id else {
            return Ok(None);
        };
        let key = (session.to_owned(), id);
        if !self.lock().insert(key.clone()) {
            return Err(key.1);
        }
        Ok(Some(CallId {
            ids: Arc::clone(self),
            key,
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
        let ids = Arc::new(CallIds::default());
        let first = ids.claim("s", Some("7".into())).expect("free");
        assert_eq!(ids.claim("s", Some("7".into())).err().as_deref(), Some("7"));
        assert!(
            ids.claim("other", Some("7".into()))
                .expect("another session")
                .is_some()
        );
        assert!(
            ids.claim("s", Some("\"7\"".into()))
                .expect("a string id")
                .is_some()
        );
        drop(first);
        assert!(
            ids.claim("s", Some("7".into()))
                .expect("released")
                .is_some()
        );
    }
}
