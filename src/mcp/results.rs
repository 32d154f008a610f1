//! Tool outputs: the JSON objects returned as `structuredContent` (and as a
//! text copy), with the output schemas published in `tools/list`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::service::{
    Created, Delivered, Execution, Inbox, PartnerStatus, RunPlan, Sent, StatusUpdated,
};
use crate::store::Activation;

mod team;

pub use team::{
    CreateInviteResult, JoinConversationResult, ListMyConversationsResult, ParticipantInfo,
    RemoveParticipantResult, SendMessageResult,
};

/// Result of `create_conversation`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct CreateConversationResult {
    /// The new conversation's id.
    pub conversation_id: String,
    /// Your token (side "a"). Keep it secret.
    pub session_a_token: String,
    /// Your partner's token (side "b"); hand it over privately.
    pub session_b_token: String,
    /// When the conversation expires (RFC 3339, UTC).
    pub expires_at: String,
}

impl From<Created> for CreateConversationResult {
    fn from(c: Created) -> Self {
        Self {
            conversation_id: c.conversation.to_string(),
            session_a_token: c.token_a.to_hex(),
            session_b_token: c.token_b.to_hex(),
            expires_at: c.expires_at.to_rfc3339(),
        }
    }
}

/// Result of `send_to_partner`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct SendToPartnerResult {
    /// The stored message's id.
    pub message_id: i64,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
    /// Secrets removed before storage, counted per kind.
    pub redactions: BTreeMap<String, usize>,
}

impl From<Sent> for SendToPartnerResult {
    fn from(s: Sent) -> Self {
        Self {
            message_id: s.message_id,
            created_at: s.created_at.to_rfc3339(),
            redactions: s.redactions,
        }
    }
}

/// One delivered message.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct MessageView {
    /// Message id; ids increase in send order.
    pub id: i64,
    /// Its conversation.
    pub conversation_id: String,
    /// The sender's session id, or "system" for the bridge.
    pub from_session: String,
    /// The sender's role.
    pub from_role: String,
    /// What the message is for.
    pub action_type: String,
    /// The (redacted) text.
    pub content: String,
    /// Paths the message concerns.
    pub files_involved: Vec<String>,
    /// When it was sent (RFC 3339, UTC).
    pub created_at: String,
    /// The roles it was addressed to (observers see messages addressed to others too).
    pub to: Vec<String>,
}

impl From<Delivered> for MessageView {
    fn from(d: Delivered) -> Self {
        let m = d.message;
        Self {
            id: m.id,
            conversation_id: d.conversation.to_string(),
            from_session: m.from.as_str().to_owned(),
            from_role: m.from_role,
            action_type: m.action_type.as_str().to_owned(),
            content: m.content,
            files_involved: m.files_involved,
            created_at: m.created_at.to_rfc3339(),
            to: d.to,
        }
    }
}

/// Result of `check_messages`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct CheckMessagesResult {
    /// Your unread messages in send order; each is delivered only once.
    pub messages: Vec<MessageView>,
    /// Whether more messages are waiting beyond this page.
    pub more: bool,
}

impl From<Inbox> for CheckMessagesResult {
    fn from(i: Inbox) -> Self {
        Self {
            messages: i.messages.into_iter().map(MessageView::from).collect(),
            more: i.more,
        }
    }
}

/// Result of `update_my_status`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct UpdateMyStatusResult {
    /// The recorded status.
    pub status: String,
    /// When it was recorded (RFC 3339, UTC).
    pub updated_at: String,
}

impl From<StatusUpdated> for UpdateMyStatusResult {
    fn from(s: StatusUpdated) -> Self {
        Self {
            status: s.status.as_str().to_owned(),
            updated_at: s.updated_at.to_rfc3339(),
        }
    }
}

/// Result of `check_partner_status`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct CheckPartnerStatusResult {
    /// Your partner's role; null when nobody else is left (everyone else was removed).
    pub partner_role: Option<String>,
    /// working, waiting, blocked, complete; unknown before its first update; none when there is no partner.
    pub status: String,
    /// Its last note, if any.
    pub note: Option<String>,
    /// When it last updated its status (RFC 3339, UTC), if ever.
    pub last_heartbeat: Option<String>,
    /// Seconds since that update, if any.
    pub seconds_since_heartbeat: Option<u64>,
    /// Whether that update is recent enough to call the partner alive.
    pub alive: bool,
    /// Everyone taking part (you included), in session order.
    pub participants: Vec<ParticipantInfo>,
}

impl From<PartnerStatus> for CheckPartnerStatusResult {
    fn from(p: PartnerStatus) -> Self {
        Self {
            participants: p
                .participants
                .into_iter()
                .map(ParticipantInfo::from)
                .collect(),
            status: match (&p.partner_role, p.status) {
                (None, _) => "none",
                (Some(_), None) => "unknown",
                (Some(_), Some(s)) => s.as_str(),
            }
            .to_owned(),
            partner_role: p.partner_role,
            note: p.note,
            last_heartbeat: p.last_heartbeat.map(|t| t.to_rfc3339()),
            seconds_since_heartbeat: p.seconds_since_heartbeat,
            alive: p.alive,
        }
    }
}

