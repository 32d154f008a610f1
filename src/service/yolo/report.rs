//! The report of a finished command that goes to the partner.
//!
//! Its output sections are framed by a tag drawn after the command ended and
//! found in neither output: a command that prints `--- stderr ---` or a
//! fake "exit 0" cannot end its own section early, because it could not know
//! the tag.

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

/// A tag for the output sections that `stdout` and `stderr` do not contain.
///
/// # Errors
/// When the operating system cannot supply random bytes.
pub(super) fn section_tag(stdout: &str, stderr: &str) -> Result<String, ServiceError> {
    loop {
        let tag = super::random_id("out-")?;
        if !stdout.contains(&tag) && !stderr.contains(&tag) {
            return Ok(tag);
        }
    }
}

/// The whole report: what ran, where, how it ended, and its (redacted) output
/// framed by `tag` (see [`section_tag`]).
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
