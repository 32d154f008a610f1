//! The one place where failures become MCP answers.
//!
//! Domain failures (`ServiceError`) become tool results with `isError: true`
//! whose one text block reads `<code>: <what happened and what to do>`;
//! schema violations become JSON-RPC `invalid params` errors (SPEC §3).
//!
//! A refused call carries no `structuredContent`: the TypeScript SDK (inside
//! the Inspector, Gemini CLI and most editors) validates structured content
//! against the tool's `outputSchema` even when `isError` is set, and throws a
//! schema error instead of showing ours. The text is not a bare JSON document
//! either, since Gemini CLI turns such text into structured content on its
//! own. Scripts find the same fields as JSON under `_meta` ([`ERROR_META_KEY`]).

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, MetaObject};
use serde_json::json;

use super::params::ArgumentError;
use crate::service::ServiceError;

/// The `_meta` key under which a refused call's `{code, message, …}` travels.
pub const ERROR_META_KEY: &str = "mcp-bridge/error";

/// Why a tool call failed.
#[derive(Debug)]
pub enum ToolFailure {
    /// A domain failure, answered as a tool error.
    Service(ServiceError),
    /// Arguments that break the tool's schema, answered as a JSON-RPC error.
    Arguments {
        /// The tool.
        tool: &'static str,
        /// What is wrong (never echoing a client value).
        error: ArgumentError,
    },
}

impl From<ServiceError> for ToolFailure {
    fn from(e: ServiceError) -> Self {
        ToolFailure::Service(e)
    }
}

impl IntoCallToolResult for ToolFailure {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        match self {
            ToolFailure::Service(e) => {
                let mut body = json!({ "code": e.code(), "message": e.to_string() });
                if let ServiceError::RateLimited {
                    window,
                    limit,
                    retry_after_s,
                } = &e
                {
                    body["retry_after_s"] = json!(retry_after_s);
                    body["window"] = json!(window.as_str());
                    body["limit"] = json!(limit);
                }
                if let ServiceError::MessageTooLarge { size, limit } = &e {
                    body["size"] = json!(size);
                    body["limit"] = json!(limit);
                }
                let text = format!("{}: {}", e.code(), e);
                let mut meta = serde_json::Map::new();
                meta.insert(ERROR_META_KEY.to_owned(), body);
                let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
                result.meta = Some(MetaObject(meta));
                Ok(result.into())
            }
            ToolFailure::Arguments { tool, error } => Err(ErrorData::invalid_params(
                format!("invalid arguments for {tool}: {error}"),
                None,
            )),
        }
    }
}
