//! Gemini CLI (checked against `@google/gemini-cli` 0.61.0).
//!
//! - User scope: `mcpServers` in `~/.gemini/settings.json`, with
//!   `$GEMINI_CLI_HOME` in place of the home directory when it is set.
//! - Project scope: `.gemini/settings.json` in the directory Gemini CLI starts
//!   in; ignored when that directory is the home directory, and skipped in
//!   untrusted folders when folder trust is on.
//! - Both files may hold `//` and `/* */` comments (the CLI strips them).
//! - Entry: `command`, `args`, optional `env`, `timeout` in milliseconds
//!   (default 600 000), `trust` (skip confirmations; setup leaves it to you).

use std::path::PathBuf;

use serde_json::{Value, json};

use super::launch::{Launch, TOOL_TIMEOUT_S};
use super::merge::Format;
use super::{ClientSpec, Places, Scope};

/// Gemini CLI's tool-call timeout when `timeout` is not set.
const DEFAULT_TIMEOUT_MS: u64 = 600_000;

/// How setup configures Gemini CLI.
pub const SPEC: ClientSpec = ClientSpec {
    label: "Gemini CLI",
    arg: "gemini",
    format: Format::Json { comments: true },
    servers_key: "mcpServers",
    // Keys of Gemini CLI's remote server entries.
    conflicting: &["url", "httpUrl", "headers", "tcp", "type"],
    path,
    fields,
    timeout_s,
    check: "gemini mcp list",
    notes,
    local_table: None,
    reads_parent_projects: false,
};

fn path(scope: Scope, places: &Places) -> anyhow::Result<PathBuf> {
    let home = places
        .var("GEMINI_CLI_HOME")
        .unwrap_or_else(|| places.home.clone());
    Ok(match scope {
        Scope::User => home.join(".gemini").join("settings.json"),
        Scope::Project => {
            if places.project_is(&home) {
                anyhow::bail!(
                    "Gemini CLI ignores project settings in the home directory; use --scope user, or run setup in the project's directory"
                );
            }
            places.project.join(".gemini").join("settings.json")
        }
    })
}

fn fields(launch: &Launch) -> Vec<(&'static str, Value)> {
    vec![
        ("command", json!(launch.command)),
        ("args", json!(launch.args)),
        ("timeout", json!(TOOL_TIMEOUT_S * 1000)),
    ]
}

fn timeout_s(entry: &Value) -> u64 {
    entry
        .get("timeout")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TIMEOUT_MS)
        / 1000
}

fn notes(scope: Scope, _places: &Places) -> Vec<String> {
    match scope {
        Scope::User => Vec::new(),
        Scope::Project => vec![
            "Gemini CLI skips project settings in folders it does not trust; trust this folder when it asks (or set GEMINI_CLI_TRUST_WORKSPACE=true).".to_owned(),
        ],
    }
}
