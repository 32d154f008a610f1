//! `mcp-bridge doctor`: checks what a working bridge needs — the
//! configuration, the database and its directory, the key file and their
//! permissions, the YOLO sandbox, and which clients start this bridge — and
//! prints each as ok / warn / fail with the command that fixes it. Exits 1
//! when anything fails. Reads only; changes nothing.

mod clients;
mod sandbox;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::DbArgs;
use super::setup::launch;
use crate::app::{self, App, AppStore, key_path};
use crate::auth::{KeyError, ServerKey};
use crate::config::Config;
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
    /// Adds a line; any PostgreSQL URL in it (the one checked, or one found
    /// in a client's configuration) is shown without its password, since a
    /// report is what people paste into bug reports.
    fn add(&mut self, level: Level, topic: &'static str, message: String, fix: Option<String>) {
        let masked = |t: String| crate::store::postgres::mask_urls(&t).into_owned();
        self.0.push(Check {
            level,
            topic,
            message: masked(message),
            fix: fix.map(masked),
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
    let loaded = config.as_ref().ok();
    let db = args.db.db_path(None)?;
    if let Some(url) = crate::app::pg_url(&db) {
        check_postgres(&url, loaded.cloned(), &mut report);
    } else {
        check_files(&db, &mut report);
        check_database(&db, &mut report);
        let key = loaded.map_or_else(|| key_path(&db), |c| app::key_file(&db, c));
        check_key(&db, &key, &mut report);
    }
    sandbox::check_sandbox(loaded, &mut report);
    let own_error = config.as_ref().err().map(String::as_str);
    clients::check_clients(&db, own_error, &mut report)?;
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

/// The configuration, or what is wrong with it (as reported).
fn check_config(args: &DbArgs, r: &mut Report) -> Result<Config, String> {
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
            Ok(config)
        }
        Err(e) => {
            r.fail(
                "config",
                format!("{e:#}"),
                "correct the setting named above (`mcp-bridge config example` lists every key)"
                    .to_owned(),
            );
            Err(format!("{e:#}"))
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
