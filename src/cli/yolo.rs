//! `mcp-bridge yolo …`: the human stages of YOLO mode. `confirm` and `approve`
//! insist on a terminal on stdin, so an agent cannot pipe its way through
//! them, and on the operator passphrase ([`crate::operator`]), since an agent
//! with a shell can fake a terminal. Everything an agent supplied (roles,
//! workspace, command) is shown through [`output::line`] on a
//! [`output::Screen`], so it cannot redraw the prompt.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::DbArgs;
use super::output::{self, line};
use super::terminal::{ask, ask_secret, stdin_is_terminal};
use super::yolo_status::{self, Out};
use crate::app::App;
use crate::domain::{ConversationId, YoloMode};
use crate::operator::{Passphrase, PassphraseError};
use crate::service::ServiceError;
use crate::store::sqlite::OpenMode;
use crate::store::{Activation, Store};

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
    /// Set or change the operator passphrase that confirm and approve ask for (needs a terminal).
    #[command(after_help = "Example:\n  mcp-bridge yolo passphrase")]
    Passphrase,
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
        let mut out = output::screen();
        let outcome = match args.command {
            YoloCommand::Confirm { conversation } => {
                confirm(&app, &mut out, &parse_conversation(&conversation)?).await
            }
            YoloCommand::Passphrase => set_passphrase(&app, &mut out).await,
            YoloCommand::Approve { proposal } => approve(&app, &mut out, &proposal).await,
            YoloCommand::Deny { proposal } => app.bridge.yolo_deny(&proposal).await.map(|p| {
                let command = match &p.unreadable {
                    Some(_) => "(a command that does not open with this database's key)".to_owned(),
                    None => line(&p.command).to_string(),
                };
                let _ = writeln!(out, "Denied {} ({}): {command}", line(&p.id), p.conversation);
            }),
            YoloCommand::Revoke { conversation } => {
                let conversation = parse_conversation(&conversation)?;
                app.bridge.yolo_revoke(&conversation).await.map(|()| {
                    let _ = writeln!(
                        out,
                        "Command execution revoked for {conversation}; its pending proposals were denied."
                    );
                })
            }
            YoloCommand::Status { conversation, json } => {
                let conversation = conversation.as_deref().map(parse_conversation).transpose()?;
                let (activations, proposals) = app.bridge.yolo_status(conversation).await?;
                yolo_status::print_status(&mut out, &activations, &proposals, json)?;
                Ok(())
            }
            YoloCommand::Restore { snapshot } => {
                app.bridge.yolo_restore(&snapshot).await.map(|s| {
                    let _ = writeln!(
                        out,
                        "Restored {} into {} (files created after the snapshot were left in place).",
                        line(&s.snapshot.id),
                        line(&s.workspace.to_string_lossy())
                    );
                })
            }
        };
        out.flush()?;
        app.bridge.store().flush().await?;
        let settled = super::manage::settle_refusing(outcome, |e| {
            matches!(
                e,
                ServiceError::NotFound(_)
                    | ServiceError::Conflict(_)
                    | ServiceError::Cancelled
                    // A stored workspace the rules refuse, at `confirm`.
                    | ServiceError::CommandRefused { .. }
            )
        })?;
        Ok(settled.err().unwrap_or(ExitCode::SUCCESS))
    })
}

fn parse_conversation(text: &str) -> anyhow::Result<ConversationId> {
    Ok(ConversationId::parse(text)?)
}

/// Refuses to go on unless stdin is a terminal (a human, not a pipe).
fn require_terminal(what: &str) -> Result<(), ServiceError> {
    if stdin_is_terminal() {
        Ok(())
    } else {
        Err(ServiceError::Conflict(format!(
            "`mcp-bridge yolo {what}` must be run by a human in a terminal (stdin is not a terminal); nothing was changed"
        )))
    }
}

