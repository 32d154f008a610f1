//! `mcp-bridge setup CLIENT`: registers this bridge in an agent client's own
//! configuration file (Claude Code, Codex, Gemini CLI), at user or project
//! scope, idempotently; `--dry-run` shows the diff, `--print` the snippet.
//! Also finds, for `doctor`, which client files already start this bridge.
//!
//! Each client module says where its files are and which keys its entry has
//! (verified against the clients' own sources); [`merge`] edits the text,
//! [`file`] reads and replaces the file under a [`lock`], [`launch`] builds
//! the command line; [`found`] and [`switches`] read what `doctor` reports.

mod claude;
mod codex;
mod file;
mod found;
mod gemini;
pub mod launch;
mod lock;
mod merge;
mod switches;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::Value;

pub use found::{FoundEntry, find_configured};
use launch::{Invocation, Launch, TOOL_TIMEOUT_S};
use merge::{Desired, Format};

/// The server name setup uses unless told otherwise.
const DEFAULT_NAME: &str = "bridge";

/// Arguments of `setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The client to configure.
    #[arg(value_enum)]
    client: Client,
    /// `user`: every project of this user; `project`: the current directory's project only.
    #[arg(long, value_enum, default_value_t = Scope::User)]
    scope: Scope,
    /// Database the server uses (written as an absolute `--db PATH`; default: the server's own default).
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// The server's name in the client (tools appear as e.g. `mcp__bridge__send_to_partner`).
    #[arg(long, default_value = DEFAULT_NAME, value_parser = parse_name)]
    name: String,
    /// Show the change as a diff and write nothing.
    #[arg(long, conflicts_with = "print")]
    dry_run: bool,
    /// Print the configuration snippet instead of writing any file.
    #[arg(long)]
    print: bool,
}

/// The clients setup knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Client {
    /// Claude Code (`.mcp.json`, `~/.claude.json`).
    #[value(name = "claude-code")]
    ClaudeCode,
    /// Codex CLI (`.codex/config.toml`, `~/.codex/config.toml`).
    Codex,
    /// Gemini CLI (`.gemini/settings.json`, `~/.gemini/settings.json`).
    Gemini,
}

impl Client {
    /// Every client, in the order reports list them.
    pub const ALL: [Client; 3] = [Client::ClaudeCode, Client::Codex, Client::Gemini];

    /// What setup knows about this client.
    pub fn spec(self) -> &'static ClientSpec {
        match self {
            Client::ClaudeCode => &claude::SPEC,
            Client::Codex => &codex::SPEC,
            Client::Gemini => &gemini::SPEC,
        }
    }
}

/// Which of a client's configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// The user's file, for every project.
    User,
    /// The current project's file.
    Project,
}

impl Scope {
    /// `user` or `project`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

/// How one client is configured: its files, its entry's keys, its defaults.
pub struct ClientSpec {
    /// The client's name for humans.
    pub label: &'static str,
    /// The name `setup` takes on the command line.
    pub arg: &'static str,
    /// Syntax of its files.
    format: Format,
    /// The table its servers live in.
    servers_key: &'static str,
    /// Keys of another transport, removed from an existing entry.
    conflicting: &'static [&'static str],
    /// Its file for a scope.
    path: fn(Scope, &Places) -> anyhow::Result<PathBuf>,
    /// The entry's keys for a launch line, in order.
    fields: fn(&Launch) -> Vec<(&'static str, Value)>,
    /// The tool-call timeout an entry gets, in seconds (the client's default when unset).
    pub timeout_s: fn(&Value) -> u64,
    /// The client's own command that shows its servers.
    pub check: &'static str,
    /// What the user should know after setup at a scope.
    notes: fn(Scope, &Places) -> Vec<String>,
    /// Whether the client also reads the project file of each directory
    /// above the current one, up to the git root.
    reads_parent_projects: bool,
    /// The user file's table of per-project tables that hold more servers
    /// (Claude Code's `projects`, keyed by project directory).
    local_table: Option<&'static str>,
}

/// Where the clients keep their files, from the environment of this process.
#[derive(Debug, Clone)]
pub struct Places {
    /// `$HOME`.
    pub home: PathBuf,
    /// The current directory: the project for project scope.
    pub project: PathBuf,
    /// `$PATH`, to find `mcp-bridge` and client commands.
    pub path_var: Option<OsString>,
    /// `CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `GEMINI_CLI_HOME` when set.
    vars: Vec<(&'static str, PathBuf)>,
}

/// Variables that move a client's files.
const LOCATION_VARS: [&str; 3] = ["CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_CLI_HOME"];

impl Places {
    /// Reads `HOME`, the current directory, `PATH` and the clients' location variables.
    ///
    /// # Errors
    /// When there is no home directory or current directory.
    pub fn from_env() -> anyhow::Result<Places> {
        let home = dirs::home_dir().context("cannot tell the home directory (HOME is not set)")?;
        let project = std::env::current_dir().context("cannot read the current directory")?;
        let vars = LOCATION_VARS
            .iter()
            .filter_map(|name| {
                let v = std::env::var_os(name).filter(|v| !v.is_empty())?;
                Some((*name, project.join(PathBuf::from(v))))
            })
            .collect();
        Ok(Places {
            home,
            project,
            path_var: std::env::var_os("PATH"),
            vars,
        })
    }

