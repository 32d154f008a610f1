//! The commands that move conversations as JSON: `export` and `import`
//! (`backup` and `restore` are in `cli::backup`). They call the service
//! layer for everything that touches the database; this module handles the
//! files around it (output files written privately and atomically) and the
//! helpers the backup commands share.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::manage::{CommonArgs, open_app, parse_conversation, settled};
use super::output;
use crate::app::{self, App};
use crate::auth::ServerKey;
use crate::domain::ConversationId;
use crate::service::{
    EXPORT_FORMAT, EXPORT_VERSION, Layout, MergeLimits, ServiceError, is_sealed, validate_export,
    validate_sealed_export, write_export,
};
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

/// `FILE.key`: where a backup's key file goes.
pub(super) fn backup_key_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// What `path` would replace of the bridge's own files — the database, its
/// journal files, the key file or the operator passphrase — if anything: an
/// export or backup written there with `--force` destroyed the key (and so
/// every sealed message and the export itself) or the live database.
/// Compared by directory entry, which is what the write renames over.
pub(super) fn own_file(app: &App, path: &Path) -> Option<String> {
    let entry = |p: &Path| -> Option<PathBuf> {
        let p = std::path::absolute(p).ok()?;
        let dir = p
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        Some(fs::canonicalize(&dir).unwrap_or(dir).join(p.file_name()?))
    };
    let target = entry(path)?;
    let mut own = vec![
        ("the key file", app.key_file.clone()),
        (
            "the operator passphrase",
            app.db_path.with_file_name(crate::operator::FILE_NAME),
        ),
    ];
    if app::pg_url(&app.db_path).is_none() {
        own.push(("the database", app.db_path.clone()));
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = app.db_path.as_os_str().to_owned();
            name.push(suffix);
            own.push(("the database's journal", PathBuf::from(name)));
        }
    }
    // A protected file may itself be a symlink (`bridge.key -> /secrets/…`):
    // writing over its target destroys it as surely.
    let target_real = fs::canonicalize(path).ok();
    own.into_iter()
        .find(|(_, p)| {
            let real = fs::canonicalize(p).ok();
            entry(p).is_some_and(|p| p == target)
                || real
                    .as_ref()
                    .is_some_and(|r| *r == target || target_real.as_ref() == Some(r))
        })
        .map(|(what, p)| {
            format!(
                "{} is {what} ({}); write it elsewhere",
                path.display(),
                p.display()
            )
        })
}

/// A private temporary name beside `path`, for writing before an atomic rename.
pub(super) fn partial_path(path: &Path) -> PathBuf {
    super::beside(path, &format!("partial-{}", std::process::id()))
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
pub(super) fn refused(app: &App, action: &str, code: &str, text: &str) -> anyhow::Result<ExitCode> {
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

/// `mcp-bridge export`.
///
/// # Errors
/// Database, file or output failures.
pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    if let Some(text) = args.output.as_deref().and_then(|p| own_file(&app, p)) {
        return refused(&app, "export", "own_file", &text);
    }
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
    let what = format!("cannot import {name}");
    let bytes = if from_stdin {
        super::input::read_stdin(&what)?
    } else {
        super::input::read_file(&args.file, &what)?
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("cannot import {name}: the file is not UTF-8 text"))?;
    let db = args.common.db.db_path(None)?;
    // Only an SQLite file can be new here: a PostgreSQL URL names no file,
    // and its database exists already (the import checks the file whole).
    let created = app::pg_url(&db).is_none() && !db.exists();
    if created {
        // Do not leave an empty database behind for a file that cannot be imported.
        let config = args.common.db.config.load()?;
        let limits = MergeLimits {
            max_pending: config.bridge.limits.max_pending_messages,
            max_participants: config.bridge.teams.max_participants,
        };
        let ttl_us = config.bridge.conversation_ttl_us;
        if is_sealed(&text) {
            let key_file = app::key_file(&db, &config);
            let key = ServerKey::load(&key_file).map_err(|e| {
                // The key error names its cause already: not as context, or it shows twice.
                anyhow::anyhow!(
                    "cannot import {name}: it is sealed with a key file, and there is none at {} yet; put the key file of the bridge it came from there first: {e}",
                    key_file.display()
                )
            })?;
            validate_sealed_export(&key, &text, limits, ttl_us)
        } else {
            validate_export(&text, limits, ttl_us)
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
