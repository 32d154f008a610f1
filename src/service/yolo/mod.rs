//! YOLO mode, the agents' side: asking for command execution
//! (`enable_yolo_mode`) and proposing, dry-running or — with a human's
//! approval token — running a command (`execute_command`).
//!
//! Every step fails closed: the server must have opted in, a human must have
//! confirmed the activation in a terminal, the policy must accept the command
//! for the activation's mode, and the approval token must match this
//! conversation and this exact command text and not have been used.

use std::time::Duration;

use super::own_tokens::redact_session_tokens;
use super::{Bridge, ServiceError, session_draft};
use crate::audit::AuditDraft;
use crate::domain::{Timestamp, YoloMode};
use crate::runner::{self, RunOutput, SandboxSettings, policy, snapshot};
use crate::store::{
    Activation, ActivationRequest, Guard, NewMessage, NewSnapshot, Proposal, ProposalState,
    YoloStore,
};

use super::SessionCredentials;

mod hidden;
mod report;
mod secrets;
mod types;
mod watch;
mod workspace;

pub use types::{CommandRun, EnableYolo, ExecuteCommand, Execution, RunPlan, YoloSettings};
pub(in crate::service) use workspace::stored_workspace_allowed;

use report::{describe_outcome, partner_report, section_tag};

/// A random id `prefix` + 16 hex digits.
pub(super) fn random_id(prefix: &str) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServiceError::Internal(crate::store::StoreError::Backend(Box::new(e))))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
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
            // Client text never goes into the trail, even redacted (the call
            // may not even be authenticated): its size and a keyed digest
            // that matches the same text again.
            draft.bytes = Some(i64::try_from(command.len()).unwrap_or(i64::MAX));
            draft.detail = Some(format!(
                "command_digest={}",
                self.audit_key.text_digest(command)
            ));
        }
        draft
    }

    /// The sandbox for an activation, or why commands cannot run.
    fn sandbox_for(
        &self,
        activation: &Activation,
        hide: Vec<std::path::PathBuf>,
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
            hide,
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
        let caller = self.authorize(creds, &draft, at).await?;
        if !self.settings.yolo.enabled {
            return Err(self.refuse(draft, ServiceError::YoloDisabled));
        }
        if !caller.kind.may_send() {
            let e = ServiceError::Forbidden("observers cannot ask for or run commands".into());
            return Err(self.refuse(draft, e));
        }
        let hide = match self.hidden_paths().await {
            Ok(h) => h,
            Err(e) => return Err(self.refuse(draft, e)),
        };
        let workspace = match workspace::check(&enable.workspace, &hide, enable.sandbox) {
            Ok(p) => p,
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        if let Err(e) =
            self.refuse_secret_workspace(&creds.conversation, &enable.workspace, &workspace)
        {
            return Err(self.refuse(draft, e));
        }
        if !enable.sandbox && !self.settings.yolo.allow_unsandboxed {
            let e = ServiceError::SandboxUnavailable(
                "sandbox: false is not allowed by this server's configuration (yolo.allow_unsandboxed)".into(),
            );
            return Err(self.refuse(draft, e));
        }
        // A confirmed activation is the human's decision for whoever asked:
        // another member replacing it would void its approvals and queue
        // (a teammate's denial of service), so only its requester or the
        // owner may.
        match self.store.activation(&creds.conversation).await {
            Ok(Some(current))
                if current.is_active(at)
                    && current.request.requested_by != creds.side
                    && !caller.kind.may_manage() =>
            {
                let e = ServiceError::Forbidden(format!(
                    "YOLO mode is active for this conversation, as session {} asked and a human confirmed; only that session or the owner may replace it",
                    current.request.requested_by.as_str()
                ));
                return Err(self.refuse(draft, e));
            }
            Ok(_) => {}
            Err(e) => return Err(self.refuse(draft, e.into())),
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
            return Err(self.refuse(draft, e.into()));
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
        let caller = self.authorize(creds, &draft, at).await?;
        if !self.settings.yolo.enabled {
            return Err(self.refuse(draft, ServiceError::YoloDisabled));
        }
        if !caller.kind.may_send() {
            let e = ServiceError::Forbidden("observers cannot ask for or run commands".into());
            return Err(self.refuse(draft, e));
        }
        let activation = match self.store.activation(&creds.conversation).await {
            Ok(Some(a)) if a.is_active(at) => a,
            Ok(_) => {
                // `mcp-bridge end` revokes the mode with the conversation, in
                // one commit, maybe just after the authorisation above: then
                // the conversation's end is the answer, not the mode's.
                self.authorize(creds, &draft, self.clock.now()).await?;
                let e = ServiceError::YoloNotActive {
                    conversation: creds.conversation.to_string(),
                };
                return Err(self.refuse(draft, e));
            }
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        if let Err(e) = workspace::stored_workspace_allowed(&activation) {
            return Err(self.refuse(draft, e));
        }
        if let Err(e) = self.refuse_secrets(&creds.conversation, &exec.command) {
            return Err(self.refuse(draft, e));
        }
        let mode = activation.request.mode;
        let checked = policy::evaluate(&exec.command, mode, &activation.request.workspace);
        let plan = match checked {
            Ok(p) => p,
            Err(refusal) => {
                let e = ServiceError::CommandRefused {
                    rule: refusal.rule,
                    detail: refusal.detail,
                };
                return Err(self.refuse(draft, e));
            }
        };
        let hide = match self.hidden_paths().await {
            Ok(h) => h,
            Err(e) => return Err(self.refuse(draft, e)),
        };
        let sandbox = match self.sandbox_for(&activation, hide.clone()) {
            Ok(s) => s,
            Err(e) => return Err(self.refuse(draft, e)),
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
            self.audit(d);
            return Ok(Execution::DryRun(plan));
        }
        // A proposal stores the command and a run its output (up to
        // yolo.max_output_bytes): refused before either, and before the run.
        self.within_storage_budget(&draft, at).await?;
        let Some(token) = exec.approval_token else {
            return self
                .propose(creds, exec.command, mode, plan, draft, at)
                .await;
        };
        // The session, without a quota, tells the store who redeems: only
        // the side that proposed the command may run it.
        let guard = Guard {
            at,
            session: Some((creds.conversation.clone(), creds.side)),
            quota: None,
            audit: draft.clone(),
        };
        let proposal = match self
            .store
            .redeem_approval(
                creds.conversation.clone(),
                exec.command,
                self.credential_digest(token.trim()),
                guard,
            )
            .await
        {
            Ok(Ok(p)) => p,
            // The store audited the refusal in the same transaction.
            Ok(Err(refusal)) => return Err(ServiceError::ApprovalRefused(refusal)),
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        let under = activation.request.requested_at;
        self.run_approved(creds, proposal, plan, (sandbox, hide, under), draft)
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
        const TOOL: &str = "execute_command";
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
            unreadable: None,
        };
        let mut audit = draft.clone();
        audit.detail = audit.detail.map(|c| format!("proposal={id} {c}"));
        // Every proposal waits for a human: the session's rate quota and the
        // store's cap on undecided proposals keep one agent from burying a
        // bad command among thousands, or filling the disk.
        let guard = self.guard(creds, TOOL, at, audit);
        match self.store.create_proposal(proposal, guard).await {
            Ok(()) => Ok(Execution::Proposed {
                proposal_id: id,
                plan,
            }),
            Err(e) => Err(self.refuse(draft, e.into())),
        }
    }

    async fn run_approved(
        &self,
        creds: &SessionCredentials,
        proposal: Proposal,
        plan: RunPlan,
        (sandbox, hide, under): (Option<SandboxSettings>, Vec<std::path::PathBuf>, Timestamp),
        draft: AuditDraft,
    ) -> Result<Execution, ServiceError> {
        // Before anything runs, git's snapshot included: a command since the
        // human confirmed may have swapped a directory on the path.
        if let Err(e) = runner::check_workspace(&plan.workspace, &hide) {
            let rule = match e {
                runner::RunError::HoldsHidden(_) => "workspace-holds-hidden",
                _ => "workspace-changed",
            };
            let e = ServiceError::CommandRefused {
                rule,
                detail: e.to_string(),
            };
            return Err(self.refuse(draft, e));
        }
        let snapshot_id = random_id("snap_")?;
        let budget = snapshot::Budget {
            limits: plan.limits,
            timeout: Duration::from_secs(u64::from(plan.timeout_s)),
        };
        // git runs the repository's filters and hooks, the agent's code too:
        // a mode withdrawn meanwhile stops it, and then nothing else runs.
        let stop = self.withdrawn(&creds.conversation, under);
        let taken = snapshot::take(
            &plan.workspace,
            &snapshot_id,
            sandbox.as_ref(),
            budget,
            stop,
        );
        let taken = taken.await;
        if !self.standing(&creds.conversation, under).await {
            let e = ServiceError::YoloNotActive {
                conversation: creds.conversation.to_string(),
            };
            return Err(self.refuse(draft, e));
        }
        let snapshot = match taken {
            Ok(snapshot::Taken::NotARepository) => None,
            Ok(snapshot::Taken::Snapshot { git_ref, commit }) => Some(NewSnapshot {
                id: snapshot_id,
                proposal_id: proposal.id.clone(),
                git_ref,
                commit_id: commit,
            }),
            Err(e) => {
                let message = self.redactor.get().redact(&e.to_string()).text.into_owned();
                return Err(self.refuse(draft, ServiceError::SnapshotFailed(message)));
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
        let stop = self.withdrawn(&creds.conversation, under);
        let output = match runner::run(&spec, stop).await {
            Ok(o) => o,
            Err(e) => {
                let e = ServiceError::SandboxUnavailable(e.to_string());
                return Err(self.refuse(draft, e));
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
        // What a command printed goes to every participant: the engine's
        // secrets and this conversation's session tokens go first.
        let redactor = self.redactor.get();
        let clean = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let r = redactor.redact(&text).text;
            let mut counts = std::collections::BTreeMap::new();
            redact_session_tokens(&self.key, &creds.conversation, &r, &mut counts)
                .unwrap_or_else(|| r.into_owned())
        };
        let (stdout, stderr) = (clean(&output.stdout.bytes), clean(&output.stderr.bytes));
        let command = redactor.redact(&proposal.command).text.into_owned();
        let at = self.clock.now();
        let outcome = describe_outcome(&output);
        let tag = match section_tag(&[&command, &stdout, &stderr]) {
            Ok(t) => t,
            Err(e) => return Err(self.refuse(draft, e)),
        };
        let content = partner_report(
            &tag,
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
        // Everyone else learns what ran: the members addressed, observers copied.
        let (to, deliver_to) = match self.store.conversation(&creds.conversation).await {
            Ok(Some(c)) => crate::service::addressing::recipients(
                &c,
                creds.side,
                &crate::service::Addressing::Everyone,
            )
            .unwrap_or_default(),
            _ => (Vec::new(), Vec::new()),
        };
        let message = NewMessage {
            conversation: creds.conversation.clone(),
            from: crate::domain::Sender::System,
            action_type: crate::domain::ActionType::System,
            content,
            files_involved: Vec::new(),
            created_at: at,
            to,
            deliver_to,
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
            Err(e) => return Err(self.refuse(draft, e.into())),
        };
        Ok(Execution::Ran(CommandRun {
            proposal_id: proposal.id,
            plan,
            exit_code: output.exit_code,
            signal: output.signal,
            timed_out: output.timed_out,
            interrupted: output.interrupted,
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
