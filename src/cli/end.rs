//! `mcp-bridge end CONV`: end a live conversation now (see
//! [`crate::service::Ended`]); `cleanup` then removes it.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::manage::{CommonArgs, open_app, roles, settled, stdout};
use super::output::{self, Color, Style};
use crate::domain::{ConversationId, Timestamp};
use crate::service::Ended;
use crate::store::sqlite::OpenMode;

/// Arguments of `end`.
#[derive(Debug, Args)]
pub struct EndArgs {
    /// The conversation (conv_ + 16 hex digits).
    #[arg(value_name = "CONV", value_parser = super::manage::parse_conversation)]
    conversation: ConversationId,
    #[command(flatten)]
    common: CommonArgs,
}

/// `mcp-bridge end`.
///
/// # Errors
/// Database or output failures.
pub fn end(args: EndArgs) -> anyhow::Result<ExitCode> {
    let app = open_app(&args.common.db, OpenMode::Existing)?;
    let ended =
        settled!(super::runtime()?.block_on(app.bridge.end_conversation(&args.conversation)));
    let mut out = stdout();
    if args.common.json {
        let value = match &ended {
            Ended::Now { conversation, at } => json!({
                "conversation_id": conversation.id.as_str(),
                "ended": true,
                "expires_at": at.to_rfc3339(),
                "was_to_expire_at": conversation.expires_at.to_rfc3339(),
            }),
            Ended::Already(c) => json!({
                "conversation_id": c.id.as_str(),
                "ended": false,
                "expires_at": c.expires_at.to_rfc3339(),
            }),
        };
        output::write_json(&mut out, &value)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::detect();
    let now = Timestamp::now();
    match &ended {
        Ended::Now {
            conversation: c, ..
        } => writeln!(
            out,
            "Ended {} ({}); it was to expire {}.\nIts tokens and invite codes no longer work; `mcp-bridge cleanup` removes it with its messages.",
            style.paint(c.id.as_str(), Color::Cyan),
            roles(c),
            output::when(c.expires_at, now),
        )?,
        Ended::Already(c) => writeln!(
            out,
            "{} had already expired {}; nothing changed. `mcp-bridge cleanup` removes it.",
            style.paint(c.id.as_str(), Color::Cyan),
            output::when(c.expires_at, now),
        )?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
