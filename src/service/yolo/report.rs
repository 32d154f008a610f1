//! The report of a finished command that goes to the partner.

use super::RunPlan;
use crate::domain::Side;
use crate::runner::RunOutput;
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

/// The whole report: what ran, where, how it ended, and its (redacted) output.
#[allow(clippy::too_many_arguments)]
pub(super) fn partner_report(
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
        "Command run for session {side} (proposal {}), {} mode, {} in {}:\n$ {shown}\n{outcome} after {:.2} s\n",
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
    text.push_str(&format!(
        "--- stdout{} ---\n{stdout}\n--- stderr{} ---\n{stderr}\n",
        cut(output.stdout.truncated),
        cut(output.stderr.truncated)
    ));
    text
}
