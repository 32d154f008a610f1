//! The command policy: decides whether an agent's proposed command may run in a YOLO
//! mode, and how. Calls nothing outside this module but the pure character classification in
//! `display`; never starts a shell.
//!
//! # How a command is judged
//!
//! 1. **Pre-checks (every mode).** At most [`MAX_COMMAND_BYTES`]; no control characters
//!    other than tab and newline, and no Unicode bidirectional or invisible formatting
//!    characters, which could make the command a human approves look different from the
//!    one that runs (`control-character`, `too-long`); nothing that could hide part of the
//!    command on the approving human's screen: Unicode spaces and blanks, combining marks,
//!    runs of more than 8 spaces or tabs, deep indentation, many blank lines
//!    (`disguised-text`, [`layout`]).
//! 2. **`yolo`**: a POSIX-sh tokenizer (`lex`) splits the command into words and
//!    operators, tokenizing `$(…)`, backticks and `<(…)` recursively (unbalanced quotes,
//!    a here-document without its end line, nesting past 12 levels: `unparseable`). The
//!    always-blocked list (`blocklist`) then scans every simple command, in every list,
//!    pipeline, subshell, group, substitution, here-document fed to a shell, and
//!    `sh -c`/`eval`/`alias`/`trap`/`watch`/`env -S` string, recursively, looking
//!    through wrappers (`env`, `nice`, `timeout`, `nohup`, `command`, `exec`, `busybox`,
//!    `xargs`, `find -exec` …): privilege escalation, deleting `/`, top-level or home
//!    directories, writing block devices, download-and-run, fork bombs, and what it
//!    cannot see into (a program name or code only known at run time:
//!    `dynamic-command`). The plan runs `sh -c COMMAND` ([`Plan::via_shell`]).
//! 3. **`safe` and `restricted`** (`simple`) run one program with no shell, so they need
//!    no shell grammar: any unquoted shell metacharacter is refused (`shell-operator` for
//!    `; & | ( )`, newline, a leading `#`, brace expansion; `redirection` for `< >`;
//!    `substitution` for `$(`, backquotes, `<(`; `variable-expansion` for any other `$`;
//!    `assignment` for a leading `NAME=value`; `outside-workspace` for a leading `~`),
//!    then the `shlex` crate splits the words. Unquoted globs are expanded here, inside
//!    the workspace only (`outside-workspace`, `glob-too-broad`). Every argument that can
//!    name a file must resolve inside the workspace after following symbolic links
//!    (`outside-workspace`). The program must be on the mode's list
//!    (`program-not-allowed`), its subcommand and options too (`subcommand-not-allowed`,
//!    `option-not-allowed`, `not-read-only`); the options of listed programs that run
//!    other programs, load code, write files or read outside the workspace are audited in
//!    `audit`, each with its verdict and manual reference.
//!    * `safe` (`readonly`): read-only programs; nothing that writes, executes other
//!      programs, follows symbolic links out of a recursive walk, or prints the environment.
//!    * `restricted` (`restricted`): `safe` plus listed subcommands of git, cargo, npm,
//!      pip, pytest, make, and `python`/`node`/`sh`/`bash`/`./script` running a file
//!      inside the workspace.
//!
//! Every refusal names a stable rule id from [`rule`] and says what to change.
//! A program named by path (`/usr/bin/ls`) is judged by its last component and must sit
//! in `/bin`, `/usr/bin`, `/sbin`, `/usr/sbin` or `/usr/local/bin`.

mod args;
mod audit;
mod blocklist;
mod layout;
mod lex;
mod lookalike;
mod paths;
mod readonly;
mod restricted;
mod simple;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;

use crate::domain::YoloMode;

pub use layout::{describe_size, disguise_in_line};

