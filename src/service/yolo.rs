//! YOLO mode, the agents' side: asking for command execution
//! (`enable_yolo_mode`) and proposing, dry-running or — with a human's
//! approval token — running a command (`execute_command`).
//!
//! Every step fails closed: the server must have opted in, a human must have
//! confirmed the activation in a terminal, the policy must accept the command
//! for the activation's mode, and the approval token must match this
//! conversation and this exact command text and not have been used.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Bridge, ServiceError, session_draft};
use crate::audit::AuditDraft;
use crate::domain::{InvalidValue, Side, Timestamp, YoloMode};
use crate::runner::{self, Limits, RunOutput, SandboxSettings, policy, snapshot};
use crate::store::{
    Activation, ActivationRequest, Guard, NewMessage, NewSnapshot, Proposal, ProposalState,
    YoloStore,
};

use super::SessionCredentials;

/// YOLO settings the service needs.
#[derive(Debug, Clone)]
pub struct YoloSettings {
    /// Whether this server offers command execution at all.
    pub enabled: bool,
    /// How long a confirmed activation lasts, in microseconds.
    pub activation_ttl_us: i64,
    /// How long an approval token stays valid, in microseconds.
    pub approval_ttl_us: i64,
    /// Whether `sandbox: false` is accepted.
    pub allow_unsandboxed: bool,
    /// Bytes kept of stdout and of stderr each.
    pub max_output_bytes: usize,
    /// Resource limits of a command.
    pub limits: Limits,
    /// Host paths bound read-only into the sandbox (toolchains).
    pub extra_ro_binds: Vec<PathBuf>,
    /// Directories hidden inside the sandbox (the bridge's data directory).
    pub hide: Vec<PathBuf>,
}

impl Default for YoloSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            activation_ttl_us: 60 * 60_000_000,
            approval_ttl_us: 5 * 60_000_000,
            allow_unsandboxed: false,
            max_output_bytes: 16 * 1024,
            limits: Limits::default(),
            extra_ro_binds: Vec::new(),
            hide: Vec::new(),
        }
    }
}

/// Arguments of `enable_yolo_mode`.
#[derive(Debug, Clone)]
pub struct EnableYolo {
    /// How much commands may do.
    pub mode: YoloMode,
    /// An existing directory.
    pub workspace: String,
    /// Per-command timeout, 1–600 s.
    pub timeout_s: u32,
    /// Run commands in the sandbox.
    pub sandbox: bool,
}

/// Arguments of `execute_command`.
#[derive(Debug, Clone)]
pub struct ExecuteCommand {
    /// The command text.
    pub command: String,
    /// Only say what would run.
    pub dry_run: bool,
    /// A human's approval token for exactly this command.
    pub approval_token: Option<String>,
}

/// Where a command would run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The program and arguments.
    pub argv: Vec<String>,
    /// Whether it goes through `sh -c` (yolo mode).
    pub via_shell: bool,
    /// The mode it was checked under.
    pub mode: YoloMode,
    /// The working directory.
    pub workspace: PathBuf,
    /// Whether it runs in the sandbox.
    pub sandboxed: bool,
    /// Whether the workspace is writable inside.
    pub writable_workspace: bool,
    /// The timeout.
    pub timeout_s: u32,
    /// Resource limits.
    pub limits: Limits,
}

/// What `execute_command` did.
#[derive(Debug, Clone)]
pub enum Execution {
    /// `dry_run`: nothing stored, nothing run.
    DryRun(RunPlan),
    /// Stored as a proposal waiting for a human.
    Proposed {
        /// Its id.
        proposal_id: String,
        /// What would run.
        plan: RunPlan,
    },
    /// Approved and run.
    Ran(CommandRun),
}

/// A finished command.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// The proposal it ran for.
    pub proposal_id: String,
    /// What ran.
    pub plan: RunPlan,
    /// Exit code, if it exited.
    pub exit_code: Option<i32>,
    /// Signal, if one ended it.
    pub signal: Option<i32>,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// How long it took.
    pub duration: Duration,
    /// Redacted standard output (capped).
    pub stdout: String,
    /// Redacted standard error (capped).
    pub stderr: String,
    /// Whether stdout was cut.
    pub stdout_truncated: bool,
    /// Whether stderr was cut.
    pub stderr_truncated: bool,
    /// The snapshot taken before it ran, if the workspace is a git repository.
    pub snapshot: Option<NewSnapshot>,
    /// The system message sent to the partner.
    pub message_id: i64,
}

