//! `doctor`'s client check: every client entry that starts `mcp-bridge
//! serve`, and whether it would work — a command that exists, arguments and
//! settings `serve` accepts, no list of the client's that skips it, the same
//! database, a long enough tool timeout, this binary.

use std::path::Path;

use super::Report;
use crate::cli::setup::launch::{self, TOOL_TIMEOUT_S};
use crate::cli::setup::{self, Client, Places, Scope};
use crate::config;
use crate::domain::LONG_POLL_CAP_SECONDS;

/// Reports on every client entry that starts this bridge. `own_error` is
/// how this process's own configuration failed, already reported: an entry
/// that fails the same way is not reported again.
///
/// # Errors
/// When there is no home or current directory.
pub(super) fn check_clients(
    db: &Path,
    own_error: Option<&str>,
    r: &mut Report,
) -> anyhow::Result<()> {
    let places = Places::from_env()?;
    let this = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let found = setup::find_configured(&places);
    let same_db = |other: &Path| {
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        canon(other) == canon(db)
    };
    for client in Client::ALL {
        let spec = client.spec();
        let mut any = false;
        for f in found.iter().filter(|f| f.client == client) {
            let (scope, flag) = match (f.scope, f.local) {
                (_, true) => ("local", String::new()),
                (Scope::User, false) => ("user", String::new()),
                (Scope::Project, false) => ("project", " --scope project".to_owned()),
            };
            let mut rerun = format!("mcp-bridge setup {}{flag}", spec.arg);
            let place = format!("{} ({scope} scope, {})", spec.label, f.path.display());
            let entries = match &f.entries {
                Ok(e) => e,
                Err(e) => {
                    r.fail(
                        "clients",
                        format!("{place} cannot be read: {}", setup::without_secrets(e)),
                        format!("fix the file: {} cannot read it either", spec.label),
                    );
                    continue;
                }
            };
            for e in entries {
                any = true;
                if f.local {
                    // Local entries shadow the user-scope one setup writes.
                    rerun = format!(
                        "claude mcp remove {} -s local && mcp-bridge setup {}",
                        e.name, spec.arg
                    );
                }
                let inv = &e.invocation;
                let line = std::iter::once(&inv.command)
                    .chain(&inv.args)
                    .map(|w| launch::shell_quote(w))
                    .collect::<Vec<_>>()
                    .join(" ");
                let head = format!("{place}: `{}` runs {line}", e.name);
                let Some(cmd) = launch::find_command(&inv.command, places.path_var.as_deref())
                else {
                    r.fail(
                        "clients",
                        format!("{head}, which does not exist"),
                        rerun.clone(),
                    );
                    continue;
                };
                let entry_db = inv.db.clone().unwrap_or_else(config::default_db_path);
                let renamed = match e.name.as_str() {
                    "bridge" => String::new(),
                    name => format!(" --name {name}"),
                };
                if let Some(blocked) = &e.blocked {
                    r.fail(
                        "clients",
                        format!("{head}, but {}", blocked.why),
                        blocked.fix.clone(),
                    );
                } else if let Some(problem) = start_problem(e, own_error) {
                    let fix = match problem {
                        StartProblem::Arguments(_) => format!(
                            "{rerun}{renamed} (it rewrites the arguments), or correct them in {} (`mcp-bridge serve --help` lists them)",
                            f.path.display()
                        ),
                        StartProblem::Settings(_) => format!(
                            "correct the setting named above in the entry's env in {} (or in the config file it loads); `mcp-bridge config example` lists every key",
                            f.path.display()
                        ),
                    };
                    r.fail(
                        "clients",
                        format!(
                            "{head}, which will not start: {}",
                            setup::without_secrets(problem.text())
                        ),
                        fix,
                    );
                } else if e.disabled {
                    r.warn(
                        "clients",
                        format!("{head}, but the entry is disabled"),
                        format!(
                            "remove `enabled = false` from [mcp_servers.{}] in {}",
                            e.name,
                            f.path.display()
                        ),
                    );
                } else if !same_db(&entry_db) {
                    r.warn(
                        "clients",
                        format!("{head}, on database {} (this check is of {})", entry_db.display(), db.display()),
                        format!("agents must share one database: {rerun} --db {}, or run doctor with --db {}", launch::shell_quote(&db.to_string_lossy()), launch::shell_quote(&entry_db.to_string_lossy())),
                    );
                } else if e.timeout_s <= LONG_POLL_CAP_SECONDS {
                    r.warn(
                        "clients",
                        format!("{head}, with a {} s tool timeout: a long-poll ({LONG_POLL_CAP_SECONDS} s) times out", e.timeout_s),
                        rerun.clone(),
                    );
                } else if e.timeout_s < TOOL_TIMEOUT_S {
                    r.warn(
                        "clients",
                        format!("{head}, with a {} s tool timeout: a YOLO command near its limit would be cut off ({TOOL_TIMEOUT_S} s recommended)", e.timeout_s),
                        rerun.clone(),
                    );
                } else if !inv.via_launcher
                    && this
                        .as_ref()
                        .is_some_and(|t| std::fs::canonicalize(&cmd).ok().as_ref() != Some(t))
                {
                    r.warn(
                        "clients",
                        format!("{head}, another mcp-bridge than this one ({})", cmd.display()),
                        format!("{rerun} (to use this one), or ignore if that one is the version you want"),
                    );
                } else if client == Client::Codex
                    && f.scope == Scope::Project
                    && !setup::codex_project_trusted(&places)
                {
                    r.warn(
                        "clients",
                        format!("{head}, but Codex ignores project files until the project is trusted"),
                        format!("trust the project when Codex asks, or add [projects.\"{}\"] trust_level = \"trusted\" to the user config.toml", places.project.display()),
                    );
                } else {
                    r.ok(
                        "clients",
                        format!("{head} (tool timeout {} s)", e.timeout_s),
                    );
                }
            }
        }
        if !any {
            r.warn(
                "clients",
                format!("{} is not configured for this bridge", spec.label),
                format!("mcp-bridge setup {} (if you use it)", spec.arg),
            );
        }
    }
    Ok(())
}