/// Longest command accepted, in bytes; a real command line is far shorter, and the bound
/// keeps tokenizing cheap.
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The stable rule ids a [`Refusal`] can carry.
pub mod rule {
    /// The tokenizer could not split the command with confidence.
    pub const UNPARSEABLE: &str = "unparseable";
    /// Longer than [`super::MAX_COMMAND_BYTES`].
    pub const TOO_LONG: &str = "too-long";
    /// A control, bidirectional or invisible formatting character.
    pub const CONTROL_CHARACTER: &str = "control-character";
    /// Unicode spaces or blanks, combining marks, or long runs of blanks that could hide
    /// part of the command from the human who approves it.
    pub const DISGUISED_TEXT: &str = "disguised-text";
    /// Nothing to run.
    pub const EMPTY_COMMAND: &str = "empty-command";
    /// `;`, `&&`, `|`, `&`, `(`, `{`, newline, `#`, brace expansion (safe/restricted).
    pub const SHELL_OPERATOR: &str = "shell-operator";
    /// `>`, `>>`, `<`, `<<`, `2>&1` … (safe/restricted).
    pub const REDIRECTION: &str = "redirection";
    /// `$(…)`, backticks, `<(…)`, `$((…))` (safe/restricted).
    pub const SUBSTITUTION: &str = "substitution";
    /// `$VAR`, `${…}`, `$'…'` (safe/restricted).
    pub const VARIABLE_EXPANSION: &str = "variable-expansion";
    /// A `NAME=value` prefix (safe/restricted).
    pub const ASSIGNMENT: &str = "assignment";
    /// A path (or glob, or `~`) that is or leads outside the workspace.
    pub const OUTSIDE_WORKSPACE: &str = "outside-workspace";
    /// A glob that matches too many paths.
    pub const GLOB_TOO_BROAD: &str = "glob-too-broad";
    /// The program is not on the mode's list.
    pub const PROGRAM_NOT_ALLOWED: &str = "program-not-allowed";
    /// The program is allowed but not this subcommand.
    pub const SUBCOMMAND_NOT_ALLOWED: &str = "subcommand-not-allowed";
    /// The program is allowed but not this option (it runs code, changes config …).
    pub const OPTION_NOT_ALLOWED: &str = "option-not-allowed";
    /// An option that writes or deletes files, in `safe` mode.
    pub const NOT_READ_ONLY: &str = "not-read-only";
    /// Always blocked: sudo, su, doas, setuid bits, chown to root, account changes.
    pub const PRIVILEGE_ESCALATION: &str = "privilege-escalation";
    /// Always blocked: deleting `/`, a top-level directory or a home directory.
    pub const DELETE_ROOT_OR_HOME: &str = "delete-root-or-home";
    /// Always blocked: writing a device, formatting or partitioning.
    pub const BLOCK_DEVICE_WRITE: &str = "block-device-write";
    /// Always blocked: running downloaded or piped-in code.
    pub const PIPE_TO_SHELL: &str = "pipe-to-shell";
    /// Always blocked: self-replicating functions.
    pub const FORK_BOMB: &str = "fork-bomb";
    /// `yolo`: code only known at run time, which cannot be checked.
    pub const DYNAMIC_COMMAND: &str = "dynamic-command";
}

/// What to run once a command passed the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The program and its arguments; `["sh", "-c", command]` when `via_shell`.
    pub argv: Vec<String>,
    /// Whether the command goes through `sh -c` (only in `yolo` mode).
    pub via_shell: bool,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable kebab-case rule id, one of the constants in [`rule`].
    pub rule: &'static str,
    /// A sentence saying what was wrong and what would be accepted.
    pub detail: String,
}

impl Refusal {
    pub(crate) fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused (rule {}): {}", self.rule, self.detail)
    }
}

impl std::error::Error for Refusal {}

/// Checks `command` for `mode`; `workspace` is an existing canonical directory.
///
/// The only I/O is resolving and globbing paths inside the workspace (in `safe` and
/// `restricted` modes). Never panics, whatever the input.
///
/// # Errors
///
/// A [`Refusal`] naming the first rule the command breaks.
pub fn evaluate(command: &str, mode: YoloMode, workspace: &Path) -> Result<Plan, Refusal> {
    precheck(command)?;
    if mode == YoloMode::Yolo {
        let script = lex::lex(command).map_err(|e| {
            Refusal::new(
                rule::UNPARSEABLE,
                format!("the command cannot be parsed safely: {e}"),
            )
        })?;
        if script.tokens.is_empty() {
            return Err(Refusal::new(rule::EMPTY_COMMAND, "the command is empty"));
        }
        blocklist::check(&script)?;
        return Ok(Plan {
            argv: vec!["sh".into(), "-c".into(), command.into()],
            via_shell: true,
        });
    }
    // Containment compares canonical paths; accept a non-canonical spelling of the
    // workspace rather than refusing every path through a symlink in it.
    let canonical = workspace.canonicalize().map_err(|e| {
        Refusal::new(
            rule::OUTSIDE_WORKSPACE,
            format!(
                "the workspace {} cannot be resolved: {e}",
                workspace.display()
            ),
        )
    })?;
    let workspace = canonical.as_path();
    let argv = simple::argv(command, workspace)?;
    if mode == YoloMode::Safe {
        readonly::check(&argv, workspace)?;
    } else {
        restricted::check(&argv, workspace)?;
    }
    Ok(Plan {
        argv,
        via_shell: false,
    })
}

/// Length and character checks that need no parsing.
fn precheck(command: &str) -> Result<(), Refusal> {
    if command.len() > MAX_COMMAND_BYTES {
        return Err(Refusal::new(
            rule::TOO_LONG,
            format!(
                "the command is {} bytes; the limit is {MAX_COMMAND_BYTES}; put long logic in a script file",
                command.len()
            ),
        ));
    }
    if let Some((at, c)) = command.char_indices().find(|&(_, c)| is_hidden_char(c)) {
        return Err(Refusal::new(
            rule::CONTROL_CHARACTER,
            format!(
                "the command contains the invisible or control character U+{:04X} at byte {at}, which could make it look different from what runs",
                u32::from(c)
            ),
        ));
    }
    layout::check(command)
}

/// Control characters (but tab and newline) and the Unicode format characters that can
/// hide or reorder text on a terminal: the same classification the CLI escapes on output.
fn is_hidden_char(c: char) -> bool {
    c != '\t' && c != '\n' && crate::display::is_unsafe(c)
}
