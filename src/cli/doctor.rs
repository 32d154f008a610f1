//! `mcp-bridge doctor`: checks what a working bridge needs — the
//! configuration, the database and its directory, the key file and their
//! permissions, the YOLO sandbox, and which clients start this bridge — and
//! prints each as ok / warn / fail with the command that fixes it. Exits 1
//! when anything fails. Reads only; changes nothing.

mod sandbox;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::DbArgs;
use super::setup::launch::{self, TOOL_TIMEOUT_S};
use super::setup::{self, Client, Places, Scope};
use crate::app::{self, App, AppStore, key_path};
use crate::auth::{KeyError, ServerKey};
use crate::config::{self, Config};
use crate::domain::LONG_POLL_CAP_SECONDS;
use crate::service::Bridge;
use crate::store::sqlite::OpenMode;

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    topic: &'static str,
    message: String,
    fix: Option<String>,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, level: Level, topic: &'static str, message: String, fix: Option<String>) {
        self.0.push(Check {
            level,
            topic,
            message,
            fix,
        });
    }
    fn ok(&mut self, topic: &'static str, message: String) {
        self.add(Level::Ok, topic, message, None);
    }
    fn warn(&mut self, topic: &'static str, message: String, fix: String) {
        self.add(Level::Warn, topic, message, Some(fix));
    }
    fn fail(&mut self, topic: &'static str, message: String, fix: String) {
        self.add(Level::Fail, topic, message, Some(fix));
    }
    fn count(&self, level: Level) -> usize {
        self.0.iter().filter(|c| c.level == level).count()
    }
}

/// Runs every check and prints the report.
///
/// # Errors
/// Only when the checks themselves cannot run (no current directory); every
/// problem found is a line of the report.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    let config = check_config(&args.db, &mut report);
    let db = args.db.db_path(None)?;
    if let Some(url) = crate::app::pg_url(&db) {
        check_postgres(&url, config.clone(), &mut report);
    } else {
        check_files(&db, &mut report);
        check_database(&db, &mut report);
        let key = config
            .as_ref()
            .map_or_else(|| key_path(&db), |c| app::key_file(&db, c));
        check_key(&db, &key, &mut report);
    }
    sandbox::check_sandbox(config.as_ref(), &mut report);
    check_clients(&db, &mut report)?;
    for c in &report.0 {
        let level = match c.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        };
        // Messages quote client files (server names, paths, parse errors),
        // which anyone who can write a repository may have crafted.
        println!(
            "{level:<5} {:<9} {}",
            c.topic,
            super::output::line(&c.message)
        );
        if let Some(fix) = &c.fix {
            println!("{:16}fix: {}", "", super::output::line(fix));
        }
    }
    let (fails, warns) = (report.count(Level::Fail), report.count(Level::Warn));
    println!(
        "\n{fails} {}, {warns} {}",
        plural(fails, "failure", "failures"),
        plural(warns, "warning", "warnings")
    );
    Ok(if fails > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn check_config(args: &DbArgs, r: &mut Report) -> Option<Config> {
    let file = args.config.file();
    let vars = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("MCP_BRIDGE_")
                && !["MCP_BRIDGE_DB", "MCP_BRIDGE_CONFIG"].contains(&k.as_str())
        })
        .count();
    match args.config.load() {
        Ok(config) => {
            let source = match &file {
                Some(f) => format!("{} is valid", f.display()),
                None => "no config file, defaults".to_owned(),
            };
            r.ok("config", format!("{source}; {vars} MCP_BRIDGE_* variables"));
            Some(config)
        }
        Err(e) => {
            r.fail(
                "config",
                format!("{e:#}"),
                "correct the setting named above (`mcp-bridge config example` lists every key)"
                    .to_owned(),
            );
            None
        }
    }
}

/// A PostgreSQL database: its key file, and whether it opens (connects,
/// migrates) with it.
fn check_postgres(url: &crate::store::postgres::PgUrl, config: Option<Config>, r: &mut Report) {
    let config = config.unwrap_or_default();
    let key = crate::app::pg_key_path(&config);
    if !key.is_file() {
        r.fail(
            "key",
            format!("no key file at {}", key.display()),
            "copy the key file every server of this database shares there, or set `key_file` (or MCP_BRIDGE_KEY_FILE) to it".into(),
        );
        return;
    }
    // A key others can read is the same finding, with the same fix, as for
    // an SQLite database (opening would only fail with a generic advice).
    if let Err(KeyError::TooOpen { mode, .. }) = ServerKey::load(&key) {
        r.fail(
            "key",
            format!(
                "{} has mode {mode:03o}: other users could forge tokens, and servers refuse to start",
                key.display()
            ),
            format!("chmod 600 {}", launch::shell_quote(&key.to_string_lossy())),
        );
        return;
    }
    let opened = App::open_postgres(url, &key, config, OpenMode::Existing);
    match opened {
        Ok(_) => r.ok(
            "database",
            format!("{url} opens with the key {}", key.display()),
        ),
        Err(e) => r.fail(
            "database",
            format!("{url} cannot be opened: {e:#}"),
            "check that the server is reachable, the URL's user may connect and create tables, and `key_file` (or MCP_BRIDGE_KEY_FILE) names this database's key".into(),
        ),
    }
}

