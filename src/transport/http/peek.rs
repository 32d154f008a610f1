//! What the bearer check reads of a request before rmcp does: whether its
//! body opens an MCP session (counted against the token's share), whether
//! the request may keep its caller waiting (watched for the token's
//! revocation, see `revoke`), whether it is of the stateless protocol (whose
//! requests have no MCP session, whatever `Mcp-Session-Id` they carry), and
//! the error answered for a body that is not JSON-RPC. Each look is cheap:
//! the name it looks for is searched for first, so other bodies are not
//! parsed again.

use std::borrow::Cow;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, GetMeta, ProtocolVersion};
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

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

/// Whether a request says its body is JSON: `application/json`, with
/// parameters or not (not `application/jsonx`).
pub(super) fn says_json(headers: &HeaderMap) -> bool {
    super::access::header_str(headers, header::CONTENT_TYPE).is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t.strip_prefix("application/json")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
    })
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

/// 400 with the JSON-RPC error for a body rmcp could not read as one
/// JSON-RPC message: `-32700` (parse error) when it is not JSON at all,
/// `-32600` (invalid request) when it is JSON but no JSON-RPC message: a
/// batch (MCP has none since 2025-06-18), a bare value, an object without
/// `"jsonrpc": "2.0"` or a method; `-32602` (invalid params) for a request
/// to a served method whose `params` is not an object. The error names the
/// request's `id` when it has a usable one (a string or a number), else `null`.
pub(super) fn unreadable(body: &[u8]) -> Response {
    if not_json(body) {
        return json_rpc_error(
            serde_json::Value::Null,
            -32700,
            "Parse error: the request body is not JSON; nothing was done",
        );
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let id = usable_id(body);
    if let Some(id) = &id {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        if let Some(method) = crate::mcp::params_not_object(&value) {
            let text = crate::mcp::params_not_object_message(method);
            return json_rpc_error(id.clone(), -32602, &text);
        }
    }
    let text = match first {
        Some(b'[') => {
            "Invalid Request: JSON-RPC batches are not supported (MCP sends one message per request); nothing was done"
        }
        _ => {
            "Invalid Request: the body is JSON but not a JSON-RPC 2.0 request, notification or response; nothing was done"
        }
    };
    json_rpc_error(id.unwrap_or(serde_json::Value::Null), -32600, text)
}

/// The `id` of a JSON object `body` when it is one an answer can carry (a
/// string or a number).
fn usable_id(body: &[u8]) -> Option<serde_json::Value> {
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    // (A struct may be read from an array too: objects only.)
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<Message<'_>>(body)
        .ok()
        .and_then(|m| m.id)
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .filter(|id: &serde_json::Value| id.is_string() || id.is_number())
}

/// 400 with `-32600` for a body that gives a key twice in one object, as
/// on stdio ([`unique_keys`](crate::transport::unique_keys)); none otherwise.
pub(super) fn duplicate_key(method: &Method, body: &[u8]) -> Option<Response> {
    use crate::transport::unique_keys;
    (method == Method::POST && unique_keys::duplicated(body)).then(|| {
        json_rpc_error(
            usable_id(body).unwrap_or(serde_json::Value::Null),
            -32600,
            unique_keys::DUPLICATE_KEY,
        )
    })
}

/// Whether `body` is not JSON, as on stdio (`transport::guard`): a syntax
/// error, invalid UTF-8 (which skipping a string does not check), a number
/// out of range or a lone surrogate escape (which skipping a value does not
/// convert). Nesting deeper than a full parse reads is still JSON.
fn not_json(body: &[u8]) -> bool {
    // Not into a `Value` first: `IgnoredAny` walks nesting without recursing.
    if std::str::from_utf8(body).is_err() || serde_json::from_slice::<IgnoredAny>(body).is_err() {
        return true;
    }
    crate::transport::guard::needs_full_parse(body)
        && serde_json::from_slice::<serde_json::Value>(body)
            .is_err_and(|e| !e.to_string().starts_with("recursion limit exceeded"))
}

/// Whether a request is of the stateless protocol (2026-07-28 on), which
/// has no MCP sessions, as rmcp tells one apart: not an `initialize`, and
/// either its `_meta` carries the whole per-request envelope or the version
/// it names (in `_meta`, else in `MCP-Protocol-Version`) has no
/// `initialize`. The body is parsed only when it or the header may say so.
pub(super) fn stateless(method: &Method, headers: &HeaderMap, body: &[u8]) -> bool {
    let newer = |v: &str| v >= ProtocolVersion::NO_INITIALIZE.as_str();
    let header = headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok());
    if method != Method::POST {
        return header.is_some_and(newer);
    }
    let may = header.is_some_and(newer)
        || memchr::memmem::find(body, b"io.modelcontextprotocol/").is_some()
        || memchr::memmem::find(body, b"\\u").is_some();
    if !may {
        return false;
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(body) {
        Ok(ClientJsonRpcMessage::Request(request)) => {
            if matches!(request.request, ClientRequest::InitializeRequest(_)) {
                return false;
            }
            let meta = request.request.get_meta();
            let envelope = meta
                .missing_required_keys(&ProtocolVersion::NO_INITIALIZE)
                .is_empty();
            envelope
                || meta
                    .protocol_version()
                    .map(|v| newer(v.as_str()))
                    .or(header.map(newer))
                    .unwrap_or(false)
        }
        Ok(_) => header.is_some_and(newer),
        Err(_) => false,
    }
}

/// The id of a stateless `subscriptions/listen` request (see [`stateless`]):
/// it could never hear anything (a stateless request is bound to no
/// conversation), and rmcp acknowledges a listen before the handler can
/// refuse it, so a client took the acknowledgement for a live subscription.
pub(super) fn stateless_listen(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<serde_json::Value> {
    if method != Method::POST
        || (memchr::memmem::find(body, b"subscriptions/listen").is_none()
            && memchr::memmem::find(body, b"\\u").is_none())
        || !stateless(method, headers, body)
    {
        return None;
    }
    match serde_json::from_slice::<ClientJsonRpcMessage>(body) {
        Ok(ClientJsonRpcMessage::Request(request))
            if matches!(
                request.request,
                ClientRequest::SubscriptionsListenRequest(_)
            ) =>
        {
            serde_json::to_value(&request.id).ok()
        }
        _ => None,
    }
}

/// A `200` whose body is the JSON-RPC error `code` answering request `id`
/// (a well-formed request the server refuses, as rmcp answers one).
pub(super) fn json_rpc_refusal(id: serde_json::Value, code: i64, message: &str) -> Response {
    json_rpc_answer(StatusCode::OK, id, code, message)
}

/// A `400` whose body is the JSON-RPC error `code` answering request `id`.
pub(super) fn json_rpc_error(id: serde_json::Value, code: i64, message: &str) -> Response {
    json_rpc_answer(StatusCode::BAD_REQUEST, id, code, message)
}

fn json_rpc_answer(
    status: StatusCode,
    id: serde_json::Value,
    code: i64,
    message: &str,
) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message},
    });
    (
        status,
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
