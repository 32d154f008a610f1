//! The values YOLO mode works with: its settings, the tools' arguments, and
//! what a command's checking and running produce.

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::YoloMode;
use crate::runner::Limits;
use crate::store::NewSnapshot;

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
    /// Paths hidden from commands: the bridge's data directory, its key's,
    /// its configuration file and TLS key.
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
    /// Whether it was killed because its YOLO mode was withdrawn meanwhile
    /// (`yolo revoke`, `end`, or a new request).
    pub interrupted: bool,
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