/// The directory and the database files: private to this user.
fn check_files(db: &Path, r: &mut Report) {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(meta) = std::fs::metadata(dir) else {
        // Reported once, by check_database.
        return;
    };
    let mode = meta.permissions().mode() & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky {
        r.fail(
            "files",
            format!(
                "{} has mode {:03o}: other users can replace the database or the key",
                dir.display(),
                mode & 0o777
            ),
            format!("chmod 700 {}", launch::shell_quote(&dir.to_string_lossy())),
        );
    } else if mode & 0o077 != 0 {
        r.warn(
            "files",
            format!(
                "{} has mode {:03o}: other users can see which files it holds",
                dir.display(),
                mode & 0o777
            ),
            format!("chmod 700 {}", launch::shell_quote(&dir.to_string_lossy())),
        );
    } else {
        r.ok(
            "files",
            format!("{} is private (mode {:03o})", dir.display(), mode & 0o777),
        );
    }
    let open: Vec<String> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", db.display())))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o077 != 0))
        .map(|p| launch::shell_quote(&p.to_string_lossy()))
        .collect();
    if !open.is_empty() {
        r.fail(
            "files",
            format!(
                "{} readable by other users: they could read every message",
                open.join(", ")
            ),
            format!("chmod 600 {}", open.join(" ")),
        );
    }
}

fn check_database(db: &Path, r: &mut Report) {
    if !db.is_file() {
        r.warn(
            "database",
            format!("{} does not exist yet (nor its key)", db.display()),
            "nothing to do before the first use: the first `mcp-bridge serve` creates both, private; if agents used the bridge before, they used another database (--db, MCP_BRIDGE_DB)".to_owned(),
        );
        return;
    }
    match Bridge::<AppStore>::check_backup(db) {
        Ok(check) => r.ok(
            "database",
            format!(
                "{}: schema {}, integrity ok",
                db.display(),
                check.schema_version
            ),
        ),
        Err(e) => r.fail(
            "database",
            e.to_string(),
            "restore the latest backup: mcp-bridge restore BACKUP.db (after stopping the clients)"
                .to_owned(),
        ),
    }
}

fn check_key(db: &Path, key: &Path, r: &mut Report) {
    if key.parent() != db.parent() && db.with_file_name("bridge.key").exists() {
        r.warn(
            "key",
            format!(
                "key_file puts the key at {}, but a bridge.key also lies beside the database",
                key.display()
            ),
            format!(
                "if it is a copy of the key, delete it: a database beside its key reveals everything (rm {})",
                launch::shell_quote(&db.with_file_name("bridge.key").to_string_lossy())
            ),
        );
    }
    let shown = launch::shell_quote(&key.to_string_lossy());
    match ServerKey::load(key) {
        Ok(_) => r.ok("key", format!("{} is private (mode 600)", key.display())),
        Err(KeyError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && !db.is_file() => {}
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            r.fail(
                "key",
                format!(
                    "{} is missing beside an existing database: the next server makes a new key, and every existing conversation's tokens stop working",
                    key.display()
                ),
                format!("put the key back (a backup made with `mcp-bridge backup F` has it as F.key): cp F.key {shown} && chmod 600 {shown}"),
            );
        }
        Err(KeyError::TooOpen { mode, .. }) => r.fail(
            "key",
            format!(
                "{} has mode {mode:03o}: other users could forge tokens, and servers refuse to start",
                key.display()
            ),
            format!("chmod 600 {shown}"),
        ),
        Err(e) => r.fail(
            "key",
            e.to_string(),
            "restore the key from a backup (`mcp-bridge backup F` wrote it as F.key)".to_owned(),
        ),
    }
}

fn check_clients(db: &Path, r: &mut Report) -> anyhow::Result<()> {
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
                if e.disabled {
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
