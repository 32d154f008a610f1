//! Calling tools on a connected client and reading what they answered: a
//! success's structured content (checked against its text copy), a tool
//! error's code and message, a JSON-RPC error.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ErrorCode};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde_json::Value;

/// Calls `tool`, returning rmcp's answer as is (JSON-RPC errors included).
pub async fn try_call(
    peer: &Peer<RoleClient>,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(map) = args else {
        panic!("tool arguments must be a JSON object: {args}")
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(map);
    tokio::time::timeout(Duration::from_secs(90), peer.call_tool(params))
        .await
        .expect("tool call timed out")
}

/// Calls `tool`; a JSON-RPC error fails the test.
pub async fn call(peer: &Peer<RoleClient>, tool: &str, args: Value) -> CallToolResult {
    match try_call(peer, tool, args).await {
        Ok(result) => result,
        Err(e) => panic!("{tool}: JSON-RPC error {e}"),
    }
}

/// The structured result of a successful call; checks the text copy too.
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "expected success, got {result:?}"
    );
    structured(result)
}

/// The text blocks of a result.
fn texts(result: &CallToolResult) -> Vec<&str> {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.as_str())
        .collect()
}

/// The `{code, message, …}` a refused call carries under `_meta`.
fn error_meta(result: &CallToolResult) -> Option<&Value> {
    result
        .meta
        .as_ref()
        .and_then(|m| m.0.get("mcp-bridge/error"))
}

/// The code of a refused call (`None` for a success), for races whose
/// outcome is one of several.
pub fn refusal_code(result: &CallToolResult) -> Option<String> {
    (result.is_error == Some(true)).then(|| {
        error_meta(result)
            .and_then(|e| e["code"].as_str())
            .unwrap_or("(no code)")
            .to_owned()
    })
}

/// The structured content of a result, checked against its text copy.
pub fn structured(result: &CallToolResult) -> Value {
    let body = result
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("no structuredContent in {result:?}"));
    assert!(
        body.is_object(),
        "structuredContent is not an object: {body}"
    );
    let texts = texts(result);
    assert_eq!(texts.len(), 1, "expected one text copy in {result:?}");
    let copy: Value = serde_json::from_str(texts[0])
        .unwrap_or_else(|e| panic!("text copy is not JSON ({e}): {}", texts[0]));
    assert_eq!(copy, body, "the text copy differs from structuredContent");
    body
}

/// The error of a refused call as `{code, message, …}` (from `_meta`),
/// checking `isError`, the code, that no `structuredContent` is sent (it
/// would break clients that validate it against the output schema) and that
/// the one text block reads `<code>: <message>`.
pub fn tool_error(result: &CallToolResult, code: &str) -> Value {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected a tool error {code}, got {result:?}"
    );
    assert!(
        result.structured_content.is_none(),
        "a tool error must not carry structuredContent: {result:?}"
    );
    let body = error_meta(result)
        .cloned()
        .unwrap_or_else(|| panic!("no _meta error in {result:?}"));
    assert_eq!(body["code"], code, "wrong error code in {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message in {body}");
    let texts = texts(result);
    assert_eq!(
        texts,
        [format!("{code}: {message}").as_str()],
        "the error text must name the code and the advice"
    );
    body
}

/// A result's body whatever its outcome: the structured content of a success,
/// or the `{code, message, …}` of a refused call (see [`tool_error`]).
pub fn body(result: &CallToolResult) -> Value {
    if result.is_error == Some(true) {
        let code = error_meta(result)
            .and_then(|e| e["code"].as_str())
            .unwrap_or_else(|| panic!("no error code in {result:?}"))
            .to_owned();
        tool_error(result, &code)
    } else {
        structured(result)
    }
}

/// The error code of a refused call as raw JSON (a `CallToolResult` object
/// read off the wire), if it is one: its `_meta` names the code and its text
/// starts with it.
pub fn raw_error_code(result: &Value) -> Option<&str> {
    if result["isError"] != true || result.get("structuredContent").is_some() {
        return None;
    }
    let code = result["_meta"]["mcp-bridge/error"]["code"].as_str()?;
    let text = result["content"][0]["text"].as_str()?;
    text.starts_with(&format!("{code}: ")).then_some(code)
}

/// Asserts that `answer` is a JSON-RPC `invalid params` error and returns its message.
pub fn invalid_params(answer: Result<CallToolResult, ServiceError>, what: &str) -> String {
    match answer {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(
                e.code,
                ErrorCode::INVALID_PARAMS,
                "{what}: wrong JSON-RPC code in {e:?}"
            );
            e.message.into_owned()
        }
        Err(e) => panic!("{what}: expected a JSON-RPC invalid-params error, got {e}"),
        Ok(r) => panic!("{what}: expected a JSON-RPC invalid-params error, got a result {r:?}"),
    }
}
