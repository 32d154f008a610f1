//! `backup` and `restore`: SQLite's online backup of the database file with
//! its key file beside it (`FILE.key`), or, for a PostgreSQL database, an
//! export-based backup (`cli::backup_export`); and putting either back.

use std::fs;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::manage::{CommonArgs, open_app, settled};

/// The most bytes `restore` copies from a backup's key file (one holds a
/// line of 64 hex digits).
const MAX_KEY_FILE_BYTES: u64 = 4096;
use super::output::{self, ProgressBar};
use super::transfer::{backup_key_path, own_file, partial_path, refused, write_private};
use crate::app::{self, AppStore};
use crate::auth::ServerKey;
use crate::service::{Bridge, ServiceError};
use crate::store::CopyProgress;
use crate::store::sqlite::OpenMode;

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
    if let Some(text) = [&args.file, &key_dest]
        .into_iter()
        .find_map(|p| own_file(&app, p))
    {
        return refused(&app, "backup", "own_file", &text);
    }
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

/// What restoring a backup's key does to the key file already in its place.
enum KeyFate {
    /// None there yet, the same key, or `--no-key`: nothing is lost.
    Kept,
    /// The target database's own, different key (its text), replaced.
    Replaced(Vec<u8>),
}

/// Decides, before anything changes, what the backup's `key` may do to the
/// key file at `target`. That file can be what other databases open their
/// data with (`bridge.key` serves every database in its directory, and
/// `key_file` can name one for many), so a different key there is not
/// overwritten for a database that does not exist yet (`Err`: why not);
/// restoring over an existing database replaces its key, as it must, and the
/// old one is kept (`Replaced`).
fn key_fate(db: &Path, target: &Path, key: &[u8]) -> anyhow::Result<Result<KeyFate, String>> {
    let present = match fs::symlink_metadata(target) {
        Ok(_) => crate::regular_file::read_text(target, MAX_KEY_FILE_BYTES)
            .with_context(|| format!("cannot read the key file {}", target.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(KeyFate::Kept)),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the key file {}", target.display()));
        }
    };
    let trimmed = |b: &[u8]| b.trim_ascii().to_vec();
    if trimmed(present.as_bytes()) == trimmed(key) {
        return Ok(Ok(KeyFate::Kept));
    }
    if db.exists() {
        return Ok(Ok(KeyFate::Replaced(present.into_bytes())));
    }
    Ok(Err(format!(
        "the key file {} already holds another key, which other databases may need (every database in its directory, or under the same key_file, shares it), and a restore into a new database would replace it; restore into a directory of its own, or set key_file (MCP_BRIDGE_KEY_FILE) to a new path, or remove that key file first if nothing uses it",
        target.display()
    )))
}

/// Keeps a key a restore replaces, beside it as `KEY.replaced-TIMESTAMP`
/// (mode 0600, never over an earlier one). Returns where.
fn keep_replaced_key(key_file: &Path, old: &[u8]) -> anyhow::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut name = key_file.as_os_str().to_owned();
    name.push(format!(".replaced-{stamp}"));
    let mut kept = PathBuf::from(&name);
    for n in 2.. {
        if fs::symlink_metadata(&kept).is_err() {
            break;
        }
        kept = PathBuf::from(format!("{}-{n}", name.to_string_lossy()));
    }
    write_private(&kept, |w| w.write_all(old))?;
    Ok(kept)
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
    Bridge::<AppStore>::check_backup_to_restore(&args.file).map_err(fail)?;
    let key = if args.no_key {
        None
    } else {
        let path = backup_key_path(&args.file);
        ServerKey::load(&path).map_err(|e| {
            // The key error names its cause already: not as context, or it shows twice.
            anyhow::anyhow!(
                "cannot restore {}: its key file is unusable (add --no-key to restore the database alone): {e}",
                args.file.display()
            )
        })?;
        // What was just loaded, bounded: a key file holds 64 hex digits, but
        // one with a valid head and a long tail (a sparse 64 GiB) loaded too.
        let text = crate::regular_file::read_text(&path, MAX_KEY_FILE_BYTES)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Some(text.into_bytes())
    };
    let db = args.common.db.db_path(None)?;
    let key_target = app::key_file(&db, &args.common.db.config.load()?);
    let replaced = match &key {
        None => KeyFate::Kept,
        Some(key) => match key_fate(&db, &key_target, key)? {
            Ok(fate) => fate,
            Err(why) => {
                output::error_line(&format!(
                    "cannot restore {} into {}: {why}; nothing was changed",
                    args.file.display(),
                    db.display()
                ));
                return Ok(ExitCode::from(1));
            }
        },
    };
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
    // With --no-key the backup's values open only if it shares the target's
    // key, which the operator chose to accept; there is no key to check it with.
    let staged = match &key {
        None => None,
        Some(key) => {
            match super::backup_check::stage(&args.common.db, &db, &args.file, key, &runtime)? {
                Ok(staged) => Some(staged),
                Err(why) => {
                    output::error_line(&format!(
                        "cannot restore {}: {why}; nothing was changed",
                        args.file.display()
                    ));
                    return Ok(ExitCode::from(1));
                }
            }
        }
    };
    let source = staged
        .as_ref()
        .map_or(args.file.as_path(), |s| s.db.as_path());
    let size = fs::metadata(source).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::for_size("restoring", size).map(Arc::new);
    let (report, key_file) = {
        let app = open_app(&args.common.db, OpenMode::Create)?;
        let result = runtime.block_on(app.bridge.restore_from(source, progress(bar.clone())));
        if let Some(bar) = &bar {
            bar.finish();
        }
        (result.map_err(fail)?, app.key_file.clone())
    };
    if let KeyFate::Replaced(old) = &replaced {
        let kept = keep_replaced_key(&key_file, old)?;
        let _ = writeln!(
            std::io::stderr(),
            "warning: {} held another key, which this restore replaced; it is kept in {} for any other database that used it",
            key_file.display(),
            kept.display()
        );
    }
    let key_path = key.map(|k| install_key(&key_file, &k)).transpose()?;
    // Opening again brings an older backup's schema up to date.
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    settled!(runtime.block_on(app.bridge.record_restore(&report, forced)));
    if args.no_key {
        let _ = writeln!(
            std::io::stderr(),
            "warning: --no-key kept this database's key file; the restored messages, notes and commands open only if the backup was made with the same key file (`mcp-bridge show` names any value that does not), and only then do the backup's console and HTTP tokens sign in (`console token list` and `http-token list` still show them; create new ones with `mcp-bridge console token create` and `mcp-bridge http-token create`)"
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