/// Result of `enable_yolo_mode`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct EnableYoloModeResult {
    /// Always "pending_confirmation": nothing is enabled until a human confirms.
    pub status: String,
    /// The conversation.
    pub conversation_id: String,
    /// The requested mode.
    pub mode: String,
    /// The workspace, canonicalised.
    pub workspace: String,
    /// Per-command timeout in seconds.
    pub timeout_s: u32,
    /// Whether commands will run in the sandbox.
    pub sandbox: bool,
    /// What has to happen next.
    pub next_step: String,
}

impl From<Activation> for EnableYoloModeResult {
    fn from(a: Activation) -> Self {
        let r = a.request;
        Self {
            status: "pending_confirmation".into(),
            next_step: format!(
                "a human runs `mcp-bridge yolo confirm {}` in a terminal",
                r.conversation
            ),
            conversation_id: r.conversation.to_string(),
            mode: r.mode.as_str().into(),
            workspace: r.workspace.display().to_string(),
            timeout_s: r.timeout_s,
            sandbox: r.sandbox,
        }
    }
}

/// The snapshot taken before a command ran.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct SnapshotView {
    /// Its id (for `mcp-bridge yolo restore`).
    pub id: String,
    /// The git ref holding it.
    pub git_ref: String,
    /// The commit.
    pub commit: String,
}

/// Result of `execute_command`.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(transform = crate::mcp::output_schema)]
pub struct ExecuteCommandResult {
    /// "dry_run", "pending_approval" or "completed".
    pub status: String,
    /// The proposal (absent for a dry run).
    pub proposal_id: Option<String>,
    /// What runs: program and arguments.
    pub argv: Vec<String>,
    /// Whether it runs through `sh -c`.
    pub via_shell: bool,
    /// The mode it was checked under.
    pub mode: String,
    /// The working directory.
    pub workspace: String,
    /// Whether it runs in the sandbox (no network, read-only system, private /tmp).
    pub sandboxed: bool,
    /// Whether it may write to the workspace.
    pub writable_workspace: bool,
    /// Timeout in seconds (the whole process group is killed).
    pub timeout_s: u32,
    /// What has to happen next, if anything.
    pub next_step: Option<String>,
    /// Exit code (completed runs that exited).
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Whether the timeout killed it.
    pub timed_out: Option<bool>,
    /// Whether it was killed because YOLO mode was withdrawn while it ran
    /// (revoked, replaced, or the conversation ended).
    pub interrupted: Option<bool>,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: Option<u64>,
    /// Standard output (redacted, capped).
    pub stdout: Option<String>,
    /// Standard error (redacted, capped).
    pub stderr: Option<String>,
    /// Whether stdout was cut at the cap.
    pub stdout_truncated: Option<bool>,
    /// Whether stderr was cut at the cap.
    pub stderr_truncated: Option<bool>,
    /// The snapshot taken first, in a git workspace.
    pub snapshot: Option<SnapshotView>,
    /// The system message that told the partner.
    pub message_id: Option<i64>,
}

impl From<Execution> for ExecuteCommandResult {
    fn from(e: Execution) -> Self {
        let base = |status: &str, plan: &RunPlan| Self {
            status: status.into(),
            proposal_id: None,
            argv: plan.argv.clone(),
            via_shell: plan.via_shell,
            mode: plan.mode.as_str().into(),
            workspace: plan.workspace.display().to_string(),
            sandboxed: plan.sandboxed,
            writable_workspace: plan.writable_workspace,
            timeout_s: plan.timeout_s,
            next_step: None,
            exit_code: None,
            signal: None,
            timed_out: None,
            interrupted: None,
            duration_ms: None,
            stdout: None,
            stderr: None,
            stdout_truncated: None,
            stderr_truncated: None,
            snapshot: None,
            message_id: None,
        };
        match e {
            Execution::DryRun(plan) => base("dry_run", &plan),
            Execution::Proposed { proposal_id, plan } => Self {
                next_step: Some(format!(
                    "a human runs `mcp-bridge yolo approve {proposal_id}` and gives you the approval token; then call execute_command again with the same command and approval_token"
                )),
                proposal_id: Some(proposal_id),
                ..base("pending_approval", &plan)
            },
            Execution::Ran(run) => Self {
                proposal_id: Some(run.proposal_id),
                exit_code: run.exit_code,
                signal: run.signal,
                timed_out: Some(run.timed_out),
                interrupted: Some(run.interrupted),
                duration_ms: Some(u64::try_from(run.duration.as_millis()).unwrap_or(u64::MAX)),
                stdout: Some(run.stdout),
                stderr: Some(run.stderr),
                stdout_truncated: Some(run.stdout_truncated),
                stderr_truncated: Some(run.stderr_truncated),
                snapshot: run.snapshot.map(|s| SnapshotView {
                    id: s.id,
                    git_ref: s.git_ref,
                    commit: s.commit_id,
                }),
                message_id: Some(run.message_id),
                ..base("completed", &run.plan)
            },
        }
    }
}
