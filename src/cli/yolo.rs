//! `mcp-bridge yolo …`: the human stages of YOLO mode. `confirm` and `approve`
//! insist on a terminal on stdin, so an agent with shell access cannot pipe
//! its way through them.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::DbArgs;
use crate::app::App;
use crate::domain::{ConversationId, Timestamp, YoloMode};
use crate::service::ServiceError;
use crate::store::sqlite::OpenMode;
use crate::store::{Activation, Proposal};

/// The phrase a human types to confirm an activation.
pub const CONFIRM_PHRASE: &str = "I UNDERSTAND THE RISKS";

/// Arguments of `yolo`.
#[derive(Debug, Args)]
pub struct YoloArgs {
    #[command(subcommand)]
    command: YoloCommand,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum YoloCommand {
    /// Confirm an agent's request to enable command execution (needs a terminal).
    #[command(after_help = "Example:\n  mcp-bridge yolo confirm conv_0123456789abcdef")]
    Confirm {
        /// The conversation.
        conversation: String,
    },
    /// Approve one proposed command and print its single-use approval token (needs a terminal).
    #[command(after_help = "Example:\n  mcp-bridge yolo approve prop_0123456789abcdef")]
    Approve {
        /// The proposal id from execute_command.
        proposal: String,
    },
    /// Reject a proposed command.
    #[command(after_help = "Example:\n  mcp-bridge yolo deny prop_0123456789abcdef")]
    Deny {
        /// The proposal id.
        proposal: String,
    },
    /// End command execution for a conversation at once (pending approvals die with it).
    #[command(after_help = "Example:\n  mcp-bridge yolo revoke conv_0123456789abcdef")]
    Revoke {
        /// The conversation.
        conversation: String,
    },
    /// Show activations and proposals.
    #[command(
        after_help = "Examples:\n  mcp-bridge yolo status\n  mcp-bridge yolo status conv_0123456789abcdef --json"
    )]
    Status {
        /// Only this conversation.
        conversation: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Put back the working tree saved before a command ran.
    #[command(after_help = "Example:\n  mcp-bridge yolo restore snap_0123456789abcdef")]
    Restore {
        /// The snapshot id (from the command's result).
        snapshot: String,
    },
}

/// Runs a `yolo` subcommand.
///
/// # Errors
/// A missing database or a failed action; refusals return exit code 1.
pub fn run(args: YoloArgs) -> anyhow::Result<ExitCode> {
    let config = args.db.config.load()?;
    let db = args.db.db_path(None)?;
    super::runtime()?.block_on(async move {
        let app = App::open(&db, config, OpenMode::Existing)?;
        let outcome = match args.command {
            YoloCommand::Confirm { conversation } => confirm(&app, &parse_conversation(&conversation)?).await,
            YoloCommand::Approve { proposal } => approve(&app, &proposal).await,
            YoloCommand::Deny { proposal } => app.bridge.yolo_deny(&proposal).await.map(|p| {
                println!("Denied {} ({}): {}", p.id, p.conversation, p.command);
            }),
            YoloCommand::Revoke { conversation } => {
                let conversation = parse_conversation(&conversation)?;
                app.bridge.yolo_revoke(&conversation).await.map(|()| {
                    println!("Command execution revoked for {conversation}; its pending proposals were denied.");
                })
            }
            YoloCommand::Status { conversation, json } => {
                let conversation = conversation.as_deref().map(parse_conversation).transpose()?;
                let (activations, proposals) = app.bridge.yolo_status(conversation).await?;
                print_status(&activations, &proposals, json);
                Ok(())
            }
            YoloCommand::Restore { snapshot } => app.bridge.yolo_restore(&snapshot).await.map(|s| {
                println!("Restored {} into {} (files created after the snapshot were left in place).", s.snapshot.id, s.workspace.display());
            }),
        };
        app.bridge.store().flush().await?;
        match outcome {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e @ (ServiceError::NotFound(_) | ServiceError::Conflict(_) | ServiceError::Cancelled)) => {
                eprintln!("mcp-bridge: {e}");
                Ok(ExitCode::from(1))
            }
            Err(e) => Err(e.into()),
        }
    })
}

fn parse_conversation(text: &str) -> anyhow::Result<ConversationId> {
    Ok(ConversationId::parse(text)?)
}

/// Refuses to go on unless stdin is a terminal (a human, not a pipe).
fn require_terminal(what: &str) -> Result<(), ServiceError> {
    if std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(ServiceError::Conflict(format!(
            "`mcp-bridge yolo {what}` must be run by a human in a terminal (stdin is not a terminal); nothing was changed"
        )))
    }
}

fn ask(prompt: &str) -> String {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim_end_matches(['\r', '\n']).to_owned()
}

