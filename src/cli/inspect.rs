//! The inspection commands: `list` (every conversation with counts and
//! heartbeats), `show` (one conversation and its messages) and `tokens`
//! (re-derived session tokens). They open an existing database and call the
//! service layer; agent-written text is passed through
//! shown through [`output::line`] and [`output::block`] (and table cells),
//! so it cannot act on the terminal.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::manage::{CommonArgs, open_app, parse_conversation, roles, settled, stdout};
use super::output::{self, Cell, Color, Style, Table};
use crate::domain::{ConversationId, Message, ParticipantKind, Sender, Side, Status, Timestamp};
use crate::store::sqlite::OpenMode;
use crate::store::{Conversation, ConversationSummary, MessageRecord, Participant};

/// Lines of a message `show` prints without `--full`.
const PREVIEW_LINES: usize = 3;
/// Characters of a line `show` prints without `--full`.
const PREVIEW_CHARS: usize = 200;

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

fn status_color(status: Status) -> Color {
    match status {
        Status::Working | Status::Complete => Color::Green,
        Status::Waiting => Color::Yellow,
        Status::Blocked => Color::Red,
    }
}

fn participant_json(p: &Participant, now: Timestamp, timeout_s: u64) -> Value {
    let status = p.status.as_ref();
    let age = status.map(|s| now.micros_since(s.updated_at).max(0) / 1_000_000);
    json!({
        "side": p.side.as_str(),
        "role": p.role,
        "kind": p.kind.as_str(),
        "joined_at": p.joined_at.map(Timestamp::to_rfc3339),
        "removed_at": p.removed_at.map(Timestamp::to_rfc3339),
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
    if shown.iter().any(|s| s.conversation.participants.len() != 2) {
        team_table(&shown, now, timeout).write(&mut out, style)?;
    } else {
        pair_table(&shown, now, timeout).write(&mut out, style)?;
    }
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

fn expiry_cell(c: &Conversation, now: Timestamp) -> Cell {
    if now >= c.expires_at {
        Cell::colored(
            format!("expired ({})", output::relative(c.expires_at, now)),
            Color::Red,
        )
    } else {
        Cell::plain(output::when(c.expires_at, now))
    }
}

/// `list` when some conversation has more than two participants: one row per
/// participant, the conversation's columns on its first row.
fn team_table(shown: &[&ConversationSummary], now: Timestamp, timeout: u64) -> Table {
    let mut table = Table::new(&[
        "ID", "CREATED", "EXPIRES", "MESSAGES", "SESSION", "ROLE", "KIND", "UNREAD", "STATUS",
    ]);
    for s in shown {
        let c = &s.conversation;
        for (i, p) in c.participants.iter().enumerate() {
            let head = if i == 0 {
                vec![
                    Cell::colored(c.id.as_str(), Color::Cyan),
                    output::when(c.created_at, now).into(),
                    expiry_cell(c, now),
                    s.messages.to_string().into(),
                ]
            } else {
                vec![
                    Cell::plain(""),
                    Cell::plain(""),
                    Cell::plain(""),
                    Cell::plain(""),
                ]
            };
            let unread = s.unread_by(p.side);
            let status = match p.removed_at {
                Some(at) => {
                    Cell::colored(format!("removed {}", output::relative(at, now)), Color::Dim)
                }
                None => status_cell(p, now, timeout),
            };
            let mut row = head;
            row.extend([
                p.side.as_str().into(),
                p.role.as_str().into(),
                p.kind.as_str().into(),
                if unread > 0 {
                    Cell::colored(unread.to_string(), Color::Yellow)
                } else {
                    Cell::plain(unread.to_string())
                },
                status,
            ]);
            table.row(row);
        }
    }
    table
}

/// `list` when every conversation has two participants: one row each.
fn pair_table(shown: &[&ConversationSummary], now: Timestamp, timeout: u64) -> Table {
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
    for s in shown {
        let c = &s.conversation;
        let unread = format!("{}/{}", s.unread_by(Side::A), s.unread_by(Side::B));
        let unread = if s.unread.iter().any(|(_, n)| *n > 0) {
            Cell::colored(unread, Color::Yellow)
        } else {
            Cell::plain(unread)
        };
        let status = |side| match c.participant(side) {
            None => Cell::plain("-"),
            Some(p) if p.removed_at.is_some() => Cell::colored("removed", Color::Dim),
            Some(p) => status_cell(p, now, timeout),
        };
        table.row(vec![
            Cell::colored(c.id.as_str(), Color::Cyan),
            roles(c).into(),
            output::when(c.created_at, now).into(),
            expiry_cell(c, now),
            s.messages.to_string().into(),
            unread,
            status(Side::A),
            status(Side::B),
        ]);
    }
    table
}

/// Who a message was addressed to: as stored, or, for a message from before
/// teams, every participant but its sender that had joined by then. Unknown (`None`) for the bridge's
/// own messages of that time, which went to one side only.
fn recipients<'c>(c: &'c Conversation, m: &Message) -> Option<Vec<&'c Participant>> {
    match (&m.to, m.from) {
        (Some(sides), _) => Some(
            c.participants
                .iter()
                .filter(|p| sides.contains(&p.side))
                .collect(),
        ),
        (None, Sender::System) => None,
        (None, Sender::Side(side)) => Some(c.everyone_else_at(side, m.created_at).collect()),
    }
}

fn message_json(c: &Conversation, m: &MessageRecord) -> Value {
    let msg = &m.message;
    json!({
        "id": msg.id,
        "created_at": msg.created_at.to_rfc3339(),
        "from": msg.from.as_str(),
        "from_role": msg.from_role,
        "to": recipients(c, msg).map(|to| to.iter().map(|p| p.side.as_str()).collect::<Vec<_>>()),
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
            "kind": p.kind.as_str(),
            "joined_at": p.joined_at.map(Timestamp::to_rfc3339),
            "removed_at": p.removed_at.map(Timestamp::to_rfc3339),
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
        .map(|p| {
            let mut notes = Vec::new();
            if p.kind == ParticipantKind::Observer {
                notes.push("observer");
            }
            if p.removed_at.is_some() {
                notes.push("removed");
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            };
            format!("{}: {}{notes}", p.side, output::line(&p.role))
        })
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
                    .map(|n| format!(" \"{}\"", output::line(n)))
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
        let to = recipients(c, msg);
        let direction = match (msg.from, &to) {
            (Sender::Side(side), Some(to)) => {
                let to: Vec<String> = to
                    .iter()
                    .map(|p| format!("{} ({})", p.side, output::line(&p.role)))
                    .collect();
                format!(
                    "{side} ({}) → {}",
                    output::line(&msg.from_role),
                    to.join(", ")
                )
            }
            _ => "bridge (system)".to_owned(),
        };
        let state = if m.unread_by.is_empty() {
            style.paint("read", Color::Dim)
        } else if to.is_some_and(|to| to.len() == m.unread_by.len()) {
            style.paint("unread", Color::Yellow)
        } else {
            let sides: Vec<&str> = m.unread_by.iter().map(|s| s.as_str()).collect();
            style.paint(&format!("unread by {}", sides.join(", ")), Color::Yellow)
        };
        writeln!(
            out,
            "\n{}  {}  {direction}  {}  {state}",
            style.paint(&format!("#{}", msg.id), Color::Bold),
            output::when(msg.created_at, now),
            msg.action_type,
        )?;
        let text = output::block(&msg.content);
        let text = text.as_str();
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
                .map(|f| output::line(f).to_string())
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
                .map(|p| p.role.clone())
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
