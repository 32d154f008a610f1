//! The inspection and upkeep commands: `list`, `show`, `tokens`, `audit` and
//! `cleanup`. Each opens an existing database through [`App`] and calls the
//! service layer (`Bridge`'s management methods); output goes through
//! [`super::output`].

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::DbArgs;
use super::output::{self, Cell, Color, Style, Table};
use crate::app::App;
use crate::audit::{AuditRecord, Outcome};
use crate::domain::{ConversationId, Sender, Side, Status, Timestamp};
use crate::service::AdminError;
use crate::store::sqlite::OpenMode;
use crate::store::{AuditQuery, Conversation, MessageRecord, Participant};

/// Audit records shown when no limit is given.
const DEFAULT_AUDIT_LIMIT: u32 = 50;
/// Lines of a message `show` prints without `--full`.
const PREVIEW_LINES: usize = 3;
/// Characters of a line `show` prints without `--full`.
const PREVIEW_CHARS: usize = 200;

/// Options every management command shares.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Print JSON instead of text, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Hide expired conversations.
    #[arg(long)]
    active: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The conversation (conv_ + 16 hex digits).
    #[arg(value_name = "CONV", value_parser = parse_conversation)]
    conversation: ConversationId,
    /// Print every message in full (default: the first lines of each).
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `tokens`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    /// The conversation (conv_ + 16 hex digits).
    #[arg(value_name = "CONV", value_parser = parse_conversation)]
    conversation: ConversationId,
    /// Print the tokens of an expired conversation too.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
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
    if let Ok(t) = Timestamp::parse_rfc3339(text) {
        return Ok(t);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(Timestamp::from_micros(zoned.timestamp().as_microsecond()));
    }
    let bad = || {
        format!(
            "{text:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z), a date (2026-01-31) or an age (30m, 2h, 7d)"
        )
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let micros = n.checked_mul(seconds * 1_000_000).ok_or_else(bad)?;
    Ok(Timestamp::now().plus_micros(-micros))
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
pub(super) fn settle<T>(result: Result<T, AdminError>) -> anyhow::Result<Result<T, ExitCode>> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(e) if e.is_refusal() => {
            let _ = writeln!(std::io::stderr(), "mcp-bridge: {e}");
            Ok(Err(ExitCode::from(1)))
        }
        Err(e) => Err(e.into()),
    }
}

/// Unwraps a [`settle`]d value or returns its exit code.
macro_rules! settled {
    ($e:expr) => {
        match settle($e)? {
            Ok(v) => v,
            Err(code) => return Ok(code),
        }
    };
}

fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::new(std::io::stdout().lock())
}

fn status_color(status: Status) -> Color {
    match status {
        Status::Working | Status::Complete => Color::Green,
        Status::Waiting => Color::Yellow,
        Status::Blocked => Color::Red,
    }
}

fn roles(c: &Conversation) -> String {
    c.participants
        .iter()
        .map(|p| output::sanitize(&p.role))
        .collect::<Vec<_>>()
        .join(" ↔ ")
}

fn participant_json(p: &Participant, now: Timestamp, timeout_s: u64) -> Value {
    let status = p.status.as_ref();
    let age = status.map(|s| now.micros_since(s.updated_at).max(0) / 1_000_000);
    json!({
        "side": p.side.as_str(),
        "role": p.role,
        "status": status.map(|s| s.status.as_str()),
        "note": status.and_then(|s| s.note.as_deref()),
        "last_heartbeat": status.map(|s| s.updated_at.to_rfc3339()),
        "seconds_since_heartbeat": age,
        "alive": age.is_some_and(|a| u64::try_from(a).unwrap_or(u64::MAX) <= timeout_s),
    })
}

/// A side's status for a table cell: `working, 12 s ago`, or `unknown`.
fn status_cell(p: &Participant, now: Timestamp, timeout_s: u64) -> Cell {
    match &p.status {
        None => Cell::colored("unknown", Color::Dim),
        Some(s) => {
            let age = u64::try_from(now.micros_since(s.updated_at).max(0) / 1_000_000).unwrap_or(0);
            let text = format!("{}, {}", s.status, output::relative(s.updated_at, now));
            if age > timeout_s {
                Cell::colored(format!("{text} (stale)"), Color::Dim)
            } else {
                Cell::colored(text, status_color(s.status))
            }
        }
    }
}

