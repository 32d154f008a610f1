//! Codex CLI (checked against `@openai/codex` 0.171.0).
//!
//! - User scope: `[mcp_servers.NAME]` in `~/.codex/config.toml`, or in
//!   `$CODEX_HOME/config.toml` when that variable is set.
//! - Project scope: `.codex/config.toml` in the project, which Codex reads only
//!   for trusted projects (`[projects."/path"] trust_level = "trusted"` in the
//!   user file; Codex asks on its first start in a project).
//! - Entry: `command`, `args`, optional `env`, `tool_timeout_sec` (default 60 s,
//!   shorter than a long-poll plus a YOLO command), `startup_timeout_sec`.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::launch::{Launch, TOOL_TIMEOUT_S};
use super::merge::{self, Format};
use super::{ClientSpec, Places, Scope};

/// Codex's tool-call timeout when `tool_timeout_sec` is not set.
const DEFAULT_TIMEOUT_S: u64 = 60;

/// How setup configures Codex.
pub const SPEC: ClientSpec = ClientSpec {
    label: "Codex",
    arg: "codex",
    format: Format::Toml,
    servers_key: "mcp_servers",
    // Keys of Codex's streamable-HTTP server entries.
    conflicting: &[
        "url",
        "bearer_token",
        "bearer_token_env_var",
        "http_headers",
        "env_http_headers",
    ],
    path,
    fields,
    timeout_s,
    check: "codex mcp list",
    notes,
    local_table: None,
    reads_parent_projects: false,
};

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home(places: &Places) -> PathBuf {
    places
        .var("CODEX_HOME")
        .unwrap_or_else(|| places.home.join(".codex"))
}

fn path(scope: Scope, places: &Places) -> anyhow::Result<PathBuf> {
    let user = codex_home(places).join("config.toml");
    Ok(match scope {
        Scope::User => user,
        Scope::Project => {
            let project = places.project.join(".codex").join("config.toml");
            if same_file(&project, &user) {
                anyhow::bail!(
                    "in the home directory the project file is the user file; use --scope user, or run setup in the project's directory"
                );
            }
            project
        }
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || a.parent()
            .and_then(|d| std::fs::canonicalize(d).ok())
            .is_some_and(|d| Some(d) == b.parent().and_then(|d| std::fs::canonicalize(d).ok()))
}

fn fields(launch: &Launch) -> Vec<(&'static str, Value)> {
    vec![
        ("command", json!(launch.command)),
        ("args", json!(launch.args)),
        ("tool_timeout_sec", json!(TOOL_TIMEOUT_S)),
    ]
}

fn timeout_s(entry: &Value) -> u64 {
    match entry.get("tool_timeout_sec") {
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_f64().map(|f| f as u64))
            .unwrap_or(DEFAULT_TIMEOUT_S),
        None => DEFAULT_TIMEOUT_S,
    }
}

/// Whether the user file marks `project` (or the git root above it) as trusted.
pub fn project_trusted(places: &Places) -> bool {
    let Ok(text) = crate::cli::input::read_client_config(&codex_home(places).join("config.toml"))
    else {
        return false;
    };
    places.project_roots().iter().any(|root| {
        let key = root.to_string_lossy();
        matches!(
            merge::lookup(Format::Toml, &text, &["projects", &key, "trust_level"]),
            Ok(Some(Value::String(level))) if level == "trusted"
        )
    })
}

fn notes(scope: Scope, places: &Places) -> Vec<String> {
    match scope {
        Scope::User => Vec::new(),
        Scope::Project if project_trusted(places) => Vec::new(),
        Scope::Project => vec![format!(
            "Codex reads .codex/config.toml only in trusted projects: trust this project when Codex asks, or add\n    [projects.\"{}\"]\n    trust_level = \"trusted\"\n  to {}",
            places.project.display(),
            codex_home(places).join("config.toml").display()
        )],
    }
}
