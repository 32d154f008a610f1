//! The commands that move data: `export`, `import`, `backup` and `restore`.
//! They call the service layer for everything that touches the database;
//! this module handles the files around it (output files written privately
//! and atomically, the key file that travels beside a backup).

use std::fs;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::manage::{CommonArgs, open_app, parse_conversation, settled};
use super::output::{self, ProgressBar};
use crate::app::{self, App, AppStore};
use crate::auth::ServerKey;
use crate::domain::ConversationId;
use crate::service::{
    Bridge, EXPORT_FORMAT, EXPORT_VERSION, Layout, ServiceError, is_sealed, validate_export,
    validate_sealed_export, write_export,
};
use crate::store::CopyProgress;
use crate::store::sqlite::OpenMode;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Conversations to export (default: every conversation).
    #[arg(value_name = "CONV", value_parser = parse_conversation)]
    conversations: Vec<ConversationId>,
    /// Write to FILE (mode 0600) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// JSON lines: a header line, then one line per conversation and per message.
    #[arg(long)]
    jsonl: bool,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    force: bool,
    /// Write readable JSON instead of a file sealed with the key file (prints a warning).
    #[arg(long)]
    plaintext: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An export file (either layout), or - for stdin.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write; the key is written beside it as FILE.key.
    #[arg(value_name = "FILE")]
    pub(super) file: PathBuf,
    /// Overwrite FILE and FILE.key if they exist.
    #[arg(long)]
    pub(super) force: bool,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file (with its key beside it as FILE.key).
    #[arg(value_name = "FILE")]
    pub(super) file: PathBuf,
    /// Restore even while servers use the database (they see the restored data at once).
    #[arg(long)]
    pub(super) force: bool,
    /// Restore the database only and keep the target's key (tokens of restored
    /// conversations then differ from the ones handed out before).
    #[arg(long)]
    pub(super) no_key: bool,
    #[command(flatten)]
    pub(super) common: CommonArgs,
}

