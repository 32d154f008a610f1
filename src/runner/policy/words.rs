//! Turns a tokenized command into the argv that `safe` and `restricted` modes run
//! directly (no shell), refusing every piece of shell syntax on the way, and decides
//! what program argv[0] names.
//!
//! Globs are the one shell feature kept, because agents use them constantly; they are
//! expanded here, inside the workspace, exactly once. Everything else a shell would do
//! (expansions, operators, redirections, comments, brace expansion, `~`) is refused
//! rather than silently passed on as literal text that would mean something else.

use std::path::{Path, PathBuf};

use super::lex::{DynKind, Piece, Script, Token, Word};
use super::lex::{OpKind, RedirKind};
use super::{Refusal, paths, rule};

/// Directories a program named by absolute path may live in.
pub(super) const SYSTEM_BIN_DIRS: &[&str] =
    &["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"];

/// The argv of the single simple command `script` must be, with globs expanded.
pub(super) fn simple_command(
    script: &Script,
    src: &str,
    workspace: &Path,
) -> Result<Vec<String>, Refusal> {
    if script.has_comment {
        return Err(Refusal::new(
            rule::SHELL_OPERATOR,
            "an unquoted `#` starts a shell comment; quote it, or drop the comment",
        ));
    }
    let mut argv = Vec::new();
    for token in &script.tokens {
        let word = match token {
            Token::Word(word) => word,
            Token::Op(op) => {
                let text = src.get(op.span.clone()).unwrap_or("?");
                let at = op.span.start;
                return Err(match op.kind {
                    OpKind::Redir(kind) => Refusal::new(
                        rule::REDIRECTION,
                        format!(
                            "`{text}` at byte {at} {}; this mode runs one program with no redirection, and output comes back to you anyway",
                            if matches!(
                                kind,
                                RedirKind::In
                                    | RedirKind::HereDoc
                                    | RedirKind::HereString
                                    | RedirKind::DupIn
                            ) {
                                "redirects input (name the file as an argument instead)"
                            } else {
                                "redirects output into a file"
                            }
                        ),
                    ),
                    OpKind::Newline => Refusal::new(
                        rule::SHELL_OPERATOR,
                        format!(
                            "a newline at byte {at} starts a second command; this mode runs exactly one command"
                        ),
                    ),
                    _ => Refusal::new(
                        rule::SHELL_OPERATOR,
                        format!(
                            "the shell operator `{text}` at byte {at} chains, pipes, backgrounds or groups commands; this mode runs exactly one program (quote the character if it is meant literally)"
                        ),
                    ),
                });
            }
        };
        let shown = src.get(word.span.clone()).unwrap_or("?");
        check_pieces(word, shown)?;
        let Some(text) = word.static_text() else {
            // check_pieces refused every non-literal piece, so this is not reached; stay
            // fail-closed anyway.
            return Err(Refusal::new(
                rule::VARIABLE_EXPANSION,
                format!("`{shown}` is only known when a shell runs it"),
            ));
        };
        if argv.is_empty() && is_assignment(word) {
            return Err(Refusal::new(
                rule::ASSIGNMENT,
                format!(
                    "`{shown}` sets an environment variable for the command; this mode runs programs with a fixed environment"
                ),
            ));
        }
        if word.has_glob() {
            if argv.is_empty() {
                return Err(Refusal::new(
                    rule::PROGRAM_NOT_ALLOWED,
                    format!("the program name `{shown}` is a glob; name the program exactly"),
                ));
            }
            argv.extend(paths::expand_glob(workspace, &word.glob_pattern(), &text)?);
        } else {
            argv.push(text);
        }
    }
    if argv.is_empty() {
        return Err(Refusal::new(rule::EMPTY_COMMAND, "the command is empty"));
    }
    Ok(argv)
}

