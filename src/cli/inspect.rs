//! The inspection commands `list` (every conversation with counts and
//! heartbeats) and `tokens` (re-derived session tokens); `show` is in its
//! own module. They open an existing database and call the service layer;
//! agent-written text is shown through table cells, which neutralise
//! anything that could act on the terminal.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::manage::{CommonArgs, open_app, parse_conversation, roles, settled, stdout};
use super::output::{self, Cell, Color, Style, Table};
use crate::domain::{ConversationId, Side, Status, Timestamp};
use crate::store::sqlite::OpenMode;
use crate::store::{Conversation, ConversationSummary, Participant};

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Hide expired conversations.
    #[arg(long)]
    active: bool,
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

pub(super) fn status_color(status: Status) -> Color {
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
