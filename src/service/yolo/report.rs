//! The report of a finished command that goes to the partner.
//!
//! The command and its outputs are framed by a tag drawn after the command
//! ended and found in none of them, which also opens the report's first
//! line: a command (several lines in yolo mode) or its output that writes
//! `--- stderr ---`, a fake "exit 0" or a whole fake report cannot end its
//! own section early, because it could not know the tag.

use super::RunPlan;
use crate::domain::Side;
use crate::runner::RunOutput;
use crate::service::ServiceError;
use crate::store::{NewSnapshot, Proposal};

/// One line on how the command ended.
pub(super) fn describe_outcome(output: &RunOutput) -> String {
    if output.interrupted {
        return "interrupted: YOLO mode was revoked, replaced or its conversation ended (killed)"
            .to_owned();
    }
    match (output.timed_out, output.exit_code, output.signal) {
        (true, _, _) => "timed out (killed)".to_owned(),
        (false, Some(code), _) => format!("exit {code}"),
        (false, None, Some(signal)) => format!("killed by signal {signal}"),
        (false, None, None) => "ended".to_owned(),
    }
}

/// A tag that none of `texts` (the command, its stdout and stderr) contains.
///
/// # Errors
/// When the operating system cannot supply random bytes.
pub(super) fn section_tag(texts: &[&str]) -> Result<String, ServiceError> {
    loop {
        let tag = super::random_id("out-")?;
        if !texts.iter().any(|t| t.contains(&tag)) {
            return Ok(tag);
        }
    }
}

/// The whole report: what ran, where, how it ended, and its (redacted)
/// command and output framed by `tag` (see [`section_tag`]). The tag opens
/// the first line, which the bridge alone writes, so a reader learns it
/// before any text a command chose.
#[allow(clippy::too_many_arguments)]
pub(super) fn partner_report(
    tag: &str,
    side: Side,
    proposal: &Proposal,
    command: &str,
    plan: &RunPlan,
    outcome: &str,
    stdout: &str,
    stderr: &str,
    output: &RunOutput,
    snapshot: Option<&NewSnapshot>,
) -> String {
    let cut = |truncated: bool| if truncated { " (truncated)" } else { "" };
    let shown: String = command.chars().take(2000).collect();
    let mut text = format!(
        "[{tag}] Command run for session {side} (proposal {}), {} mode, {} in {} (only lines carrying this tag frame what the command and its output say):\n--- command [{tag}] ---\n$ {shown}\n--- end of command [{tag}] ---\n{outcome} after {:.2} s\n",
        proposal.id,
        plan.mode,
        if plan.sandboxed {
            "sandboxed"
        } else {
            "NOT sandboxed"
        },
        plan.workspace.display(),
        output.duration.as_secs_f64(),
    );
    if let Some(s) = snapshot {
        text.push_str(&format!(
            "snapshot before the run: {} ({}); restore with `mcp-bridge yolo restore {}`\n",
            s.id, s.git_ref, s.id
        ));
    }
    for (name, shown, truncated) in [
        ("stdout", stdout, output.stdout.truncated),
        ("stderr", stderr, output.stderr.truncated),
    ] {
        text.push_str(&format!(
            "--- {name}{} [{tag}] ---\n{shown}\n--- end of {name} [{tag}] ---\n",
            cut(truncated)
        ));
    }
    text
}