/// Refuses expansions, `~` and brace expansion inside one word.
fn check_pieces(word: &Word, shown: &str) -> Result<(), Refusal> {
    for piece in &word.pieces {
        match piece {
            Piece::Lit { quoted: true, .. } => {}
            Piece::Lit {
                text,
                quoted: false,
            } => {
                if is_brace_expansion(text) {
                    return Err(Refusal::new(
                        rule::SHELL_OPERATOR,
                        format!(
                            "`{shown}` uses brace expansion, which needs a shell; list the words, or quote the braces"
                        ),
                    ));
                }
            }
            Piece::Tilde(_) => {
                return Err(Refusal::new(
                    rule::OUTSIDE_WORKSPACE,
                    format!(
                        "`{shown}` starts with `~`, a home directory, which is outside the workspace"
                    ),
                ));
            }
            Piece::Param { name } => {
                return Err(Refusal::new(
                    rule::VARIABLE_EXPANSION,
                    format!(
                        "`{shown}` expands the variable `${name}`; no shell runs here and the environment is fixed, so write the value out (or single-quote a literal `$`)"
                    ),
                ));
            }
            Piece::Dynamic(d) => {
                return Err(match d.kind {
                    DynKind::Command | DynKind::Process | DynKind::Arithmetic => Refusal::new(
                        rule::SUBSTITUTION,
                        format!(
                            "`{shown}` contains a command, process or arithmetic substitution; run that command on its own first"
                        ),
                    ),
                    DynKind::Parameter | DynKind::Quoting => Refusal::new(
                        rule::VARIABLE_EXPANSION,
                        format!(
                            "`{shown}` uses a `${{…}}`, `$'…'` or `$\"…\"` expansion; write the value out in plain quotes"
                        ),
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `{a,b}` or `{1..3}` in unquoted text (bash would expand it; `sh` would not).
fn is_brace_expansion(text: &str) -> bool {
    let Some(open) = text.find('{') else {
        return false;
    };
    let Some(close) = text[open..].find('}') else {
        return false;
    };
    let inner = &text[open + 1..open + close];
    inner.contains(',') || inner.contains("..")
}

fn is_assignment(word: &Word) -> bool {
    match word.pieces.first() {
        Some(Piece::Lit {
            text,
            quoted: false,
        }) => match text.split_once('=') {
            Some((name, _)) => {
                name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            None => false,
        },
        _ => false,
    }
}

/// What argv[0] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Program {
    /// A program found on the sandbox `PATH`, by name (a `/usr/bin/ls` is `ls`).
    Named(String),
    /// An executable file inside the workspace (`./build.sh`), resolved.
    Script(PathBuf),
}

/// Decides what `argv0` names. A path must be a standard system location, or, when
/// `workspace_scripts`, a file inside the workspace.
pub(super) fn program(
    argv0: &str,
    workspace: &Path,
    workspace_scripts: bool,
) -> Result<Program, Refusal> {
    if argv0.is_empty() {
        return Err(Refusal::new(
            rule::PROGRAM_NOT_ALLOWED,
            "the program name is empty",
        ));
    }
    if !argv0.contains('/') {
        return Ok(Program::Named(argv0.to_string()));
    }
    if argv0.starts_with('/') {
        if let Some((dir, name)) = argv0.rsplit_once('/')
            && SYSTEM_BIN_DIRS.contains(&dir)
            && !name.is_empty()
            && name != "."
            && name != ".."
        {
            return Ok(Program::Named(name.to_string()));
        }
        return Err(Refusal::new(
            rule::PROGRAM_NOT_ALLOWED,
            format!(
                "`{argv0}` is not in a standard system location ({}); name the program without a path",
                SYSTEM_BIN_DIRS.join(", ")
            ),
        ));
    }
    if !workspace_scripts {
        return Err(Refusal::new(
            rule::PROGRAM_NOT_ALLOWED,
            format!(
                "`{argv0}` runs a program from the workspace; safe mode runs only listed system programs (restricted mode can run workspace scripts)"
            ),
        ));
    }
    let path = paths::resolve_inside(workspace, argv0)?;
    if !path.is_file() {
        return Err(Refusal::new(
            rule::PROGRAM_NOT_ALLOWED,
            format!("`{argv0}` is not a file inside the workspace"),
        ));
    }
    Ok(Program::Script(path))
}