    fn var(&self, name: &str) -> Option<PathBuf> {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
    }

    fn project_is(&self, dir: &Path) -> bool {
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        canon(&self.project) == canon(dir)
    }

    /// The project directory and those above it up to the root of its git
    /// work tree (only the project directory outside git).
    fn project_dirs(&self) -> Vec<PathBuf> {
        let Some(git_root) = self.project.ancestors().find(|d| d.join(".git").exists()) else {
            return vec![self.project.clone()];
        };
        self.project
            .ancestors()
            .take_while(|d| d.starts_with(git_root))
            .map(Path::to_owned)
            .collect()
    }

    /// The project directory and, when it sits in a git work tree, the tree's root.
    fn project_roots(&self) -> Vec<PathBuf> {
        let mut roots = vec![self.project.clone()];
        if let Some(git_root) = self.project.ancestors().find(|d| d.join(".git").exists())
            && git_root != self.project
        {
            roots.push(git_root.to_owned());
        }
        roots
    }
}

fn parse_name(s: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("use 1–64 letters, digits, `_` or `-`".to_owned())
    }
}

/// Runs `setup`.
///
/// # Errors
/// When a path cannot be resolved, the client's file does not parse (it is
/// then left byte for byte as it was) or cannot be written.
pub fn run(args: SetupArgs) -> anyhow::Result<ExitCode> {
    let places = Places::from_env()?;
    let spec = args.client.spec();
    let exe = std::env::current_exe().context("cannot tell where this program is")?;
    let launch = Launch::resolve(
        &exe,
        places.path_var.as_deref(),
        args.db.as_deref(),
        &places.project,
    )?;
    let desired = Desired {
        servers_key: spec.servers_key,
        name: &args.name,
        fields: (spec.fields)(&launch),
        conflicting: spec.conflicting,
    };
    // A database password in `--db` is written where the client reads it,
    // but never printed (`postgres://bridge:***@…`), and never into a
    // project's file, which is meant to be committed.
    let url = args
        .db
        .as_deref()
        .and_then(Path::to_str)
        .and_then(crate::store::postgres::PgUrl::parse)
        .filter(|u| u.to_string() != u.expose());
    let masked = |text: &str| match &url {
        Some(u) => text.replace(u.expose(), &u.to_string()),
        None => text.to_owned(),
    };
    if args.print {
        let snippet = merge::merge(spec.format, "", &desired)?;
        print!("{}", masked(&snippet));
        if url.is_some() {
            eprintln!(
                "mcp-bridge: the database password is shown as ***; put it back in the URL where you paste this, or set MCP_BRIDGE_DB in the environment the client starts servers with"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.scope == Scope::Project && url.is_some() {
        crate::cli::output::error_line(&format!(
            "refusing to write a database password into {}'s project file, which is meant to be committed: use --scope user (a file only you can read), or give --db without the password and set MCP_BRIDGE_DB, password included, in the environment the client starts servers with; nothing was written",
            spec.label
        ));
        return Ok(ExitCode::from(1));
    }
    let path = (spec.path)(args.scope, &places)?;
    let project = (args.scope == Scope::Project).then_some(places.project.as_path());
    let real = file::resolve(&path, project)?;
    let (file_mode, dir_mode) = match args.scope {
        // User files may hold credentials; project files are meant to be shared.
        Scope::User => (0o600, 0o700),
        Scope::Project => (0o644, 0o755),
    };
    // Held from the read to the rename, so that two setups on one file (two
    // names, or a script configuring every client) both land.
    let _lock = if args.dry_run {
        None
    } else {
        lock::acquire_creating(&real, dir_mode)?
    };
    let current = file::read(real)?;
    let new = merge::merge(
        spec.format,
        current.text.as_deref().unwrap_or(""),
        &desired,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "{} was left unchanged: {}; fix it (or move it away) and run setup again; `mcp-bridge setup --print {}` shows the entry to add by hand",
            current.real.display(),
            without_secrets(&e.to_string()),
            spec.arg
        )
    })?;
    refuse_foreign_entry(spec, &current, &args.name)?;
    let scope = args.scope.as_str();
    // Paths come from the working directory, HOME and the binary's place,
    // any of which may hold escape sequences meant for the terminal.
    let shown = crate::cli::output::line;
    let path_shown = path.display().to_string();
    if current.text.as_deref() == Some(new.as_str()) {
        println!(
            "{} ({scope} scope) is already configured for this bridge in {}; nothing changed.",
            spec.label,
            shown(&path_shown)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        let diff = file::diff(&path, current.text.as_deref(), &new);
        // The diff shows the client's file, which a repository may have
        // crafted (a JSONC comment can hold anything).
        print!(
            "{}",
            crate::cli::output::block(&without_secrets(&masked(&diff)))
        );
        println!("Dry run: {} was not written.", shown(&path_shown));
        return Ok(ExitCode::SUCCESS);
    }
    file::write(&current, &new, file_mode, dir_mode)?;
    println!(
        "Configured {} ({scope} scope) in {}:\n  {}: {}\n  tool timeout: {TOOL_TIMEOUT_S} s\nCheck it with `{}`; restart {} sessions that are already running.",
        spec.label,
        shown(&path_shown),
        args.name,
        shown(&masked(&launch.display().to_string())),
        spec.check,
        spec.label,
    );
    for note in (spec.notes)(args.scope, &places) {
        println!("Note: {}", shown(&note));
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses to touch an entry under `name` that does not start this bridge:
/// setup would replace its command, and the user's server (with the secrets
/// in its `env`) would be gone, just because it is also called `bridge`.
fn refuse_foreign_entry(
    spec: &ClientSpec,
    current: &file::Current,
    name: &str,
) -> anyhow::Result<()> {
    let Some(text) = current.text.as_deref() else {
        return Ok(());
    };
    let Ok(Some(entry)) = merge::lookup(spec.format, text, &[spec.servers_key, name]) else {
        return Ok(());
    };
    if Invocation::recognise(&entry).is_some() {
        return Ok(());
    }
    let what = match entry.get("command").and_then(Value::as_str) {
        Some(command) => format!("it runs {}", launch::shell_quote(command)),
        None if entry.is_object() => "it is not a command setup wrote".to_owned(),
        None => "it is not a server entry".to_owned(),
    };
    anyhow::bail!(
        "{} already has a server named `{name}` that is not this bridge ({}); setup leaves it alone: choose another name for the bridge with --name (e.g. `mcp-bridge setup {} --name mcp-bridge`), or rename or remove that entry yourself and run setup again",
        current.real.display(),
        without_secrets(&what),
        spec.arg
    )
}

/// `text` with secrets replaced by placeholders. A diff's context lines and a
/// parser's error excerpt come from the client's file, and a user file can
/// hold an API key (`primaryApiKey` in `~/.claude.json`, tokens in `env`);
/// nothing secret may reach the terminal.
pub fn without_secrets(text: &str) -> String {
    crate::redact::Redactor::builtin()
        .redact(text)
        .text
        .into_owned()
}

/// Whether Codex will read the project file here (the project is trusted).
pub fn codex_project_trusted(places: &Places) -> bool {
    codex::project_trusted(places)
}
