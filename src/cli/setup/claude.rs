//! Claude Code (checked against `@anthropic-ai/claude-code` 2.1.197).
//!
//! - User scope: `mcpServers` at the top of `~/.claude.json`, or of
//!   `$CLAUDE_CONFIG_DIR/.claude.json` when that variable is set (and the
//!   legacy `.config.json` in the config directory when it exists).
//! - Project scope: `mcpServers` in `.mcp.json` in the current directory (as
//!   `claude mcp add -s project` writes it); Claude Code also reads the
//!   `.mcp.json` of each directory above, up to the git root, and asks once
//!   per project before it starts servers from these files.
//! - Entry: `type: "stdio"`, `command`, `args`, optional `env`, and `timeout`,
//!   the per-server tool-call timeout in milliseconds, which overrides the
//!   `MCP_TOOL_TIMEOUT` variable for this server only. Without either the
//!   tool-call timeout is 100 000 000 ms (about 28 hours).

use std::path::PathBuf;

use serde_json::{Value, json};

use super::launch::{Launch, TOOL_TIMEOUT_S};
use super::merge::Format;
use super::{ClientSpec, Places, Scope};

/// Claude Code's tool-call timeout when neither `timeout` nor `MCP_TOOL_TIMEOUT` is set.
const DEFAULT_TIMEOUT_MS: u64 = 100_000_000;

/// How setup configures Claude Code.
pub const SPEC: ClientSpec = ClientSpec {
    label: "Claude Code",
    arg: "claude-code",
    format: Format::Json { comments: false },
    servers_key: "mcpServers",
    // Keys of Claude Code's remote (http/sse/ws) server entries.
    conflicting: &["url", "headers", "headersHelper", "oauth"],
    path,
    fields,
    timeout_s,
    check: "claude mcp list",
    notes,
    local_table: Some("projects"),
    reads_parent_projects: true,
};

fn path(scope: Scope, places: &Places) -> anyhow::Result<PathBuf> {
    Ok(match scope {
        Scope::Project => places.project.join(".mcp.json"),
        Scope::User => {
            let dir = places.var("CLAUDE_CONFIG_DIR");
            let legacy = dir
                .clone()
                .unwrap_or_else(|| places.home.join(".claude"))
                .join(".config.json");
            if legacy.is_file() {
                legacy
            } else {
                dir.unwrap_or_else(|| places.home.clone())
                    .join(".claude.json")
            }
        }
    })
}

fn fields(launch: &Launch) -> Vec<(&'static str, Value)> {
    vec![
        ("type", json!("stdio")),
        ("command", json!(launch.command)),
        ("args", json!(launch.args)),
        ("timeout", json!(TOOL_TIMEOUT_S * 1000)),
    ]
}

/// Values under 1000 ms are ignored by Claude Code (it falls back to the default).
fn timeout_s(entry: &Value) -> u64 {
    let ms = entry
        .get("timeout")
        .and_then(Value::as_u64)
        .filter(|ms| *ms >= 1000)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    ms / 1000
}

fn notes(scope: Scope, _places: &Places) -> Vec<String> {
    match scope {
        Scope::User => Vec::new(),
        Scope::Project => vec![
            "Claude Code asks once, when it next starts in this project, whether to use the servers in .mcp.json; answer yes for `bridge`.".to_owned(),
        ],
    }
}