fn mode_text(mode: YoloMode) -> &'static str {
    match mode {
        YoloMode::Safe => "safe — read-only programs inside the workspace, no shell",
        YoloMode::Restricted => {
            "restricted — read-only programs plus listed git/cargo/npm/pip/pytest subcommands and workspace scripts, no shell"
        }
        YoloMode::Yolo => {
            "yolo — ANY shell command except the always-blocked list, through sh -c, workspace writable"
        }
    }
}

fn describe_activation(a: &Activation) {
    let r = &a.request;
    println!("  mode:       {}", mode_text(r.mode));
    println!("  workspace:  {}", r.workspace.display());
    if r.sandbox {
        println!(
            "  sandbox:    on (bubblewrap: no network, read-only system, private /tmp, clean environment)"
        );
    } else {
        println!(
            "  sandbox:    OFF — commands run directly on this machine with your user's rights"
        );
    }
    println!("  timeout:    {} s per command", r.timeout_s);
}

async fn confirm(app: &App, conversation: &ConversationId) -> Result<(), ServiceError> {
    let bridge = &app.bridge;
    require_terminal("confirm")?;
    let (conv, activation) = bridge.yolo_pending_activation(conversation).await?;
    let roles: Vec<String> = conv
        .participants
        .iter()
        .map(|p| format!("{} ({})", p.role, p.side))
        .collect();
    println!("Request to enable command execution in {conversation}");
    println!("  between:    {}", roles.join(" and "));
    println!(
        "  asked by:   side {} at {}",
        activation.request.requested_by, activation.request.requested_at
    );
    describe_activation(&activation);
    println!("Every command still needs your approval (`mcp-bridge yolo approve`).");
    if ask(&format!("Type `{CONFIRM_PHRASE}` to continue: ")) != CONFIRM_PHRASE {
        bridge
            .yolo_confirmation_failed(conversation, "wrong phrase")
            .await;
        return Err(ServiceError::Conflict(
            "the phrase did not match; nothing was enabled".into(),
        ));
    }
    let code = bridge.yolo_confirmation_code()?;
    if ask(&format!("Now type this one-time code: {code}\n> ")).trim() != code {
        bridge
            .yolo_confirmation_failed(conversation, "wrong code")
            .await;
        return Err(ServiceError::Conflict(
            "the code did not match; nothing was enabled".into(),
        ));
    }
    let active = bridge.yolo_confirm(&activation).await?;
    let until = active
        .expires_at
        .map_or_else(String::new, |t| t.to_string());
    println!("Command execution is ACTIVE for {conversation} until {until}.");
    println!("Revoke it at any time: mcp-bridge yolo revoke {conversation}");
    Ok(())
}

async fn approve(app: &App, id: &str) -> Result<(), ServiceError> {
    let bridge = &app.bridge;
    require_terminal("approve")?;
    let (proposal, activation) = bridge.yolo_pending_proposal(id).await?;
    println!(
        "Proposal {} in {} from side {} at {}",
        proposal.id, proposal.conversation, proposal.side, proposal.created_at
    );
    describe_activation(&activation);
    println!("  command (exactly what will run):");
    println!("    {}", proposal.command.escape_debug());
    if ask("Approve this exact command? Type `yes`: ") != "yes" {
        return Err(ServiceError::Conflict(
            "not approved; the proposal is still pending (deny it with `mcp-bridge yolo deny`)"
                .into(),
        ));
    }
    let approval = bridge.yolo_approve(&proposal).await?;
    println!(
        "Approval token (single use, this command only, valid until {}):",
        approval.expires_at
    );
    println!("{}", approval.token);
    println!(
        "Give it to the agent: it calls execute_command with the same command and approval_token."
    );
    Ok(())
}

fn print_status(activations: &[Activation], proposals: &[Proposal], as_json: bool) {
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
                json!({
                    "id": p.id, "conversation_id": p.conversation.as_str(), "side": p.side.as_str(), "command": p.command,
                    "mode": p.mode.as_str(), "state": p.state.as_str(), "created_at": p.created_at.to_rfc3339(),
                })
            })
            .collect();
        println!("{}", json!({ "activations": a, "proposals": p }));
        return;
    }
    if activations.is_empty() {
        println!("No YOLO activations.");
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
        println!(
            "{}  {state}{until}  mode {}  sandbox {}  workspace {}",
            a.request.conversation,
            a.request.mode,
            if a.request.sandbox { "on" } else { "OFF" },
            a.request.workspace.display()
        );
    }
    for p in proposals {
        let command: String = p.command.chars().take(60).collect();
        println!(
            "  {}  {:<8}  side {}  {}  {}",
            p.id,
            p.state.as_str(),
            p.side,
            p.created_at,
            command.escape_debug()
        );
    }
}
