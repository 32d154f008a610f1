//! `mcp-bridge key rotate` and `key status`: the data keys of encryption at
//! rest. The rules (batches, retiring old epochs, audit) are in the service
//! layer; this module prints.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;

use super::manage::{CommonArgs, open_app};
use super::output;
use crate::service::RESEAL_BATCH;
use crate::store::sqlite::OpenMode;

/// Arguments of `key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Seal every stored value under a new data key, online, then delete the old key's salt.
    #[command(
        after_help = "Servers keep running; values are re-sealed in short transactions. A rotation\nthat is interrupted leaves everything readable; run it again to finish.\n\nExamples:\n  mcp-bridge key rotate\n  mcp-bridge key rotate --db /srv/bridge/bridge.db --json"
    )]
    Rotate(RotateArgs),
    /// Show the data-key epochs and how many stored values each one seals.
    #[command(after_help = "Example:\n  mcp-bridge key status --json")]
    Status(CommonArgs),
}

/// Arguments of `key rotate`.
#[derive(Debug, Args)]
struct RotateArgs {
    /// Rows re-sealed per transaction (smaller: servers wait less behind each batch).
    #[arg(long, value_name = "ROWS", default_value_t = RESEAL_BATCH,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch: u32,
    #[command(flatten)]
    common: CommonArgs,
}

/// For the crash tests only: abort (as a kill would) after this many batches.
/// Read by debug builds only (what `cargo test` runs), so a stray variable
/// can never break a real rotation.
const ABORT_AFTER_VAR: &str = "MCP_BRIDGE_TEST_ROTATE_ABORT_AFTER";

/// Runs `key …`.
///
/// # Errors
/// Database or key-file failures, or a stored value that does not open.
pub fn run(args: KeyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeyCommand::Rotate(args) => rotate(&args),
        KeyCommand::Status(common) => status(&common),
    }
}

fn rotate(rotate: &RotateArgs) -> anyhow::Result<ExitCode> {
    let args = &rotate.common;
    let app = open_app(&args.db, OpenMode::Existing)?;
    let abort_after: Option<u64> = cfg!(debug_assertions)
        .then(|| std::env::var(ABORT_AFTER_VAR).ok()?.parse().ok())
        .flatten();
    let batches = AtomicU64::new(0);
    let progress = Arc::new(move |_: &crate::store::data_keys::Resealed| {
        let done = batches.fetch_add(1, Ordering::Relaxed) + 1;
        if abort_after.is_some_and(|n| done >= n) {
            // As abrupt as a kill: no destructor, no flush, no audit record.
            std::process::abort();
        }
    });
    let rotation = super::runtime()?
        .block_on(app.bridge.rotate_data_key(rotate.batch, progress))
        .context("the rotation stopped; no key was retired, so every value readable before still is (run `mcp-bridge key rotate` again once the cause is fixed)")?;
    let mut out = output::screen();
    if args.json {
        output::write_json(
            &mut out,
            &json!({
                "database": app.db_name,
                "epoch": rotation.epoch,
                "scanned": rotation.resealed.scanned,
                "resealed": rotation.resealed.resealed,
                "were_plaintext": rotation.resealed.were_plain,
                "retired_epochs": rotation.retired.retired,
                "kept_epochs": rotation.retired.kept,
            }),
        )?;
    } else {
        writeln!(
            out,
            "Rotated the data key of {} to epoch {}: {} value{} re-sealed ({} of them plaintext until now) out of {} read.",
            app.db_name,
            rotation.epoch,
            rotation.resealed.resealed,
            if rotation.resealed.resealed == 1 {
                ""
            } else {
                "s"
            },
            rotation.resealed.were_plain,
            rotation.resealed.scanned,
        )?;
        if !rotation.retired.retired.is_empty() {
            writeln!(
                out,
                "Retired epoch{} {}: no value uses {} any more.",
                if rotation.retired.retired.len() == 1 {
                    ""
                } else {
                    "s"
                },
                join(&rotation.retired.retired),
                if rotation.retired.retired.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )?;
        }
        if !rotation.retired.kept.is_empty() {
            writeln!(
                out,
                "Kept epoch{} {}: values written meanwhile still use {}; run `mcp-bridge key rotate` again.",
                if rotation.retired.kept.len() == 1 {
                    ""
                } else {
                    "s"
                },
                join(&rotation.retired.kept),
                if rotation.retired.kept.len() == 1 {
                    "it"
                } else {
                    "them"
                },
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn status(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.db, OpenMode::Existing)?;
    let census = super::runtime()?.block_on(app.bridge.data_key_census())?;
    let mut out = output::screen();
    if args.json {
        output::write_json(
            &mut out,
            &json!({
                "database": app.db_name,
                "current_epoch": census.current,
                "epochs": census.epochs,
                "sealed": census.sealed.iter().map(|(e, n)| json!({"epoch": e, "values": n})).collect::<Vec<_>>(),
                "plaintext": census.plaintext,
                "plaintext_opens": census.legacy_allowed,
            }),
        )?;
    } else {
        writeln!(
            out,
            "Current data-key epoch: {} (salts held for epoch{} {}).",
            census.current,
            if census.epochs.len() == 1 { "" } else { "s" },
            join(&census.epochs)
        )?;
        for (epoch, n) in &census.sealed {
            writeln!(
                out,
                "  epoch {epoch}: {n} value{}",
                if *n == 1 { "" } else { "s" }
            )?;
        }
        let values = |n: u64| format!("{n} value{}", if n == 1 { "" } else { "s" });
        if census.plaintext > 0 && census.legacy_allowed {
            writeln!(
                out,
                "  plaintext: {} from before encryption at rest; `mcp-bridge key rotate` seals them",
                values(census.plaintext)
            )?;
        } else if census.plaintext > 0 {
            writeln!(
                out,
                "  not sealed: {} written into the database by something other than the bridge; they do not open (reading one names its row)",
                values(census.plaintext)
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn join(epochs: &[i64]) -> String {
    epochs
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
