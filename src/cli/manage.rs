//! The audit and upkeep commands, `audit` and `cleanup`, and what every
//! management command shares: the `--db`/`--config`/`--json` options, opening
//! an existing database through [`App`], and turning a service outcome into an
//! exit code. Commands call the service layer (`Bridge`'s management methods)
//! only; output goes through [`super::output`].

use std::io::{BufWriter, Write};

use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::DbArgs;
use super::output::{self, Cell, Color, Style, Table};
use crate::app::App;
use crate::audit::{AuditRecord, Outcome};
use crate::domain::{ConversationId, Timestamp};
use crate::service::ServiceError;
use crate::store::sqlite::OpenMode;
use crate::store::{AuditPrune, AuditQuery, Conversation};

/// Audit records shown when no limit is given.
const DEFAULT_AUDIT_LIMIT: u32 = 50;

/// Options every management command shares.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Print JSON instead of text, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A conversation to filter on and/or how many records to show (the seed's
    /// `audit [CONV] [LIMIT]` form).
    #[arg(value_name = "CONV|LIMIT", num_args = 0..=2)]
    positional: Vec<String>,
    /// Show at most N of the newest matching records [default: 50].
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
    /// Only records at or after TIME: RFC 3339, a date (2026-01-31, UTC), or an
    /// age such as 30m, 2h, 7d.
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    since: Option<Timestamp>,
    /// Only records of this action (a tool or command name, e.g. send_to_partner, cleanup).
    #[arg(long, value_name = "ACTION")]
    action: Option<String>,
    /// Walk the whole hash chain and report the first record that was altered,
    /// inserted or removed (exit 1 if any).
    #[arg(long, conflicts_with_all = ["positional", "limit", "since", "action"])]
    verify: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Parses a conversation id argument.
pub(super) fn parse_conversation(text: &str) -> Result<ConversationId, String> {
    ConversationId::parse(text).map_err(|_| {
        format!("{text:?} is not a conversation id (conv_ followed by 16 lowercase hex digits)")
    })
}

/// Parses `--since`: RFC 3339, a UTC date, or an age before now.
fn parse_since(text: &str) -> Result<Timestamp, String> {
    crate::domain::parse_since(text, Timestamp::now())
}

/// Opens the database named by `db` for a management command.
///
/// # Errors
/// A bad configuration, or a database or key that cannot be opened.
pub(super) fn open_app(db: &DbArgs, mode: OpenMode) -> anyhow::Result<App> {
    let config = db.config.load()?;
    super::init_logging("warn");
    let path = db.db_path(None)?;
    App::open(&path, config, mode)
}

/// Splits a management outcome into its value, or a refusal (printed, exit 1),
/// or an error (exit 2).
pub(super) fn settle<T>(result: Result<T, ServiceError>) -> anyhow::Result<Result<T, ExitCode>> {
    settle_refusing(result, |_| false)
}

