//! `mcp-bridge yolo status`: the activations and proposals of every
//! conversation, as a table or as JSON, agent-written text made visible.

use std::io::Write;

use serde_json::json;

use super::output::{self, line};
use crate::domain::Timestamp;
use crate::store::{Activation, Proposal};

/// The screen `yolo` and its human stages write to.
pub(super) type Out = std::io::BufWriter<output::Screen<std::io::StdoutLock<'static>>>;

pub(super) fn print_status(
    out: &mut Out,
    activations: &[Activation],
    proposals: &[Proposal],
    as_json: bool,
) -> std::io::Result<()> {
    let now = Timestamp::now();
    if as_json {
        let a: Vec<_> = activations
            .iter()
            .map(|a| {
                json!({
                    "conversation_id": a.request.conversation.as_str(),
                    "state": if a.state == crate::store::ActivationState::Active && !a.is_active(now) { "expired" } else { a.state.as_str() },
                    "mode": a.request.mode.as_str(),
                    "workspace": a.request.workspace.display().to_string(),
                    "sandbox": a.request.sandbox,
                    "timeout_s": a.request.timeout_s,
                    "requested_by": a.request.requested_by.as_str(),
                    "requested_at": a.request.requested_at.to_rfc3339(),
                    "expires_at": a.expires_at.map(Timestamp::to_rfc3339),
                })
            })
            .collect();
        let p: Vec<_> = proposals
            .iter()
            .map(|p| {
                let mut v = json!({
                    "id": p.id, "conversation_id": p.conversation.as_str(), "side": p.side.as_str(), "command": p.command,
                    "mode": p.mode.as_str(), "state": p.state.as_str(), "created_at": p.created_at.to_rfc3339(),
                });
                // A command that does not open is null, never an empty
                // string a script could take for the text, and says why.
                if let Some(why) = &p.unreadable {
                    v["command"] = serde_json::Value::Null;
                    v["unreadable"] = json!(why);
                }
                v
            })
            .collect();
        let text = json!({ "activations": a, "proposals": p }).to_string();
        return writeln!(out, "{}", crate::display::json_safe(&text));
    }
    if activations.is_empty() {
        writeln!(out, "No YOLO activations.")?;
    }
    for a in activations {
        let state = match (a.state, a.is_active(now)) {
            (crate::store::ActivationState::Active, false) => "expired",
            (s, _) => s.as_str(),
        };
        let until = a
            .expires_at
            .map(|t| format!(" until {t}"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}  {state}{until}  mode {}  sandbox {}  workspace {}",
            a.request.conversation,
            a.request.mode,
            if a.request.sandbox { "on" } else { "OFF" },
            line(&a.request.workspace.to_string_lossy())
        )?;
    }
    for p in proposals {
        let command = match &p.unreadable {
            Some(why) => format!("[{why}]"),
            None => output::truncate(&line(&p.command).to_string(), 60),
        };
        writeln!(
            out,
            "  {}  {:<8}  side {}  {}  {}",
            line(&p.id),
            p.state.as_str(),
            p.side,
            p.created_at,
            command
        )?;
    }
    Ok(())
}
