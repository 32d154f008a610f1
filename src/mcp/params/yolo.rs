//! Arguments of the YOLO tools: turning command execution on, and running
//! one command with a human's approval token.

use schemars::JsonSchema;
use serde::Deserialize;

// The credential names are used by `session_params!`, expanded here.
use super::{
    ArgumentError, CONVERSATION_ID_PATTERN, CredentialArgs, MAX_PATH_CHARS, SESSION_ID_PATTERN,
    TOKEN_SCHEMA_PATTERN, ToolArgs, credential_args,
};
use crate::domain::{InvalidValue, YoloMode};

/// How much an approved command may do.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[schemars(inline)]
#[serde(rename_all = "lowercase")]
pub enum ModeValue {
    Safe,
    Restricted,
    Yolo,
}

impl From<ModeValue> for YoloMode {
    fn from(m: ModeValue) -> Self {
        match m {
            ModeValue::Safe => YoloMode::Safe,
            ModeValue::Restricted => YoloMode::Restricted,
            ModeValue::Yolo => YoloMode::Yolo,
        }
    }
}

fn default_timeout() -> u32 {
    30
}

fn default_true() -> bool {
    true
}

session_params! {
/// Arguments of `enable_yolo_mode`.
pub struct EnableYoloModeParams {
    /// safe (read-only), restricted (plus build/test/VCS subcommands) or yolo (anything not blocked).
    pub mode: ModeValue,
    /// An existing directory commands run in.
    #[schemars(length(min = 1, max = MAX_PATH_CHARS))]
    pub workspace: String,
    /// Per-command timeout in seconds (1–600, default 30).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_s: u32,
    /// Run commands in the bubblewrap sandbox (default true).
    #[serde(default = "default_true")]
    pub sandbox: bool,
}
}

impl EnableYoloModeParams {
    /// Validates the timeout.
    ///
    /// # Errors
    /// When out of range.
    pub fn check(&self) -> Result<(), ArgumentError> {
        if !(1..=600).contains(&self.timeout_s) {
            return Err(InvalidValue::new("timeout_s", "must be between 1 and 600").into());
        }
        if self.workspace.is_empty() || self.workspace.contains('\0') {
            return Err(InvalidValue::new("workspace", "must be a path").into());
        }
        Ok(())
    }
}

/// Shape of an approval token.
const APPROVAL_TOKEN_PATTERN: &str = r"^apv_[0-9a-f]{32}$";

session_params! {
/// Arguments of `execute_command`.
pub struct ExecuteCommandParams {
    /// The command line, exactly as it should run.
    #[schemars(length(min = 1, max = 16384))]
    pub command: String,
    /// Only report what would run (default false).
    #[serde(default)]
    pub dry_run: bool,
    /// The token a human got from `mcp-bridge yolo approve` for exactly this command.
    #[schemars(length(min = 36, max = 36), pattern(APPROVAL_TOKEN_PATTERN))]
    pub approval_token: Option<String>,
}
}

impl ExecuteCommandParams {
    /// Validates the command and token shape.
    ///
    /// # Errors
    /// When either is malformed.
    pub fn check(&self) -> Result<(), ArgumentError> {
        if self.command.is_empty() || self.command.len() > 16384 {
            return Err(InvalidValue::new("command", "must be 1 to 16384 bytes").into());
        }
        if let Some(t) = &self.approval_token {
            let ok = t.len() == 36
                && t.starts_with("apv_")
                && t[4..]
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !ok {
                return Err(InvalidValue::new(
                    "approval_token",
                    "must be `apv_` followed by 32 lowercase hex digits",
                )
                .into());
            }
        }
        Ok(())
    }
}