/// [`settle`], where the errors `refused` picks are refusals too: a command
/// for which "not there" or "in use" is an answer, not a failure.
pub(super) fn settle_refusing<T>(
    result: Result<T, ServiceError>,
    refused: impl Fn(&ServiceError) -> bool,
) -> anyhow::Result<Result<T, ExitCode>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_refusal() || refused(&e) => {
            output::error_line(&e.to_string());
            Ok(Err(ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Unwraps a [`settle`]d value or returns its exit code.
macro_rules! settled {
    ($e:expr) => {
        match $crate::cli::manage::settle($e)? {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
}
pub(super) use settled;

/// Standard output as a human-facing [`output::Screen`].
pub(super) fn stdout() -> BufWriter<output::Screen<std::io::StdoutLock<'static>>> {
    output::screen()
}

/// The roles of a conversation's participants, `a ↔ b`; a removed one's
/// role is left out (it may have been given to someone else since).
pub(super) fn roles(c: &Conversation) -> String {
    c.participants
        .iter()
        .filter(|p| p.removed_at.is_none())
        .map(|p| output::line(&p.role).to_string())
        .collect::<Vec<_>>()
        .join(" ↔ ")
}

fn audit_json(r: &AuditRecord) -> Value {
    let d = &r.draft;
    json!({
        "seq": r.seq,
        "at": r.at.to_rfc3339(),
        "actor": d.actor,
        "action": d.action,
        "conversation_id": d.conversation,
        "side": d.side,
        "outcome": d.outcome.as_str(),
        "code": d.code,
        "bytes": d.bytes,
        "count": d.count,
        "detail": d.detail,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    })
}

/// Sorts the seed's positional `[CONV] [LIMIT]` into a conversation and a limit.
fn positional_filters(
    args: &[String],
    limit: Option<u32>,
) -> anyhow::Result<(Option<ConversationId>, u32)> {
    let mut conversation = None;
    let mut positional_limit = None;
    for arg in args {
        if let Ok(id) = ConversationId::parse(arg) {
            anyhow::ensure!(conversation.is_none(), "give at most one conversation");
            conversation = Some(id);
        } else if let Ok(n) = arg.parse::<u32>() {
            anyhow::ensure!(positional_limit.is_none(), "give at most one limit");
            positional_limit = Some(n);
        } else {
            anyhow::bail!(
                "{arg:?} is neither a conversation id (conv_ + 16 hex digits) nor a number of records"
            );
        }
    }
    anyhow::ensure!(
        positional_limit.is_none() || limit.is_none(),
        "give the limit either as --limit N or positionally, not both"
    );
    let limit = limit.or(positional_limit).unwrap_or(DEFAULT_AUDIT_LIMIT);
    // Zero would print "no records match" about records that do exist.
    anyhow::ensure!(limit > 0, "the limit must be at least 1 record");
    Ok((conversation, limit))
}

/// `mcp-bridge audit`.
///
/// # Errors
/// Bad arguments, database or output failures.
pub fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let (conversation, limit) = positional_filters(&args.positional, args.limit)?;
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let runtime = super::runtime()?;
    let mut out = stdout();
    let style = Style::detect();
    if args.verify {
        let report = settled!(runtime.block_on(app.bridge.verify_audit()));
        if args.common.json {
            let fault = report
                .fault
                .as_ref()
                .map(|f| json!({"kind": f.kind(), "seq": f.seq(), "message": f.to_string()}));
            let pruned = report.pruned.as_ref().map(|p| {
                json!({"records": p.records, "first_kept": p.first_seq,
                       "through": Timestamp::from_micros(p.through_us).to_rfc3339()})
            });
            output::write_json(
                &mut out,
                &json!({"intact": report.fault.is_none(), "records": report.records, "head": report.head,
                        "keyed_from": report.keyed_from, "pruned": pruned, "fault": fault}),
            )?;
        } else if let Some(fault) = &report.fault {
            writeln!(
                out,
                "{} {fault} (found after checking {} record{})",
                style.paint("audit trail BROKEN:", Color::Red),
                report.records,
                if report.records == 1 { "" } else { "s" }
            )?;
        } else {
            writeln!(
                out,
                "{} {} record{}, every hash matches and the chain head is record {}",
                style.paint("audit trail intact:", Color::Green),
                report.records,
                if report.records == 1 { "" } else { "s" },
                report.head.unwrap_or(0)
            )?;
            if let Some(p) = &report.pruned {
                writeln!(
                    out,
                    "{} older record{} pruned for retention (through {}); the trail continues from record {}",
                    p.records,
                    if p.records == 1 { " was" } else { "s were" },
                    Timestamp::from_micros(p.through_us).to_rfc3339(),
                    p.first_seq
                )?;
            }
        }
        out.flush()?;
        return Ok(if report.fault.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let query = AuditQuery {
        conversation,
        since: args.since,
        action: args.action,
        limit,
    };
    let records = settled!(runtime.block_on(app.bridge.audit_trail(query)));
    if args.common.json {
        output::write_json(
            &mut out,
            &json!({"records": records.iter().map(audit_json).collect::<Vec<_>>()}),
        )?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if records.is_empty() {
        writeln!(out, "No audit records match.")?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = Timestamp::now();
    let mut table = Table::new(&[
        "SEQ",
        "TIME",
        "ACTOR",
        "ACTION",
        "CONVERSATION",
        "SIDE",
        "OUTCOME",
        "DETAIL",
    ]);
    for r in &records {
        let d = &r.draft;
        let outcome = match (d.outcome, &d.code) {
            (Outcome::Ok, _) => Cell::colored("ok", Color::Green),
            (o, Some(code)) => Cell::colored(format!("{} {code}", o.as_str()), Color::Red),
            (o, None) => Cell::colored(o.as_str(), Color::Red),
        };
        let mut detail = Vec::new();
        if let Some(b) = d.bytes {
            detail.push(format!("bytes={b}"));
        }
        if let Some(n) = d.count {
            detail.push(format!("count={n}"));
        }
        if let Some(text) = &d.detail {
            detail.push(text.clone());
        }
        table.row(vec![
            r.seq.to_string().into(),
            output::when(r.at, now).into(),
            d.actor.into(),
            d.action.as_str().into(),
            d.conversation.as_deref().unwrap_or("-").into(),
            d.side.as_deref().unwrap_or("-").into(),
            outcome,
            detail.join(" ").into(),
        ]);
    }
    table.write(&mut out, style)?;
    if records.len() == limit as usize {
        writeln!(
            out,
            "{}",
            style.paint(
                &format!("(the newest {limit}; --limit N shows more)"),
                Color::Dim
            )
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `mcp-bridge cleanup`.
///
/// # Errors
/// Database or output failures.
pub fn cleanup(args: CleanupArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let report = settled!(super::runtime()?.block_on(app.bridge.cleanup(args.dry_run)));
    let mut out = stdout();
    if args.common.json {
        let removed: Vec<Value> = report
            .removed
            .iter()
            .map(|r| {
                let c = &r.conversation;
                json!({
                    "id": c.id.as_str(),
                    "roles": c.participants.iter().map(|p| (p.side.as_str().to_owned(), json!(p.role))).collect::<serde_json::Map<_, _>>(),
                    "created_at": c.created_at.to_rfc3339(),
                    "expires_at": c.expires_at.to_rfc3339(),
                    "messages": r.messages,
                    "unread": r.unread,
                })
            })
            .collect();
        output::write_json(
            &mut out,
            &json!({
                "dry_run": report.dry_run,
                "conversations": removed,
                "removed_conversations": report.removed.len(),
                "removed_messages": report.messages(),
                "removed_rate_buckets": report.rate_buckets,
                "removed_mcp_sessions": report.mcp_sessions,
                "audit_pruned": match &report.audit {
                    AuditPrune::Pruned { records, first_kept } => json!({"records": records, "first_kept": first_kept}),
                    AuditPrune::Refused(why) => json!({"refused": why}),
                    AuditPrune::Off | AuditPrune::Nothing => Value::Null,
                },
            }),
        )?;
        out.flush()?;
        return Ok(prune_exit(&report.audit));
    }
    let style = Style::detect();
    let verb = if report.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    if report.removed.is_empty() {
        writeln!(
            out,
            "No expired conversations; nothing {}.",
            if report.dry_run {
                "would be removed"
            } else {
                "removed"
            }
        )?;
    } else {
        let n = report.removed.len();
        writeln!(
            out,
            "{verb} {n} expired conversation{} with {} message{}:",
            if n == 1 { "" } else { "s" },
            report.messages(),
            if report.messages() == 1 { "" } else { "s" },
        )?;
        let now = Timestamp::now();
        let mut table = Table::new(&["ID", "ROLES", "EXPIRED", "MESSAGES", "UNREAD"]);
        for r in &report.removed {
            let c = &r.conversation;
            table.row(vec![
                Cell::colored(c.id.as_str(), Color::Cyan),
                roles(c).into(),
                output::when(c.expires_at, now).into(),
                r.messages.to_string().into(),
                r.unread.to_string().into(),
            ]);
        }
        table.write(&mut out, style)?;
    }
    if report.rate_buckets > 0 {
        writeln!(
            out,
            "{verb} {} rate-limit counter{}.",
            report.rate_buckets,
            if report.rate_buckets == 1 { "" } else { "s" }
        )?;
    }
    if report.mcp_sessions > 0 {
        writeln!(
            out,
            "{verb} {} HTTP MCP session{} with no conversation left.",
            report.mcp_sessions,
            if report.mcp_sessions == 1 { "" } else { "s" }
        )?;
    }
    match &report.audit {
        AuditPrune::Off | AuditPrune::Nothing => {}
        AuditPrune::Pruned {
            records,
            first_kept,
        } => writeln!(
            out,
            "{verb} {records} audit record{} older than the retention (audit.retention_days); the trail now starts at record {first_kept}, after a signed checkpoint.",
            if *records == 1 { "" } else { "s" },
        )?,
        AuditPrune::Refused(why) => writeln!(
            out,
            "{} {why}",
            style.paint("Audit records were not pruned:", Color::Red)
        )?,
    }
    if report.dry_run {
        writeln!(out, "Dry run: nothing was deleted.")?;
    } else if !report.removed.is_empty() {
        writeln!(
            out,
            "The audit trail is kept; this cleanup is recorded in it."
        )?;
    }
    out.flush()?;
    Ok(prune_exit(&report.audit))
}

/// Exit 1 when pruning was refused (the trail is not intact), 0 otherwise.
fn prune_exit(prune: &AuditPrune) -> ExitCode {
    if matches!(prune, AuditPrune::Refused(_)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
