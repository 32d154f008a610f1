//! Which client files already start this bridge, for `doctor`: every
//! client's user and project files (and Claude Code's per-project "local"
//! tables), each entry that runs `mcp-bridge serve` with what it runs, its
//! timeout, its `env` and whether the client has switched it off. Reads only.

use std::path::PathBuf;

use serde_json::Value;

use super::launch::Invocation;
use super::{Client, Places, Scope, merge, switches};

/// A client file that exists, and the bridge servers in it.
#[derive(Debug)]
pub struct Found {
    /// The client.
    pub client: Client,
    /// The scope of the file.
    pub scope: Scope,
    /// Whether the entries are Claude Code's "local" ones: this project's
    /// table inside the user file (what `claude mcp add` writes by default).
    pub local: bool,
    /// The file.
    pub path: PathBuf,
    /// The entries that start `mcp-bridge serve`, or why the file could not be read.
    pub entries: Result<Vec<FoundEntry>, String>,
}

/// One server entry that starts `mcp-bridge serve`.
#[derive(Debug)]
pub struct FoundEntry {
    /// Its name in the client.
    pub name: String,
    /// What it runs.
    pub invocation: Invocation,
    /// The tool-call timeout the client gives it, in seconds.
    pub timeout_s: u64,
    /// Whether the entry is switched off (`enabled = false`).
    pub disabled: bool,
    /// Why the client will not start it although it is configured (a list of
    /// servers the client skips names it, or leaves it out), if it will not.
    pub blocked: Option<switches::Blocked>,
    /// The variables the entry adds to the server's environment.
    pub env: EntryEnv,
}

/// An entry's `env`, as `NAME=value` pairs (values that are not strings
/// left out: no client passes them). Values can be API keys, so `Debug`
/// shows the names only.
#[derive(Default)]
pub struct EntryEnv(pub Vec<(String, String)>);

impl EntryEnv {
    fn of(entry: &Value) -> EntryEnv {
        let vars = entry.get("env").and_then(Value::as_object);
        EntryEnv(
            vars.into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect(),
        )
    }
}

impl std::fmt::Debug for EntryEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

/// Where a client keeps a table of servers: a file, and the keys leading to the table.
struct Source {
    scope: Scope,
    local: bool,
    path: PathBuf,
    table: Vec<String>,
}

/// Reads every client's user and project files that exist (and Claude
/// Code's per-project "local" tables in its user file).
pub fn find_configured(places: &Places) -> Vec<Found> {
    let mut found = Vec::new();
    for client in Client::ALL {
        let spec = client.spec();
        let mut sources = Vec::new();
        let mut add = |scope, local, path, table: Vec<String>| {
            sources.push(Source {
                scope,
                local,
                path,
                table,
            });
        };
        let servers = vec![spec.servers_key.to_owned()];
        for scope in [Scope::User, Scope::Project] {
            if let Ok(path) = (spec.path)(scope, places) {
                add(scope, false, path, servers.clone());
            }
        }
        for dir in places.project_dirs() {
            let moved = Places {
                project: dir.clone(),
                ..places.clone()
            };
            if spec.reads_parent_projects
                && dir != places.project
                && let Ok(path) = (spec.path)(Scope::Project, &moved)
            {
                add(Scope::Project, false, path, servers.clone());
            }
            if let (Some(key), Ok(path)) = (spec.local_table, (spec.path)(Scope::User, places)) {
                let table = vec![
                    key.to_owned(),
                    dir.to_string_lossy().into_owned(),
                    spec.servers_key.to_owned(),
                ];
                add(Scope::User, true, path, table);
            }
        }
        for source in sources {
            let text = match crate::cli::input::read_client_config(&source.path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // Reported once, for the user scope.
                Err(_) if source.local => continue,
                Err(e) => {
                    found.push(Found {
                        client,
                        scope: source.scope,
                        local: false,
                        path: source.path,
                        entries: Err(e.to_string()),
                    });
                    continue;
                }
            };
            let table: Vec<&str> = source.table.iter().map(String::as_str).collect();
            let entries = match merge::servers(spec.format, &text, &table) {
                Ok(servers) => Ok(servers
                    .into_iter()
                    .filter_map(|(name, entry)| {
                        Some(FoundEntry {
                            invocation: Invocation::recognise(&entry)?,
                            timeout_s: (spec.timeout_s)(&entry),
                            disabled: entry.get("enabled") == Some(&Value::Bool(false)),
                            blocked: switches::blocked(client, places, source.scope, &name),
                            env: EntryEnv::of(&entry),
                            name,
                        })
                    })
                    .collect::<Vec<_>>()),
                // A broken user file is reported once, for the user scope.
                Err(_) if source.local => continue,
                Err(e) => Err(e.to_string()),
            };
            if source.local && entries.as_ref().is_ok_and(Vec::is_empty) {
                continue;
            }
            found.push(Found {
                client,
                scope: source.scope,
                local: source.local,
                path: source.path,
                entries,
            });
        }
    }
    found
}
