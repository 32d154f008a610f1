//! The clients' own lists that keep a configured server from starting, for
//! `doctor`: Claude Code's `disabledMcpServers` (what `/mcp` writes when a
//! server is switched off in a project) and `disabledMcpjsonServers` (a
//! project server the user rejected), Gemini CLI's `mcp.excluded` and
//! `mcp.allowed` (and their older names). An entry such a list stops looks
//! perfectly good in its own file, so `doctor` said ok. Reads only.

use std::path::Path;

use serde_json::Value;

use super::merge::{self, Format};
use super::{Client, Places, Scope};

/// A list of the client's that keeps a server from starting.
#[derive(Debug)]
pub struct Blocked {
    /// Which list, in which file, and what it does to the server.
    pub why: String,
    /// What to change.
    pub fix: String,
}

/// Why `client` will not start the server `name` found at `scope`, if a
/// list of its own says so.
pub fn blocked(client: Client, places: &Places, scope: Scope, name: &str) -> Option<Blocked> {
    match client {
        Client::ClaudeCode => claude(places, scope, name),
        Client::Gemini => gemini(places, name),
        Client::Codex => None,
    }
}

fn claude(places: &Places, scope: Scope, name: &str) -> Option<Blocked> {
    let spec = Client::ClaudeCode.spec();
    let format = spec.format;
    let user = (spec.path)(Scope::User, places).ok()?;
    // Claude Code keeps these per project directory in its user file, keyed
    // by the directory it was started in or the git root above it.
    let mut keys = vec!["disabledMcpServers"];
    if scope == Scope::Project {
        keys.push("disabledMcpjsonServers");
    }
    for dir in places.project_dirs() {
        let dir = dir.to_string_lossy();
        for key in &keys {
            let named = list(format, &user, &["projects", &dir, key]);
            if named.is_some_and(|l| l.contains(&name.to_owned())) {
                return Some(Blocked {
                    why: format!(
                        "Claude Code's `{key}` for {dir} in {} names it, so Claude Code does not start it there",
                        user.display()
                    ),
                    fix: format!(
                        "enable it in Claude Code's /mcp menu, or remove \"{name}\" from that list"
                    ),
                });
            }
        }
    }
    if scope != Scope::Project {
        return None;
    }
    let user_dir = places
        .var("CLAUDE_CONFIG_DIR")
        .unwrap_or_else(|| places.home.join(".claude"));
    let mut settings = vec![user_dir.join("settings.json")];
    for root in places.project_roots() {
        settings.push(root.join(".claude/settings.json"));
        settings.push(root.join(".claude/settings.local.json"));
    }
    settings.into_iter().find_map(|file| {
        list(format, &file, &["disabledMcpjsonServers"])
            .is_some_and(|l| l.contains(&name.to_owned()))
            .then(|| Blocked {
                why: format!(
                    "`disabledMcpjsonServers` in {} names it: Claude Code rejected this project server",
                    file.display()
                ),
                fix: format!(
                    "remove \"{name}\" from that list; Claude Code then asks again whether to use it"
                ),
            })
    })
}

fn gemini(places: &Places, name: &str) -> Option<Blocked> {
    let spec = Client::Gemini.spec();
    let files: Vec<_> = [Scope::Project, Scope::User]
        .into_iter()
        .filter_map(|scope| (spec.path)(scope, places).ok())
        .collect();
    // Each list under its current name, else its name before settings v2.
    let lists = |keys: [&[&str]; 2]| {
        files
            .iter()
            .filter_map(|file| {
                keys.iter().find_map(|key| {
                    let items = list(spec.format, file, key)?;
                    Some((key.join("."), file, items))
                })
            })
            .collect::<Vec<_>>()
    };
    let name_s = name.to_owned();
    // An exclusion in either file counts (taken as a union, the cautious
    // reading); for the allow-list the project's replaces the user's.
    let excluded = lists([&["mcp", "excluded"], &["excludeMCPServers"]]);
    if let Some((key, file, _)) = excluded
        .into_iter()
        .find(|(_, _, items)| items.contains(&name_s))
    {
        return Some(Blocked {
            why: format!(
                "Gemini CLI's `{key}` in {} names it, so Gemini CLI does not start it",
                file.display()
            ),
            fix: format!("remove \"{name}\" from that list"),
        });
    }
    let allowed = lists([&["mcp", "allowed"], &["allowMCPServers"]]);
    if let Some((key, file, items)) = allowed.into_iter().next()
        && !items.is_empty()
        && !items.contains(&name_s)
    {
        return Some(Blocked {
            why: format!(
                "Gemini CLI's `{key}` in {} leaves it out, so Gemini CLI starts only the servers it lists",
                file.display()
            ),
            fix: format!("add \"{name}\" to that list"),
        });
    }
    None
}

/// The strings of the array at `keys` in `file`; `None` when the file, the
/// key or the array is missing or unreadable (the file's own check reports that).
fn list(format: Format, file: &Path, keys: &[&str]) -> Option<Vec<String>> {
    let text = crate::cli::input::read_client_config(file).ok()?;
    match merge::lookup(format, &text, keys) {
        Ok(Some(Value::Array(items))) => Some(
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}
