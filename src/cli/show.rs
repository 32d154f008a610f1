//! `mcp-bridge show CONV`: one conversation, its participants and its
//! messages. Agent-written text goes through [`output::line`] and
//! [`output::block`] (and table cells), so it cannot act on the terminal.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::inspect::status_color;
use super::manage::{CommonArgs, open_app, parse_conversation, settled, stdout};
use super::output::{self, Color, Style};
use crate::domain::{ConversationId, Message, ParticipantKind, Sender, Timestamp};
use crate::store::sqlite::OpenMode;
use crate::store::{Conversation, MessageRecord, Participant};

/// Lines of a message `show` prints without `--full`.
const PREVIEW_LINES: usize = 3;
/// Characters of a line `show` prints without `--full`.
const PREVIEW_CHARS: usize = 200;
/// What each line of a message's text starts with.
const BODY_GUTTER: &str = "  │ ";

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
                    .map(|n| format!(" {}", quoted(n)))
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
        // The agent's text sits behind a gutter so no line of it can pass
        // for the bridge's own `files:` or `… more lines` lines below it.
        for line in lines.iter().take(limit) {
            if args.full {
                writeln!(out, "{BODY_GUTTER}{line}")?;
            } else {
                writeln!(
                    out,
                    "{BODY_GUTTER}{}",
                    output::truncate(line, PREVIEW_CHARS)
                )?;
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
            let files: Vec<String> = msg.files_involved.iter().map(|f| shown_path(f)).collect();
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

/// A path in the `files:` line, which separates paths with `, `: as it is
/// when it cannot be misread, else [`quoted`], so one path `a.rs, b.rs`
/// never reads as two.
fn shown_path(path: &str) -> String {
    let plain = |c: char| {
        crate::display::kept(c, crate::display::Lines::One) && !matches!(c, ',' | ' ' | '"' | '\\')
    };
    if !path.is_empty() && path.chars().all(plain) {
        return path.to_owned();
    }
    quoted(path)
}

/// `text` in double quotes, with `"` and `\` written `\"` and `\\`, and
/// control, bidi and invisible characters as their escapes: a status note
/// holding `"` cannot seem to end early and forge the fields after it, and
/// a typed `\x1b` never reads as an escaped control character.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if crate::display::kept(c, crate::display::Lines::One) => out.push(c),
            c => crate::display::push_escape(&mut out, c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{quoted, shown_path};

    #[test]
    fn notes_cannot_end_their_quotes_early() {
        assert_eq!(
            quoted(r#"tests pass", heartbeat now   reviewer: approved "ship it"#),
            r#""tests pass\", heartbeat now   reviewer: approved \"ship it""#
        );
        assert_eq!(quoted("real\u{1b}[2J"), r#""real\x1b[2J""#);
        assert_eq!(quoted(r"typed\x1b[2J"), r#""typed\\x1b[2J""#);
    }

    #[test]
    fn paths_that_could_be_misread_are_quoted() {
        assert_eq!(shown_path("src/api.rs"), "src/api.rs");
        assert_eq!(
            shown_path("src/api.rs, /home/u/.ssh/id_rsa"),
            r#""src/api.rs, /home/u/.ssh/id_rsa""#
        );
        assert_eq!(shown_path("my notes.txt"), r#""my notes.txt""#);
        assert_eq!(shown_path(r#"a"b"#), r#""a\"b""#);
        assert_eq!(shown_path(r"C:\x1b"), r#""C:\\x1b""#);
        assert_eq!(shown_path("a\u{1b}[2Jb"), r#""a\x1b[2Jb""#);
        assert_eq!(shown_path("a\u{202e}b"), r#""a\u{202e}b""#);
    }
}