/// Longest command text quoted in the audit trail.
const AUDIT_COMMAND_CHARS: usize = 200;

/// A random id `prefix` + 16 hex digits.
pub(super) fn random_id(prefix: &str) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(crate::store::StoreError::Backend(Box::new(e))))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// SHA-256 of an approval token, as stored.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

impl<S: YoloStore> Bridge<S> {
    fn yolo_draft(
        &self,
        tool: &'static str,
        creds: &SessionCredentials,
        command: Option<&str>,
    ) -> AuditDraft {
        let mut draft = session_draft(tool, creds);
        if let Some(command) = command {
            draft.bytes = Some(i64::try_from(command.len()).unwrap_or(i64::MAX));
            let redacted = self.redactor.get().redact(command).text.into_owned();
            draft.detail = Some(format!(
                "command={}",
                redacted
                    .chars()
                    .take(AUDIT_COMMAND_CHARS)
                    .collect::<String>()
            ));
        }
        draft
    }

    /// The sandbox for an activation, or why commands cannot run.
    fn sandbox_for(
        &self,
        activation: &Activation,
    ) -> Result<Option<SandboxSettings>, ServiceError> {
        if !activation.request.sandbox {
            if !self.settings.yolo.allow_unsandboxed {
                return Err(ServiceError::SandboxUnavailable(
                    "running without the sandbox is not allowed by this server's configuration (yolo.allow_unsandboxed)".into(),
                ));
            }
            return Ok(None);
        }
        let bwrap = runner::find_bwrap().ok_or_else(|| {
            ServiceError::SandboxUnavailable(runner::RunError::NoSandbox.to_string())
        })?;
        Ok(Some(SandboxSettings {
            bwrap,
            writable_workspace: activation.request.mode == YoloMode::Yolo,
            hide: self.settings.yolo.hide.clone(),
            extra_ro_binds: self.settings.yolo.extra_ro_binds.clone(),
        }))
    }