/// Writes `text` and flushes it before a prompt (output errors only lose
/// text on a terminal that is gone; the answer that follows fails then).
fn say(out: &mut Out, text: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(text);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Refuses unless an operator passphrase is set; checked before anything
/// is shown, so a human is not walked through a confirmation that must fail.
async fn require_passphrase(
    app: &App,
    action: &str,
    conversation: Option<&ConversationId>,
) -> Result<Passphrase, ServiceError> {
    let passphrase = Passphrase::beside(&app.db_path);
    match passphrase.is_set() {
        Ok(true) => Ok(passphrase),
        Ok(false) => {
            let e = PassphraseError::NotSet {
                path: passphrase.path().to_owned(),
            };
            Err(passphrase_refused(app, action, conversation, "not set", e).await)
        }
        Err(e) => Err(passphrase_refused(app, action, conversation, "unusable file", e).await),
    }
}

/// Audits a passphrase refusal and turns it into the command's refusal.
async fn passphrase_refused(
    app: &App,
    action: &str,
    conversation: Option<&ConversationId>,
    reason: &str,
    e: PassphraseError,
) -> ServiceError {
    app.bridge
        .yolo_passphrase_refused(action, conversation, reason)
        .await;
    ServiceError::Conflict(e.to_string())
}

/// Asks for the operator passphrase and checks it (wrong answers are
/// counted and audited).
async fn check_passphrase(
    app: &App,
    passphrase: &Passphrase,
    action: &str,
    conversation: Option<&ConversationId>,
) -> Result<(), ServiceError> {
    let answer = ask_secret("Operator passphrase: ")
        .map_err(|e| ServiceError::Conflict(format!("cannot read the passphrase: {e}")))?;
    match passphrase.check(&answer) {
        Ok(()) => Ok(()),
        Err(e) => {
            let reason = match &e {
                PassphraseError::Wrong { .. } => "wrong passphrase",
                PassphraseError::Locked { .. } => "locked after wrong passphrases",
                PassphraseError::Busy => "another check running",
                _ => "unusable file",
            };
            Err(passphrase_refused(app, action, conversation, reason, e).await)
        }
    }
}

/// `yolo passphrase`: sets the passphrase, or changes it given the old one.
async fn set_passphrase(app: &App, out: &mut Out) -> Result<(), ServiceError> {
    const ACTION: &str = "yolo passphrase";
    require_terminal("passphrase")?;
    let passphrase = Passphrase::beside(&app.db_path);
    let changing = match passphrase.is_set() {
        Ok(set) => set,
        Err(e) => return Err(passphrase_refused(app, ACTION, None, "unusable file", e).await),
    };
    if changing {
        say(
            out,
            format_args!(
                "An operator passphrase is set; to change it, give the current one first."
            ),
        );
        check_passphrase(app, &passphrase, ACTION, None).await?;
    } else {
        say(
            out,
            format_args!(
                "Choose the operator passphrase that `yolo confirm` and `yolo approve` will ask for.\n\
             Use several random words, and never give it to an agent."
            ),
        );
    }
    let read = |prompt| {
        ask_secret(prompt)
            .map_err(|e| ServiceError::Conflict(format!("cannot read the passphrase: {e}")))
    };
    let new = read("New passphrase: ")?;
    let again = read("Repeat it: ")?;
    passphrase
        .set(&new, &again)
        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    app.bridge.yolo_passphrase_set(changing).await;
    say(
        out,
        format_args!(
            "Operator passphrase {} (an Argon2id hash in {}).",
            if changing { "changed" } else { "set" },
            line(&passphrase.path().to_string_lossy())
        ),
    );
    Ok(())
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

fn describe_activation(out: &mut Out, a: &Activation) {
    let r = &a.request;
    say(out, format_args!("  mode:       {}", mode_text(r.mode)));
    say(
        out,
        format_args!("  workspace:  {}", line(&r.workspace.to_string_lossy())),
    );
    if r.sandbox {
        say(
            out,
            format_args!(
                "  sandbox:    on (bubblewrap: no network, read-only system, private /tmp, clean environment)"
            ),
        );
    } else {
        say(
            out,
            format_args!(
                "  sandbox:    OFF — commands run directly on this machine with your user's rights"
            ),
        );
    }
    say(
        out,
        format_args!("  timeout:    {} s per command", r.timeout_s),
    );
}

async fn confirm(
    app: &App,
    out: &mut Out,
    conversation: &ConversationId,
) -> Result<(), ServiceError> {
    const ACTION: &str = "yolo confirm";
    let bridge = &app.bridge;
    require_terminal("confirm")?;
    let passphrase = require_passphrase(app, ACTION, Some(conversation)).await?;
    let (conv, activation) = bridge.yolo_pending_activation(conversation).await?;
    let roles: Vec<String> = conv
        .participants
        .iter()
        .map(|p| format!("{} ({})", line(&p.role), p.side))
        .collect();
    say(
        out,
        format_args!("Request to enable command execution in {conversation}"),
    );
    say(out, format_args!("  between:    {}", roles.join(" and ")));
    say(
        out,
        format_args!(
            "  asked by:   side {} at {}",
            activation.request.requested_by, activation.request.requested_at
        ),
    );
    describe_activation(out, &activation);
    say(
        out,
        format_args!("Every command still needs your approval (`mcp-bridge yolo approve`)."),
    );
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
    check_passphrase(app, &passphrase, ACTION, Some(conversation)).await?;
    let active = bridge.yolo_confirm(&activation).await?;
    let until = active
        .expires_at
        .map_or_else(String::new, |t| t.to_string());
    say(
        out,
        format_args!("Command execution is ACTIVE for {conversation} until {until}."),
    );
    say(
        out,
        format_args!("Revoke it at any time: mcp-bridge yolo revoke {conversation}"),
    );
    Ok(())
}

async fn approve(app: &App, out: &mut Out, id: &str) -> Result<(), ServiceError> {
    const ACTION: &str = "yolo approve";
    let bridge = &app.bridge;
    require_terminal("approve")?;
    let (proposal, activation) = bridge.yolo_pending_proposal(id).await?;
    let passphrase = require_passphrase(app, ACTION, Some(&proposal.conversation)).await?;
    say(
        out,
        format_args!(
            "Proposal {} in {} from side {} at {}",
            line(&proposal.id),
            proposal.conversation,
            proposal.side,
            proposal.created_at
        ),
    );
    describe_activation(out, &activation);
    say(
        out,
        format_args!("  command (exactly what will run, each of its lines after a bar):"),
    );
    let (shown, escaped) = crate::display::exact_command(&proposal.command);
    for command_line in shown.split('\n') {
        say(out, format_args!("    | {command_line}"));
    }
    if escaped {
        say(
            out,
            format_args!(
                "  (it holds characters a terminal cannot show, written as \\xNN or \\u{{N}}; so every backslash it holds is shown doubled)"
            ),
        );
    }
    say(
        out,
        format_args!("{}", size_notice(&shown, &proposal.command)),
    );
    if ask("Approve this exact command? Type `yes`: ") != "yes" {
        return Err(ServiceError::Conflict(
            "not approved; the proposal is still pending (deny it with `mcp-bridge yolo deny`)"
                .into(),
        ));
    }
    check_passphrase(app, &passphrase, ACTION, Some(&proposal.conversation)).await?;
    let approval = bridge.yolo_approve(&proposal).await?;
    // The token goes to this terminal only: never to a log, the audit trail
    // or stderr (only its hash is stored). Unlike the lines before, a failed
    // write here must not end in success: the human would hold an approval
    // no one can use, with nothing saying so.
    writeln!(
        out,
        "Approval token (single use, this command only, valid until {}):\n{}\n\
         Give it to the agent: it calls execute_command with the same command and approval_token.",
        approval.expires_at, approval.token
    )
    .and_then(|()| out.flush())
    .map_err(|e| {
        ServiceError::Conflict(format!(
            "the approval was recorded but its token could not be shown ({e}); \
             deny {} and have the agent propose the command again",
            line(&proposal.id)
        ))
    })
}

/// The lines right above the approval prompt: the command's size, and its
/// head (as `shown`) again when it is long enough to have wrapped off the
/// top of the screen.
fn size_notice(shown: &str, command: &str) -> String {
    let size = crate::runner::policy::describe_size(command);
    let mut notice = format!("  size:       {size}");
    if command.chars().count() > 100 || command.contains('\n') {
        let first = shown.split('\n').next().unwrap_or_default();
        let head = output::truncate(first, 60);
        notice.push_str(&format!(
            "\n  it begins:  {head}\n  (scroll up to read all of it before you answer)"
        ));
    }
    notice
}

#[cfg(test)]
mod tests {
    use super::size_notice;

    #[test]
    fn a_long_command_shows_its_size_and_head_above_the_prompt() {
        let notice = |c: &str| size_notice(&crate::display::exact_command(c).0, c);
        assert_eq!(notice("ls -l"), "  size:       5 characters on 1 line");
        let long = notice(&format!("rm -rf src;{}echo ok", "x".repeat(200)));
        assert!(long.contains("218 characters on 1 line"), "{long}");
        assert!(long.contains("it begins:  rm -rf src;"), "{long}");
        let lines = notice("echo a\nrm -rf src");
        assert!(lines.contains("on 2 lines"), "{lines}");
        assert!(lines.contains("it begins:  echo a\n"), "{lines}");
    }
}
