//! Requests the server cannot use: the stand-in the stdio transport's line
//! guard (`transport::guard`) puts in place of a line that was not usable
//! JSON, and methods nobody serves. Each gets a JSON-RPC error that says
//! what was wrong without echoing client text that could hold a secret.

use rmcp::ErrorData;
use rmcp::model::{CustomRequest, ErrorCode};

/// Method name of the request a transport substitutes for a line that was
/// not usable JSON, with `params.problem` = `parse` or `too_long`.
pub const INVALID_LINE_METHOD: &str = "mcp-bridge/invalid-line";

/// Longest request line a transport accepts, in bytes. The largest legitimate
/// request (a 50 KiB message of escaped characters plus 100 paths of 4096
/// characters) stays well below it.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Methods of the protocol that rmcp parses into typed requests: one that
/// arrives here had params it could not use (`tools/call` without
/// `params.name`), which is invalid params, not an unknown method.
pub const TYPED_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/call",
    "tools/list",
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/get",
    "prompts/list",
    "logging/setLevel",
];

/// For a request that rmcp could not read (`value`): the method, one of
/// [`TYPED_METHODS`], when the request is well formed except that its
/// `params` is not an object. Such a request is answered `-32602` (invalid
/// params) with its id, on stdio and over HTTP alike.
pub fn params_not_object(value: &serde_json::Value) -> Option<&'static str> {
    if value.get("jsonrpc")? != "2.0"
        || value.get("params").is_none_or(serde_json::Value::is_object)
    {
        return None;
    }
    let method = value.get("method")?.as_str()?;
    TYPED_METHODS.iter().copied().find(|m| *m == method)
}

/// The message of the error [`params_not_object`] calls for.
pub fn params_not_object_message(method: &str) -> String {
    format!("invalid params for {method}: `params` must be an object; nothing was done")
}

/// The error for `request`, a method the server does not serve (the line
/// guard's stand-in included).
pub(super) fn refusal(request: &CustomRequest) -> ErrorData {
    if TYPED_METHODS.contains(&request.method.as_str()) {
        return ErrorData::invalid_params(
            format!(
                "invalid params for {}: missing, or not of the shape the method takes (see the schema in tools/list); nothing was done",
                request.method
            ),
            None,
        );
    }
    if request.method != INVALID_LINE_METHOD {
        // The name is client text: echo it (and let rmcp log it) only when
        // it looks like a method name — letters and separators, no digits —
        // never a long or arbitrary string that could hold a secret.
        let plain = request.method.len() <= 64
            && request
                .method
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b"/_.".contains(&b));
        let message = if plain {
            format!("method not found: {}", request.method)
        } else {
            "method not found".to_owned()
        };
        return ErrorData::new(ErrorCode::METHOD_NOT_FOUND, message, None);
    }
    let problem = request
        .params
        .as_ref()
        .and_then(|p| p.get("problem"))
        .and_then(|p| p.as_str());
    match problem {
        Some("too_long") => ErrorData::invalid_request(
            format!("request line longer than {MAX_LINE_BYTES} bytes; nothing was done"),
            None,
        ),
        _ => ErrorData::parse_error(
            "the request is not valid JSON (syntax, invalid UTF-8, a number out of range or nesting too deep); nothing was done",
            None,
        ),
    }
}
