//! The one place where failures become MCP answers.
//!
//! Domain failures (`ServiceError`) become tool results with `isError: true`,
//! a text the model can act on and a structured `{code, message, …}`; schema
//! violations become JSON-RPC `invalid params` errors (SPEC §3).

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult};
use serde_json::json;

use super::params::ArgumentError;
use crate::service::ServiceError;

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
                    ..
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
                Ok(CallToolResult::structured_error(body).into())
            }
            ToolFailure::Arguments { tool, error } => Err(ErrorData::invalid_params(
                format!("invalid arguments for {tool}: {error}"),
                None,
            )),
        }
    }
}
