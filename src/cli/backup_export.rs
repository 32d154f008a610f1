//! Export-based backups: what `backup` writes for a PostgreSQL database (whose
//! file cannot be copied) and how `restore` puts such a file back, into either
//! kind of database. The file is a sealed export of every conversation, read
//! from one snapshot; its key file travels beside it as `FILE.key`, as with a
//! file backup. Restoring replaces the database's conversations with the
//! file's in one transaction; the audit trail stays and records both.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use super::backup::{BackupArgs, RestoreArgs};
use super::manage::{open_app, settled};
use super::output;
use super::transfer::{backup_key_path, refused_on, write_private};
use crate::app::{self, App};
use crate::auth::ServerKey;
use crate::service::{Layout, write_export};
use crate::store::sqlite::OpenMode;

/// Whether `path` holds an export-based backup (a JSON document: a sealed
/// export, or a plaintext one) rather than a database file. Anything else
/// goes to the database-file restore, which says what is wrong with it.
///
/// # Errors
/// When the file cannot be read.
pub(super) fn is_export_file(path: &Path) -> anyhow::Result<bool> {
    let mut file = super::input::open_regular(path, &format!("cannot restore {}", path.display()))?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(head[..read]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{'))
}

/// The database as a human may see it: a PostgreSQL URL without its password.
fn shown_db(args: &super::DbArgs) -> anyhow::Result<String> {
    let path = args.db_path(None)?;
    Ok(app::pg_url(&path).map_or_else(|| path.display().to_string(), |u| u.to_string()))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `mcp-bridge backup FILE` on a PostgreSQL database, once `backup::backup`
/// has opened it, refused to overwrite and read the key file (`key`, to be
/// written to `key_dest`).
///
/// # Errors
/// Database or file-system failures.
pub(super) fn backup(
    args: &BackupArgs,
    app: &App,
    key: &[u8],
    key_dest: &Path,
) -> anyhow::Result<ExitCode> {
    let export = settled!(super::runtime()?.block_on(app.bridge.backup_export()));
    let mut plain = Vec::new();
    write_export(&mut plain, &export.records, export.at, Layout::Json)?;
    let sealed = app.bridge.seal_export(&plain)?;
    write_private(&args.file, |w| w.write_all(sealed.as_bytes()))?;
    write_private(key_dest, |w| w.write_all(key))?;
    let db = shown_db(&args.common.db)?;
    let (conversations, messages) = (export.records.len(), export.messages());
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "database": db,
                "backup": args.file,
                "key": key_dest,
                "kind": "export",
                "conversations": conversations,
                "messages": messages,
                "bytes": sealed.len(),
            }),
        )?;
    } else {
        writeln!(
            out,
            "Backed up {db} ({conversations} conversation{}, {messages} message{}; an export-based backup: \
             conversations, participants and messages, not the audit trail, YOLO state or tokens — use pg_dump for those) \
             to {}; the key is in {}. Keep both private: together they can re-create every session token.",
            plural(conversations),
            plural(messages),
            args.file.display(),
            key_dest.display()
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A target without a key file yet (a new SQLite database, or a PostgreSQL
/// deployment's first host) takes the backup's, so the restored
/// conversations keep their session tokens. Returns the key file written.
fn adopt_key(db: &super::DbArgs, backup_key: &Path) -> anyhow::Result<Option<PathBuf>> {
    let config = db.config.load()?;
    let path = db.db_path(None)?;
    let (target, fresh) = if app::pg_url(&path).is_some() {
        (app::pg_key_path(&config), true)
    } else {
        (app::key_file(&path, &config), !path.exists())
    };
    if !fresh || target.exists() {
        return Ok(None);
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key =
        fs::read(backup_key).with_context(|| format!("cannot read {}", backup_key.display()))?;
    write_private(&target, |w| w.write_all(&key))?;
    Ok(Some(target))
}

/// `mcp-bridge restore FILE` for an export-based backup, into either kind of
/// database.
///
/// # Errors
/// An unreadable, altered or foreign file, a missing key, database failures.
pub(super) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let bytes = super::input::read_file(&args.file, &format!("cannot restore {name}"))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        anyhow::anyhow!(
            "cannot restore {name}: it is neither a database file nor an export-based backup"
        )
    })?;
    let backup_key = if args.no_key {
        None
    } else {
        let path = backup_key_path(&args.file);
        let key = ServerKey::load(&path).map_err(|e| {
            // The key error names its cause already: not as context, or it shows twice.
            anyhow::anyhow!(
                "cannot restore {name}: its key file {} is unusable (add --no-key to open it with this database's key file): {e}",
                path.display()
            )
        })?;
        Some((key, path))
    };
    let installed = match &backup_key {
        Some((_, path)) => adopt_key(&args.common.db, path)?,
        None => None,
    };
    let app = match open_app(&args.common.db, OpenMode::Create) {
        Ok(app) => app,
        Err(e) => {
            if let Some(key) = installed {
                let _ = fs::remove_file(key);
            }
            return Err(e);
        }
    };
    let backup_key = backup_key.map(|(key, _)| key);
    let runtime = super::runtime()?;
    let held = settled!(runtime.block_on(app.bridge.list_conversations()))
        .conversations
        .len();
    let db = shown_db(&args.common.db)?;
    if held > 0 && !args.force {
        let text = format!(
            "{db} holds {held} conversation{}; restoring {name} replaces them all with the backup's. Add --force to do so",
            plural(held)
        );
        return refused_on(&runtime, &app, "restore", "not_empty", &text);
    }
    let restored = match runtime.block_on(app.bridge.restore_export(&text, backup_key.as_ref())) {
        Err(e) if !e.is_refusal() => {
            return Err(anyhow::Error::new(e).context(format!("cannot restore {name}")));
        }
        other => settled!(other),
    };
    // Session tokens derive from the key file: the restored conversations
    // keep theirs only if the backup came from a bridge with this one.
    let tokens_changed = backup_key.as_ref().is_some_and(|k| !app.bridge.has_key(k));
    if tokens_changed {
        let _ = writeln!(
            std::io::stderr(),
            "warning: {name} was made by a bridge with another key file: the restored conversations' session tokens changed (`mcp-bridge tokens CONV` shows the new ones)"
        );
    }
    let r = &restored.report;
    let mut out = output::screen();
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({
                "database": db,
                "backup": args.file,
                "kind": "export",
                "conversations_removed": r.conversations_removed,
                "conversations": r.conversations_added,
                "messages": r.messages_added,
                "redactions": restored.redactions,
                "tokens_changed": tokens_changed,
                "key": installed,
            }),
        )?;
    } else {
        writeln!(
            out,
            "Restored {name} (an export-based backup) into {db}: {} conversation{} and {} message{}{}.",
            r.conversations_added,
            plural(usize::try_from(r.conversations_added).unwrap_or(usize::MAX)),
            r.messages_added,
            plural(usize::try_from(r.messages_added).unwrap_or(usize::MAX)),
            if r.conversations_removed > 0 {
                format!(", replacing the {} it held", r.conversations_removed)
            } else {
                String::new()
            }
        )?;
        if let Some(key) = &installed {
            writeln!(
                out,
                "Its key file is now this database's: {}.",
                key.display()
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
