//! What the bearer check reads of a request before rmcp does: whether its
//! body opens an MCP session (counted against the token's share), whether
//! the request may keep its caller waiting (watched for the token's
//! revocation, see `revoke`), and the parse error answered for a body that
//! is not JSON-RPC. Each look is cheap: the name it looks for is searched for
//! first, so other bodies are not parsed again.

use std::borrow::Cow;

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Whether a request body is an `initialize`, which opens an MCP session
/// when it carries no session id. The name (or an escape, which may spell
/// it: `"\u0069nitialize"`) is looked for first.
pub(super) fn opens_a_session(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
    }
    (memchr::memmem::find(body, b"initialize").is_some()
        || memchr::memmem::find(body, b"\\u").is_some())
        && serde_json::from_slice::<Message>(body)
            .is_ok_and(|m| m.method.as_deref() == Some("initialize"))
}

/// Whether a request may hold its caller for long: a `GET` (an MCP
/// session's SSE stream, or a response stream resumed) or a call of
/// `check_messages` (a long-poll). Every other call answers at once.
pub(super) fn may_wait(method: &Method, body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        name: Option<Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    if method == Method::GET {
        return true;
    }
    if method != Method::POST
        || (memchr::memmem::find(body, b"check_messages").is_none()
            && memchr::memmem::find(body, b"\\u").is_none())
    {
        return false;
    }
    serde_json::from_slice::<Message>(body).is_ok_and(|m| {
        m.method.as_deref() == Some("tools/call")
            && m.params.and_then(|p| p.name).as_deref() == Some("check_messages")
    })
}

/// 400 with a JSON-RPC parse error: the body was not a JSON-RPC message.
pub(super) fn parse_error() -> Response {
    json_rpc_error(
        serde_json::Value::Null,
        -32700,
        "the request body is not a JSON-RPC message (invalid JSON, or not a request, notification or response); nothing was done",
    )
}

/// A `400` whose body is the JSON-RPC error `code` answering request `id`.
pub(super) fn json_rpc_error(id: serde_json::Value, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::{may_wait, opens_a_session};

    #[test]
    fn an_initialize_is_known_however_its_name_is_written() {
        assert!(opens_a_session(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(opens_a_session(
            br#"{"jsonrpc":"2.0","id":1,"method":"\u0069nitialize","params":{}}"#
        ));
        assert!(!opens_a_session(
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"initialize"}}"#
        ));
    }

    #[test]
    fn long_polls_and_streams_may_wait_other_calls_do_not() {
        let call = |name: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#
            )
        };
        assert!(may_wait(&Method::POST, call("check_messages").as_bytes()));
        assert!(may_wait(
            &Method::POST,
            call("check\\u005fmessages").as_bytes()
        ));
        assert!(may_wait(&Method::GET, b""));
        assert!(!may_wait(&Method::POST, call("send_to_partner").as_bytes()));
        assert!(!may_wait(
            &Method::POST,
            br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"name":"check_messages"}}"#
        ));
        assert!(!may_wait(&Method::DELETE, b""));
        assert!(!may_wait(&Method::POST, b"check_messages, not JSON"));
    }
}