    /// Asks for command execution in `conversation`; a human must confirm it.
    ///
    /// # Errors
    /// Authentication, `yolo_disabled`, a missing workspace or a refused unsandboxed request.
    pub async fn enable_yolo_mode(
        &self,
        creds: &SessionCredentials,
        enable: EnableYolo,
    ) -> Result<Activation, ServiceError> {
        const TOOL: &str = "enable_yolo_mode";
        let at = self.clock.now();
        let mut draft = session_draft(TOOL, creds);
        draft.detail = Some(format!(
            "mode={} sandbox={} timeout_s={}",
            enable.mode, enable.sandbox, enable.timeout_s
        ));
        self.authorize(creds, &draft, at).await?;
        if !self.settings.yolo.enabled {
            return Err(self.refuse(draft, ServiceError::YoloDisabled).await);
        }
        let workspace = match std::fs::canonicalize(&enable.workspace) {
            Ok(p) if p.is_dir() => p,
            _ => {
                let e = InvalidValue::new("workspace", "must be an existing directory");
                return Err(self.refuse(draft, e.into()).await);
            }
        };
        if !enable.sandbox && !self.settings.yolo.allow_unsandboxed {
            let e = ServiceError::SandboxUnavailable(
                "sandbox: false is not allowed by this server's configuration (yolo.allow_unsandboxed)".into(),
            );
            return Err(self.refuse(draft, e).await);
        }
        let request = ActivationRequest {
            conversation: creds.conversation.clone(),
            requested_by: creds.side,
            mode: enable.mode,
            workspace,
            timeout_s: enable.timeout_s,
            sandbox: enable.sandbox,
            requested_at: at,
        };
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit: draft.clone(),
        };
        if let Err(e) = self.store.request_activation(request.clone(), guard).await {
            return Err(self.refuse(draft, e.into()).await);
        }
        Ok(Activation {
            request,
            state: crate::store::ActivationState::Pending,
            confirmed_at: None,
            expires_at: None,
        })
    }

    /// Proposes, dry-runs, or (with an approval token) runs a command.
    ///
    /// # Errors
    /// Authentication, `yolo_disabled`, `yolo_not_active`, `command_refused`,
    /// approval refusals, `sandbox_unavailable` or `snapshot_failed`.
    pub async fn execute_command(
        &self,
        creds: &SessionCredentials,
        exec: ExecuteCommand,
    ) -> Result<Execution, ServiceError> {
        const TOOL: &str = "execute_command";
        let at = self.clock.now();
        let draft = self.yolo_draft(TOOL, creds, Some(&exec.command));
        self.authorize(creds, &draft, at).await?;
        if !self.settings.yolo.enabled {
            return Err(self.refuse(draft, ServiceError::YoloDisabled).await);
        }
        let activation = match self.store.activation(&creds.conversation).await {
            Ok(Some(a)) if a.is_active(at) => a,
            Ok(_) => {
                let e = ServiceError::YoloNotActive {
                    conversation: creds.conversation.to_string(),
                };
                return Err(self.refuse(draft, e).await);
            }
            Err(e) => return Err(self.refuse(draft, e.into()).await),
        };
        let mode = activation.request.mode;
        let checked = policy::evaluate(&exec.command, mode, &activation.request.workspace);
        let plan = match checked {
            Ok(p) => p,
            Err(refusal) => {
                let e = ServiceError::CommandRefused {
                    rule: refusal.rule,
                    detail: refusal.detail,
                };
                return Err(self.refuse(draft, e).await);
            }
        };
        let sandbox = match self.sandbox_for(&activation) {
            Ok(s) => s,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let plan = RunPlan {
            argv: plan.argv,
            via_shell: plan.via_shell,
            mode,
            workspace: activation.request.workspace.clone(),
            sandboxed: sandbox.is_some(),
            writable_workspace: sandbox.as_ref().is_none_or(|s| s.writable_workspace),
            timeout_s: activation.request.timeout_s,
            limits: self.settings.yolo.limits,
        };
        if exec.dry_run {
            let mut d = draft;
            d.detail = d.detail.map(|c| format!("dry_run {c}"));
            self.audit(d).await;
            return Ok(Execution::DryRun(plan));
        }
        let Some(token) = exec.approval_token else {
            return self
                .propose(creds, exec.command, mode, plan, draft, at)
                .await;
        };
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit: draft.clone(),
        };
        let proposal = match self
            .store
            .redeem_approval(
                creds.conversation.clone(),
                exec.command,
                token_hash(&token),
                guard,
            )
            .await
        {
            Ok(Ok(p)) => p,
            // The store audited the refusal in the same transaction.
            Ok(Err(refusal)) => return Err(ServiceError::ApprovalRefused(refusal)),
            Err(e) => return Err(self.refuse(draft, e.into()).await),
        };
        self.run_approved(creds, proposal, plan, sandbox, draft)
            .await
    }

    async fn propose(
        &self,
        creds: &SessionCredentials,
        command: String,
        mode: YoloMode,
        plan: RunPlan,
        draft: AuditDraft,
        at: Timestamp,
    ) -> Result<Execution, ServiceError> {
        let id = random_id("prop_")?;
        let proposal = Proposal {
            id: id.clone(),
            conversation: creds.conversation.clone(),
            side: creds.side,
            command,
            mode,
            created_at: at,
            state: ProposalState::Pending,
            decided_at: None,
            approval_expires_at: None,
            used_at: None,
        };
        let mut audit = draft.clone();
        audit.detail = audit.detail.map(|c| format!("proposal={id} {c}"));
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit,
        };
        match self.store.create_proposal(proposal, guard).await {
            Ok(()) => Ok(Execution::Proposed {
                proposal_id: id,
                plan,
            }),
            Err(e) => Err(self.refuse(draft, e.into()).await),
        }
    }

    async fn run_approved(
        &self,
        creds: &SessionCredentials,
        proposal: Proposal,
        plan: RunPlan,
        sandbox: Option<SandboxSettings>,
        draft: AuditDraft,
    ) -> Result<Execution, ServiceError> {
        let snapshot_id = random_id("snap_")?;
        let snapshot = match snapshot::take(&plan.workspace, &snapshot_id, sandbox.as_ref()).await {
            Ok(snapshot::Taken::NotARepository) => None,
            Ok(snapshot::Taken::Snapshot { git_ref, commit }) => Some(NewSnapshot {
                id: snapshot_id,
                proposal_id: proposal.id.clone(),
                git_ref,
                commit_id: commit,
            }),
            Err(e) => {
                let message = self.redactor.get().redact(&e.to_string()).text.into_owned();
                return Err(self
                    .refuse(draft, ServiceError::SnapshotFailed(message))
                    .await);
            }
        };
        let spec = runner::RunSpec {
            argv: plan.argv.clone(),
            workspace: plan.workspace.clone(),
            sandbox,
            timeout: Duration::from_secs(u64::from(plan.timeout_s)),
            limits: plan.limits,
            max_output_bytes: self.settings.yolo.max_output_bytes,
        };
        let output = match runner::run(&spec).await {
            Ok(o) => o,
            Err(e) => {
                let e = ServiceError::SandboxUnavailable(e.to_string());
                return Err(self.refuse(draft, e).await);
            }
        };
        self.report_run(creds, proposal, plan, output, snapshot, draft)
            .await
    }

    async fn report_run(
        &self,
        creds: &SessionCredentials,
        proposal: Proposal,
        plan: RunPlan,
        output: RunOutput,
        snapshot: Option<NewSnapshot>,
        mut draft: AuditDraft,
    ) -> Result<Execution, ServiceError> {
        let redactor = self.redactor.get();
        let stdout = redactor
            .redact(&String::from_utf8_lossy(&output.stdout.bytes))
            .text
            .into_owned();
        let stderr = redactor
            .redact(&String::from_utf8_lossy(&output.stderr.bytes))
            .text
            .into_owned();
        let command = redactor.redact(&proposal.command).text.into_owned();
        let at = self.clock.now();
        let outcome = describe_outcome(&output);
        let content = partner_report(
            creds.side,
            &proposal,
            &command,
            &plan,
            &outcome,
            &stdout,
            &stderr,
            &output,
            snapshot.as_ref(),
        );
        let message = NewMessage {
            conversation: creds.conversation.clone(),
            from: crate::domain::Sender::System,
            action_type: crate::domain::ActionType::System,
            content,
            files_involved: Vec::new(),
            created_at: at,
            to: Some(creds.side.partner()),
        };
        draft.count = output.exit_code.map(i64::from);
        draft.detail = Some(format!(
            "ran proposal={} {outcome} duration_ms={} sandbox={} {}",
            proposal.id,
            output.duration.as_millis(),
            plan.sandboxed,
            draft.detail.unwrap_or_default()
        ));
        let guard = Guard {
            at,
            session: None,
            quota: None,
            audit: draft.clone(),
        };
        let snapshot_row = snapshot.clone().map(|s| (s, plan.workspace.clone()));
        let message_id = match self.store.record_run(message, snapshot_row, guard).await {
            Ok(id) => id,
            Err(e) => return Err(self.refuse(draft, e.into()).await),
        };
        Ok(Execution::Ran(CommandRun {
            proposal_id: proposal.id,
            plan,
            exit_code: output.exit_code,
            signal: output.signal,
            timed_out: output.timed_out,
            duration: output.duration,
            stdout,
            stderr,
            stdout_truncated: output.stdout.truncated,
            stderr_truncated: output.stderr.truncated,
            snapshot,
            message_id,
        }))
    }
}

fn describe_outcome(output: &RunOutput) -> String {
    match (output.timed_out, output.exit_code, output.signal) {
        (true, _, _) => "timed out (killed)".to_owned(),
        (false, Some(code), _) => format!("exit {code}"),
        (false, None, Some(signal)) => format!("killed by signal {signal}"),
        (false, None, None) => "ended".to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn partner_report(
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