/// Why an entry's server would stop at start-up.
enum StartProblem {
    /// `serve` refuses its arguments.
    Arguments(String),
    /// Its settings (the entry's `env`, the config file) do not load.
    Settings(String),
}

impl StartProblem {
    fn text(&self) -> &str {
        match self {
            StartProblem::Arguments(t) | StartProblem::Settings(t) => t,
        }
    }
}

/// What would stop the entry's server at start-up, if anything: its
/// arguments as `serve` parses them, then its settings as `serve` loads them,
/// in the environment the client starts it in (this one, with the entry's
/// `env` on top). The same code as `serve`'s, so the two cannot disagree.
fn start_problem(e: &setup::FoundEntry, own_error: Option<&str>) -> Option<StartProblem> {
    use clap::error::ErrorKind;
    let args = match crate::cli::parse_serve(&e.invocation.serve_args) {
        Ok(args) => args,
        Err(err) => {
            let text = match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    "its arguments ask for the help text, which `serve` prints and exits".to_owned()
                }
                ErrorKind::DisplayVersion => {
                    "its arguments ask for the version, which `serve` prints and exits".to_owned()
                }
                _ => {
                    let rendered = err.render().to_string();
                    let first = rendered.lines().next().unwrap_or_default();
                    format!(
                        "`serve` refuses its arguments: {}",
                        first.trim_start_matches("error: ")
                    )
                }
            };
            return Some(StartProblem::Arguments(text));
        }
    };
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !e.env.0.iter().any(|(name, _)| name == k))
        .collect();
    env.extend(e.env.0.iter().cloned());
    let err = args.check_start(&env).err()?;
    let text = format!("{err:#}");
    (own_error != Some(text.as_str())).then_some(StartProblem::Settings(text))
}