/// `FILE.key`: where a backup's key file goes.
pub(super) fn backup_key_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// A private temporary name beside `path`, for writing before an atomic rename.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// Writes `path` (mode 0600) through a temporary file renamed into place, so
/// a reader never sees half a file and a failure leaves the old one.
pub(super) fn write_private(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let tmp = partial_path(path);
    let written = (|| {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut out = BufWriter::new(file);
        fill(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Records a refusal in the audit trail, says why on stderr, and exits with 1.
fn refused(app: &App, action: &str, code: &str, text: &str) -> anyhow::Result<ExitCode> {
    refused_on(&super::runtime()?, app, action, code, text)
}

/// [`refused`] on the runtime the command already uses: a PostgreSQL
/// connection lives on the runtime that opened it.
pub(super) fn refused_on(
    runtime: &tokio::runtime::Runtime,
    app: &App,
    action: &str,
    code: &str,
    text: &str,
) -> anyhow::Result<ExitCode> {
    runtime.block_on(app.bridge.record_refusal(action, code))?;
    output::error_line(text);
    Ok(ExitCode::from(1))
}

/// The size of a database with its WAL, for deciding on a progress bar.
fn database_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_owned(), PathBuf::from(wal)]
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// A progress callback drawing `bar` (if any).
fn progress(bar: Option<Arc<ProgressBar>>) -> CopyProgress {
    Arc::new(move |done, total| {
        if let Some(bar) = &bar {
            bar.update(done, total);
        }
    })
}

/// `mcp-bridge export`.
///
/// # Errors
/// Database, file or output failures.
pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        let text = format!("{} exists; add --force to overwrite it", path.display());
        return refused(&app, "export", "exists", &text);
    }
    let ids = (!args.conversations.is_empty()).then_some(args.conversations);
    let export = settled!(super::runtime()?.block_on(app.bridge.export(ids, !args.plaintext)));
    let layout = if args.jsonl {
        Layout::JsonLines
    } else {
        Layout::Json
    };
    let mut text = Vec::new();
    write_export(&mut text, &export.records, export.at, layout)?;
    if args.plaintext {
        let _ = writeln!(
            std::io::stderr(),
            "warning: this export is plaintext: whoever reads it reads every message. Keep it private and delete it after use (without --plaintext, exports are sealed with the key file)."
        );
    } else {
        text = app.bridge.seal_export(&text)?.into_bytes();
    }
    let Some(path) = &args.output else {
        let mut out = BufWriter::new(std::io::stdout().lock());
        out.write_all(&text)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    write_private(path, |w| w.write_all(&text))?;
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "file": path,
                "format": EXPORT_FORMAT,
                "version": EXPORT_VERSION,
                "layout": if args.jsonl { "jsonl" } else { "json" },
                "sealed": !args.plaintext,
                "key_file": (!args.plaintext).then_some(&app.key_file),
                "conversations": export.records.len(),
                "messages": export.messages(),
            }),
        )?;
    } else {
        let n = export.records.len();
        writeln!(
            out,
            "Exported {n} conversation{} ({} message{}) to {} (format version {EXPORT_VERSION}; no tokens, no key; {}).",
            if n == 1 { "" } else { "s" },
            export.messages(),
            if export.messages() == 1 { "" } else { "s" },
            path.display(),
            if args.plaintext {
                "plaintext".to_owned()
            } else {
                format!(
                    "sealed: only a bridge with the key file {} can import it",
                    app.key_file.display()
                )
            }
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `mcp-bridge import`.
///
/// # Errors
/// An unreadable or invalid file, a conflict with the database, or database failures.
pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let from_stdin = args.file.as_os_str() == "-";
    let name = if from_stdin {
        "stdin".to_owned()
    } else {
        args.file.display().to_string()
    };
    let mut bytes = Vec::new();
    if from_stdin {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read stdin")?;
    } else {
        bytes = fs::read(&args.file).with_context(|| format!("cannot read {name}"))?;
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("cannot import {name}: the file is not UTF-8 text"))?;
    let db = args.common.db.db_path(None)?;
    // Only an SQLite file can be new here: a PostgreSQL URL names no file,
    // and its database exists already (the import checks the file whole).
    let created = app::pg_url(&db).is_none() && !db.exists();
    if created {
        // Do not leave an empty database behind for a file that cannot be imported.
        if is_sealed(&text) {
            let config = args.common.db.config.load()?;
            let key_file = app::key_file(&db, &config);
            let key = ServerKey::load(&key_file).with_context(|| {
                format!(
                    "cannot import {name}: it is sealed with a key file, and there is none at {} yet; put the key file of the bridge it came from there first",
                    key_file.display()
                )
            })?;
            validate_sealed_export(&key, &text)
        } else {
            validate_export(&text)
        }
        .with_context(|| format!("cannot import {name}"))?;
    }
    let app = open_app(&args.common.db, OpenMode::Create)?;
    if created {
        let _ = writeln!(
            std::io::stderr(),
            "mcp-bridge: created a new database at {}",
            db.display()
        );
    }
    let result = super::runtime()?.block_on(app.bridge.import(&text));
    let imported = match result {
        Err(e @ (ServiceError::ExportFile(_) | ServiceError::Conflict(_))) => {
            return Err(anyhow::Error::new(e).context(format!("cannot import {name}")));
        }
        other => settled!(other),
    };
    let r = &imported.report;
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "file": name,
                "conversations_in_file": imported.conversations_in_file,
                "messages_in_file": imported.messages_in_file,
                "conversations_added": r.conversations_added,
                "conversations_updated": r.conversations_updated,
                "conversations_unchanged": r.conversations_unchanged,
                "messages_added": r.messages_added,
                "messages_skipped": r.messages_skipped,
                "messages_renumbered": r.messages_renumbered,
                "redactions": imported.redactions,
            }),
        )?;
    } else {
        writeln!(
            out,
            "Imported {name}: {} conversation{} added, {} updated, {} already present; \
             {} message{} added, {} already present.",
            r.conversations_added,
            if r.conversations_added == 1 { "" } else { "s" },
            r.conversations_updated,
            r.conversations_unchanged,
            r.messages_added,
            if r.messages_added == 1 { "" } else { "s" },
            r.messages_skipped,
        )?;
        if r.messages_renumbered > 0 {
            writeln!(
                out,
                "{} message{} got new ids, because theirs were already used in this database.",
                r.messages_renumbered,
                if r.messages_renumbered == 1 { "" } else { "s" }
            )?;
        }
        if imported.redactions > 0 {
            writeln!(
                out,
                "{} secret{} redacted from the file's texts before storing them.",
                imported.redactions,
                if imported.redactions == 1 {
                    " was"
                } else {
                    "s were"
                }
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A database-file backup cannot go into a PostgreSQL database: say what does.
fn refuse_postgres(db: &super::DbArgs) -> anyhow::Result<()> {
    if app::pg_url(&db.db_path(None)?).is_some() {
        anyhow::bail!(
            "cannot restore an SQLite database file into a PostgreSQL database: restore a backup \
             made by `mcp-bridge backup` on a PostgreSQL database, or move the conversations with \
             `mcp-bridge export --db FILE -o EXPORT` and `mcp-bridge import EXPORT`"
        );
    }
    Ok(())
}

/// `mcp-bridge backup FILE`: SQLite's online backup of the file, or, for a
/// PostgreSQL database, an export-based backup.
///
/// # Errors
/// Database, key-file or file-system failures.
pub fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let key_dest = backup_key_path(&args.file);
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    if !args.force
        && let Some(path) = [&args.file, &key_dest].into_iter().find(|p| p.exists())
    {
        let text = format!("{} exists; add --force to overwrite it", path.display());
        return refused(&app, "backup", "exists", &text);
    }
    let key_src = app.key_file.clone();
    // App::open has loaded (and so checked) this key file already.
    let key = fs::read(&key_src).with_context(|| format!("cannot read {}", key_src.display()))?;
    if app::pg_url(&args.common.db.db_path(None)?).is_some() {
        return super::backup_export::backup(&args, &app, &key, &key_dest);
    }
    let bar = ProgressBar::for_size("backing up", database_size(&app.db_path)).map(Arc::new);
    let tmp = partial_path(&args.file);
    let result = super::runtime()?.block_on(app.bridge.backup(&tmp, progress(bar.clone())));
    if let Some(bar) = &bar {
        bar.finish();
    }
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            return Err(
                anyhow::Error::new(e).context(format!("cannot back up to {}", args.file.display()))
            );
        }
    };
    fs::rename(&tmp, &args.file)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    write_private(&key_dest, |w| w.write_all(&key))?;
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "database": app.db_path,
                "backup": args.file,
                "key": key_dest,
                "pages": report.pages,
                "bytes": report.bytes(),
            }),
        )?;
    } else {
        writeln!(
            out,
            "Backed up {} ({}) to {}; the key is in {}. Keep both private: together they can re-create every session token.",
            app.db_path.display(),
            output::bytes(report.bytes()),
            args.file.display(),
            key_dest.display()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the database's key file at `path` (mode 0600, atomically).
fn install_key(path: &Path, key: &[u8]) -> anyhow::Result<PathBuf> {
    write_private(path, |w| w.write_all(key))?;
    Ok(path.to_owned())
}

/// `mcp-bridge restore FILE`.
///
/// # Errors
/// A damaged backup, a missing key, database or file-system failures.
pub fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if super::backup_export::is_export_file(&args.file)? {
        return super::backup_export::restore(&args);
    }
    refuse_postgres(&args.common.db)?;
    let fail = |e: ServiceError| {
        anyhow::Error::new(e).context(format!("cannot restore {}", args.file.display()))
    };
    Bridge::<AppStore>::check_backup(&args.file).map_err(fail)?;
    let key = if args.no_key {
        None
    } else {
        let path = backup_key_path(&args.file);
        ServerKey::load(&path).with_context(|| {
            format!(
                "cannot restore {}: its key file is unusable (add --no-key to restore the database alone)",
                args.file.display()
            )
        })?;
        Some(fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
    };
    let db = args.common.db.db_path(None)?;
    let mut forced = false;
    if db.exists() {
        if let Some(pid) = Bridge::<AppStore>::database_in_use(&db).map_err(fail)? {
            if !args.force {
                let text = format!(
                    "{} is in use by process {pid} (a running mcp-bridge serve?); stop it first, or add --force to restore under it",
                    db.display()
                );
                let app = open_app(&args.common.db, OpenMode::Existing)?;
                return refused(&app, "restore", "in_use", &text);
            }
            forced = true;
        }
    } else if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let runtime = super::runtime()?;
    let size = fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::for_size("restoring", size).map(Arc::new);
    let (report, key_file) = {
        let app = open_app(&args.common.db, OpenMode::Create)?;
        let result = runtime.block_on(app.bridge.restore_from(&args.file, progress(bar.clone())));
        if let Some(bar) = &bar {
            bar.finish();
        }
        (result.map_err(fail)?, app.key_file.clone())
    };
    let key_path = key.map(|k| install_key(&key_file, &k)).transpose()?;
    // Opening again brings an older backup's schema up to date.
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    settled!(runtime.block_on(app.bridge.record_restore(&report, forced)));
    if args.no_key {
        let _ = writeln!(
            std::io::stderr(),
            "warning: --no-key kept this database's key file; the restored messages, notes and commands open only if the backup was made with the same key file (`mcp-bridge show` names any value that does not)"
        );
    }
    if forced {
        let _ = writeln!(
            std::io::stderr(),
            "warning: servers were using {}; they now serve the restored data, but keep the key they started with: restart them",
            db.display()
        );
    }
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "database": db,
                "backup": args.file,
                "key": key_path,
                "pages": report.pages,
                "bytes": report.bytes(),
                "forced": forced,
            }),
        )?;
    } else {
        writeln!(
            out,
            "Restored {} ({}) into {}{}.",
            args.file.display(),
            output::bytes(report.bytes()),
            db.display(),
            match &key_path {
                Some(p) => format!(", with its key in {}", p.display()),
                None => ", keeping this database's key".to_owned(),
            }
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