/// `mcp-bridge list`.
///
/// # Errors
/// Database or output failures.
pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let listing = settled!(super::runtime()?.block_on(app.bridge.list_conversations()));
    let now = listing.at;
    let timeout = listing.heartbeat_timeout_s;
    let shown: Vec<_> = listing
        .conversations
        .iter()
        .filter(|c| !args.active || now < c.conversation.expires_at)
        .collect();
    let mut out = stdout();
    if args.common.json {
        let conversations: Vec<Value> = shown
            .iter()
            .map(|s| {
                let c = &s.conversation;
                let unread: serde_json::Map<String, Value> = s
                    .unread
                    .iter()
                    .map(|(side, n)| (side.as_str().to_owned(), json!(n)))
                    .collect();
                json!({
                    "id": c.id.as_str(),
                    "created_at": c.created_at.to_rfc3339(),
                    "expires_at": c.expires_at.to_rfc3339(),
                    "expired": now >= c.expires_at,
                    "participants": c.participants.iter().map(|p| participant_json(p, now, timeout)).collect::<Vec<_>>(),
                    "messages": {"total": s.messages, "unread": unread},
                    "last_message_at": s.last_message_at.map(Timestamp::to_rfc3339),
                })
            })
            .collect();
        output::write_json(&mut out, &json!({ "conversations": conversations }))?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::detect();
    if shown.is_empty() {
        writeln!(
            out,
            "No {}conversations.",
            if args.active { "active " } else { "" }
        )?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "ID",
        "ROLES (A ↔ B)",
        "CREATED",
        "EXPIRES",
        "MESSAGES",
        "UNREAD A/B",
        "A STATUS",
        "B STATUS",
    ]);
    for s in &shown {
        let c = &s.conversation;
        let expires = if now >= c.expires_at {
            Cell::colored(
                format!("expired ({})", output::relative(c.expires_at, now)),
                Color::Red,
            )
        } else {
            Cell::plain(output::when(c.expires_at, now))
        };
        let unread = format!("{}/{}", s.unread_by(Side::A), s.unread_by(Side::B));
        let unread = if s.unread.iter().any(|(_, n)| *n > 0) {
            Cell::colored(unread, Color::Yellow)
        } else {
            Cell::plain(unread)
        };
        let status = |side| {
            c.participant(side)
                .map_or_else(|| Cell::plain("-"), |p| status_cell(p, now, timeout))
        };
        table.row(vec![
            Cell::colored(c.id.as_str(), Color::Cyan),
            roles(c).into(),
            output::when(c.created_at, now).into(),
            expires,
            s.messages.to_string().into(),
            unread,
            status(Side::A),
            status(Side::B),
        ]);
    }
    table.write(&mut out, style)?;
    let expired = shown
        .iter()
        .filter(|s| now >= s.conversation.expires_at)
        .count();
    writeln!(
        out,
        "\n{} conversation{}{}",
        shown.len(),
        if shown.len() == 1 { "" } else { "s" },
        if expired > 0 {
            format!(" ({expired} expired; `mcp-bridge cleanup` removes them)")
        } else {
            String::new()
        }
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Who receives a message: every participant but its sender.
fn recipients(c: &Conversation, from: Sender) -> Vec<&Participant> {
    c.participants
        .iter()
        .filter(|p| Sender::Side(p.side) != from)
        .collect()
}

fn message_json(c: &Conversation, m: &MessageRecord) -> Value {
    let msg = &m.message;
    json!({
        "id": msg.id,
        "created_at": msg.created_at.to_rfc3339(),
        "from": msg.from.as_str(),
        "from_role": msg.from_role,
        "to": recipients(c, msg.from).iter().map(|p| p.side.as_str()).collect::<Vec<_>>(),
        "action_type": msg.action_type.as_str(),
        "read": m.unread_by.is_empty(),
        "unread_by": m.unread_by.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "content": msg.content,
        "files_involved": msg.files_involved,
    })
}

fn conversation_json(c: &Conversation, now: Timestamp) -> Value {
    json!({
        "id": c.id.as_str(),
        "created_at": c.created_at.to_rfc3339(),
        "expires_at": c.expires_at.to_rfc3339(),
        "expired": now >= c.expires_at,
        "participants": c.participants.iter().map(|p| json!({
            "side": p.side.as_str(),
            "role": p.role,
            "status": p.status.as_ref().map(|s| s.status.as_str()),
            "note": p.status.as_ref().and_then(|s| s.note.as_deref()),
            "last_heartbeat": p.status.as_ref().map(|s| s.updated_at.to_rfc3339()),
        })).collect::<Vec<_>>(),
    })
}

/// `mcp-bridge show CONV`.
///
/// # Errors
/// Database or output failures.
pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let shown =
        settled!(super::runtime()?.block_on(app.bridge.show_conversation(&args.conversation)));
    let now = shown.at;
    let c = &shown.record.conversation;
    let messages = &shown.record.messages;
    let mut out = stdout();
    if args.common.json {
        let value = json!({
            "conversation": conversation_json(c, now),
            "messages": messages.iter().map(|m| message_json(c, m)).collect::<Vec<_>>(),
        });
        output::write_json(&mut out, &value)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::detect();
    let label = |text: &str| style.paint(&format!("{text:<10}"), Color::Bold);
    writeln!(
        out,
        "{} {}",
        style.paint("Conversation", Color::Bold),
        style.paint(c.id.as_str(), Color::Cyan)
    )?;
    let role_line: Vec<String> = c
        .participants
        .iter()
        .map(|p| format!("{}: {}", p.side, output::sanitize(&p.role)))
        .collect();
    writeln!(out, "  {}{}", label("roles"), role_line.join("   "))?;
    writeln!(
        out,
        "  {}{}",
        label("created"),
        output::when(c.created_at, now)
    )?;
    let expiry = if now >= c.expires_at {
        style.paint(
            &format!("expired {}", output::when(c.expires_at, now)),
            Color::Red,
        )
    } else {
        output::when(c.expires_at, now)
    };
    writeln!(out, "  {}{expiry}", label("expires"))?;
    for (i, p) in c.participants.iter().enumerate() {
        let text = match &p.status {
            None => style.paint("unknown (no heartbeat yet)", Color::Dim),
            Some(s) => {
                let note = s
                    .note
                    .as_deref()
                    .map(|n| format!(" \"{}\"", output::sanitize(n)))
                    .unwrap_or_default();
                format!(
                    "{}{note}, heartbeat {}",
                    style.paint(s.status.as_str(), status_color(s.status)),
                    output::when(s.updated_at, now)
                )
            }
        };
        let head = if i == 0 {
            label("status")
        } else {
            " ".repeat(10)
        };
        writeln!(out, "  {head}{}: {text}", p.side)?;
    }
    let unread: Vec<String> = c
        .participants
        .iter()
        .map(|p| {
            let n = messages
                .iter()
                .filter(|m| m.unread_by.contains(&p.side))
                .count();
            format!("{} {n}", p.side)
        })
        .collect();
    writeln!(
        out,
        "  {}{} (unread: {})",
        label("messages"),
        messages.len(),
        unread.join(", ")
    )?;
    for m in messages {
        let msg = &m.message;
        let from = match msg.from {
            Sender::System => "system".to_owned(),
            Sender::Side(side) => format!("{side} ({})", output::sanitize(&msg.from_role)),
        };
        let to: Vec<String> = recipients(c, msg.from)
            .iter()
            .map(|p| format!("{} ({})", p.side, output::sanitize(&p.role)))
            .collect();
        let state = if m.unread_by.is_empty() {
            style.paint("read", Color::Dim)
        } else if m.unread_by.len() == recipients(c, msg.from).len() {
            style.paint("unread", Color::Yellow)
        } else {
            let sides: Vec<&str> = m.unread_by.iter().map(|s| s.as_str()).collect();
            style.paint(&format!("unread by {}", sides.join(", ")), Color::Yellow)
        };
        writeln!(
            out,
            "\n{}  {}  {from} → {}  {}  {state}",
            style.paint(&format!("#{}", msg.id), Color::Bold),
            output::when(msg.created_at, now),
            to.join(", "),
            msg.action_type,
        )?;
        let text = output::sanitize(&msg.content);
        let lines: Vec<&str> = text.lines().collect();
        let limit = if args.full {
            lines.len()
        } else {
            PREVIEW_LINES
        };
        for line in lines.iter().take(limit) {
            if args.full {
                writeln!(out, "    {line}")?;
            } else {
                writeln!(out, "    {}", output::truncate(line, PREVIEW_CHARS))?;
            }
        }
        if lines.len() > limit {
            let more = lines.len() - limit;
            writeln!(
                out,
                "    {}",
                style.paint(
                    &format!(
                        "… {more} more line{} (--full shows all)",
                        if more == 1 { "" } else { "s" }
                    ),
                    Color::Dim
                )
            )?;
        }
        if !msg.files_involved.is_empty() {
            let files: Vec<String> = msg
                .files_involved
                .iter()
                .map(|f| output::sanitize(f))
                .collect();
            writeln!(
                out,
                "    {} {}",
                style.paint("files:", Color::Dim),
                files.join(", ")
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `mcp-bridge tokens CONV`.
///
/// # Errors
/// Database or output failures.
pub fn tokens(args: TokensArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let revealed = settled!(
        super::runtime()?.block_on(app.bridge.reveal_tokens(&args.conversation, args.force))
    );
    let _ = writeln!(
        std::io::stderr(),
        "warning: these are secret session tokens; whoever holds one can act in the conversation. \
         Do not paste them into logs, issues or chats."
    );
    let c = &revealed.conversation;
    let mut out = stdout();
    if args.common.json {
        let mut value = json!({
            "conversation_id": c.id.as_str(),
            "expires_at": c.expires_at.to_rfc3339(),
            "expired": revealed.expired,
        });
        for (side, token) in &revealed.tokens {
            value[format!("session_{side}_token")] = json!(token.to_hex());
        }
        output::write_json(&mut out, &value)?;
    } else {
        let now = Timestamp::now();
        let style = Style::detect();
        let expiry = if revealed.expired {
            style.paint(
                &format!("expired {}", output::when(c.expires_at, now)),
                Color::Red,
            )
        } else {
            format!("expires {}", output::when(c.expires_at, now))
        };
        writeln!(out, "{}  {expiry}", style.paint(c.id.as_str(), Color::Cyan))?;
        let mut table = Table::new(&["SIDE", "ROLE", "TOKEN"]);
        for (side, token) in &revealed.tokens {
            let role = c
                .participant(*side)
                .map(|p| output::sanitize(&p.role))
                .unwrap_or_default();
            table.row(vec![
                side.as_str().into(),
                role.into(),
                token.to_hex().into(),
            ]);
        }
        table.write(&mut out, style)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
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
    Ok((
        conversation,
        limit.or(positional_limit).unwrap_or(DEFAULT_AUDIT_LIMIT),
    ))
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
            output::write_json(
                &mut out,
                &json!({"intact": report.fault.is_none(), "records": report.records, "head": report.head, "fault": fault}),
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
            detail.push(output::sanitize(text));
        }
        table.row(vec![
            r.seq.to_string().into(),
            output::when(r.at, now).into(),
            d.actor.into(),
            output::sanitize(&d.action).into(),
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
            }),
        )?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
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
    if report.dry_run {
        writeln!(out, "Dry run: nothing was deleted.")?;
    } else if !report.removed.is_empty() {
        writeln!(
            out,
            "The audit trail is kept; this cleanup is recorded in it."
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
