//! The always-blocked list of `yolo` mode: privilege escalation, deleting
//! `/`/top-level/home directories, writing devices, download-and-run, fork bombs, and
//! code that is only known at run time (`dynamic-command`). `safe` and `restricted`
//! mode never get here: they refuse every shell metacharacter and run only listed
//! programs, none of which is on this list.
//!
//! It walks the whole command: every simple command of every list and pipeline, in
//! subshells and groups, inside `$(…)`, backticks and `<(…)` (anywhere in a word,
//! including assignments, redirection targets and here-document bodies), and re-parses
//! code handed to `sh -c`/`bash -c`, `eval`, `alias`, `trap`, `watch`, `env -S`,
//! `flock -c`, `script -c`, here-documents and here-strings fed to a shell, and
//! `find -exec`. Wrappers (`env`, `nice`, `timeout`, `nohup`, `command`, `exec`,
//! `busybox`, `xargs`, `stdbuf`, `setsid`, `time`, `strace` …) are looked through.
//!
//! This is a blocklist: it catches the mistakes and the tricks it knows, not a
//! determined adversary (an interpreter's own code or a script file's contents are not
//! seen). The sandbox is the
//! boundary; this list keeps the obvious disasters from being proposed at all. Pure.

mod code;
mod command;
mod targets;
mod wrappers;

use super::lex::{self, HereDoc, OpKind, Piece, RedirKind, Script, Token, Word};
use super::{Refusal, rule};

/// Deepest nesting of re-parsed code (`sh -c "sh -c '…'"`, substitutions, `-exec`).
const MAX_SCAN_DEPTH: usize = 24;

/// Reserved words that may start a simple command and are not its program.
const RESERVED: &[&str] = &[
    "!", "if", "then", "else", "elif", "do", "while", "until", "fi", "done", "esac", "in",
];

/// Checks the always-blocked list, refusing also code only known at run time.
pub(super) fn check(script: &Script) -> Result<(), Refusal> {
    Scan {
        depth: 0,
        cwd_unknown: false,
        downloads: Vec::new(),
    }
    .script(script)
}

/// State carried through one command, in source order.
struct Scan {
    depth: usize,
    /// A `cd` went somewhere that may be `/` or a home directory.
    cwd_unknown: bool,
    /// Files a downloader wrote earlier in the command (as written, without `./`).
    downloads: Vec<String>,
}

/// One simple command as the shell would run it.
#[derive(Default)]
struct Command<'s> {
    words: Vec<&'s Word>,
    redirs: Vec<Redir<'s>>,
}

/// A redirection of a simple command.
#[derive(Clone, Copy)]
struct Redir<'s> {
    kind: RedirKind,
    target: Option<&'s Word>,
    heredoc: Option<&'s HereDoc>,
}

impl Scan {
    fn enter(&mut self) -> Result<(), Refusal> {
        if self.depth >= MAX_SCAN_DEPTH {
            return Err(Refusal::new(
                rule::UNPARSEABLE,
                format!("the command nests code more than {MAX_SCAN_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn script(&mut self, script: &Script) -> Result<(), Refusal> {
        self.enter()?;
        let result = self.script_inner(script);
        self.depth -= 1;
        result
    }

    fn script_inner(&mut self, script: &Script) -> Result<(), Refusal> {
        fork_bomb(script)?;
        for token in &script.tokens {
            match token {
                Token::Word(word) => {
                    for inner in word.scripts() {
                        self.script(inner)?;
                    }
                }
                Token::Op(op) => {
                    for piece in op.heredoc.iter().flat_map(|h| &h.pieces) {
                        if let Piece::Dynamic(d) = piece {
                            for inner in &d.scripts {
                                self.script(inner)?;
                            }
                        }
                    }
                }
            }
        }
        for pipeline in split(script)? {
            self.pipeline(&pipeline)?;
            for cmd in &pipeline {
                self.command(cmd)?;
            }
        }
        Ok(())
    }

    /// Re-parses `text`, which a shell will run, and scans it.
    fn code_text(&mut self, text: &str, what: &str) -> Result<(), Refusal> {
        let script = lex::lex(text).map_err(|e| {
            Refusal::new(
                rule::UNPARSEABLE,
                format!("the code given to `{what}` cannot be parsed safely: {e}"),
            )
        })?;
        self.script(&script)
    }

    fn command(&mut self, cmd: &Command) -> Result<(), Refusal> {
        for redir in &cmd.redirs {
            let Some(target) = redir.target else { continue };
            if !redir.kind.writes() {
                continue;
            }
            if targets::writes_device(target) {
                return Err(Refusal::new(
                    rule::BLOCK_DEVICE_WRITE,
                    format!(
                        "`> {}` writes straight to a device, which can destroy a disk; writing devices is always blocked",
                        targets::shown(target)
                    ),
                ));
            }
            if targets::is_privileged_file(target) {
                return Err(Refusal::new(
                    rule::PRIVILEGE_ESCALATION,
                    format!(
                        "`> {}` writes an account or privilege file; privilege escalation is always blocked",
                        targets::shown(target)
                    ),
                ));
            }
        }
        let mut words = cmd.words.as_slice();
        while let Some(first) = words.first() {
            if RESERVED.iter().any(|r| first.is_bare(r)) || is_assignment(first) {
                words = &words[1..];
            } else {
                break;
            }
        }
        match words.first() {
            None => Ok(()),
            Some(first)
                if ["for", "case", "select", "function"]
                    .iter()
                    .any(|k| first.is_bare(k)) =>
            {
                Ok(())
            }
            Some(_) => self.argv(words, &cmd.redirs),
        }
    }

    /// Pipeline-wide rules: code piped into a shell or interpreter, and `echo / | xargs rm`.
    fn pipeline(&mut self, cmds: &[Command]) -> Result<(), Refusal> {
        for (j, cmd) in cmds.iter().enumerate().skip(1) {
            if let Some(program) = wrappers::reads_code_from_stdin(&cmd.words) {
                let detail = if cmds[..j].iter().any(wrappers::downloads) {
                    format!(
                        "the command downloads code and pipes it into `{program}`, which runs it; download to a file, read it, then run it"
                    )
                } else {
                    format!(
                        "the command pipes data into `{program}`, which runs it as code that cannot be checked; write the commands out instead"
                    )
                };
                return Err(Refusal::new(rule::PIPE_TO_SHELL, detail));
            }
            if wrappers::xargs_deletes(&cmd.words) {
                for word in wrappers::echoed(&cmds[j - 1].words) {
                    if let Some(danger) = targets::deletion_danger(word, self.cwd_unknown) {
                        return Err(Refusal::new(
                            rule::DELETE_ROOT_OR_HOME,
                            format!("`xargs` would delete {danger}; deleting it is always blocked"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// `NAME=value` at the start of a simple command.
fn is_assignment(word: &Word) -> bool {
    match word.pieces.first() {
        Some(Piece::Lit {
            text,
            quoted: false,
        }) => text.split_once('=').is_some_and(|(name, _)| {
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }),
        _ => false,
    }
}

/// Splits a token list into pipelines of simple commands. Function definitions'
/// names are dropped (their bodies are ordinary commands here).
fn split(script: &Script) -> Result<Vec<Vec<Command<'_>>>, Refusal> {
    let tokens = &script.tokens;
    let mut pipelines = Vec::new();
    let mut pipeline = Vec::new();
    let mut cmd = Command::default();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Word(word) => cmd.words.push(word),
            Token::Op(op) => match op.kind {
                OpKind::Redir(kind) => {
                    let target = match tokens.get(i + 1) {
                        Some(Token::Word(word)) => word,
                        _ => {
                            return Err(Refusal::new(
                                rule::UNPARSEABLE,
                                format!("a redirection at byte {} has no target", op.span.start),
                            ));
                        }
                    };
                    i += 1;
                    cmd.redirs.push(Redir {
                        kind,
                        target: Some(target),
                        heredoc: op.heredoc.as_deref(),
                    });
                }
                OpKind::LParen
                    if matches!(tokens.get(i + 1), Some(Token::Op(next)) if next.kind == OpKind::RParen)
                        && (cmd.words.len() == 1
                            || (cmd.words.len() == 2 && cmd.words[0].is_bare("function"))) =>
                {
                    cmd = Command::default();
                    i += 1;
                }
                OpKind::Pipe | OpKind::PipeAmp => pipeline.push(std::mem::take(&mut cmd)),
                _ => {
                    pipeline.push(std::mem::take(&mut cmd));
                    pipelines.push(std::mem::take(&mut pipeline));
                }
            },
        }
        i += 1;
    }
    pipeline.push(cmd);
    pipelines.push(pipeline);
    for pipeline in &mut pipelines {
        pipeline.retain(|c| !c.words.is_empty() || !c.redirs.is_empty());
    }
    Ok(pipelines)
}

/// A function defined in a script: its name and the tokens of its body.
struct Function<'s> {
    name: String,
    body: &'s [Token],
}

/// Finds `name() { … }`, `name() ( … )` and `function name { … }` definitions.
fn functions(tokens: &[Token]) -> Vec<Function<'_>> {
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    };
    let op = |i: usize| match tokens.get(i) {
        Some(Token::Op(o)) => Some(o.kind),
        _ => None,
    };
    let mut found = Vec::new();
    for i in 0..tokens.len() {
        let (name, mut body) = if word(i).is_some_and(|w| w.is_bare("function")) {
            let Some(name) = word(i + 1).and_then(|w| w.static_text()) else {
                continue;
            };
            let skip = if op(i + 2) == Some(OpKind::LParen) && op(i + 3) == Some(OpKind::RParen) {
                4
            } else {
                2
            };
            (name, i + skip)
        } else if let Some(name) = word(i).and_then(|w| w.static_text())
            && op(i + 1) == Some(OpKind::LParen)
            && op(i + 2) == Some(OpKind::RParen)
        {
            (name, i + 3)
        } else {
            continue;
        };
        while op(body) == Some(OpKind::Newline) {
            body += 1;
        }
        let (open, close) = match op(body) {
            Some(OpKind::LBrace) => (OpKind::LBrace, OpKind::RBrace),
            Some(OpKind::LParen) => (OpKind::LParen, OpKind::RParen),
            _ => continue,
        };
        let mut depth = 0usize;
        for (j, token) in tokens.iter().enumerate().skip(body) {
            if let Token::Op(o) = token {
                if o.kind == open {
                    depth += 1;
                } else if o.kind == close {
                    depth -= 1;
                    if depth == 0 {
                        found.push(Function {
                            name,
                            body: &tokens[body + 1..j],
                        });
                        break;
                    }
                }
            }
        }
    }
    found
}

/// Refuses functions that call themselves (directly or through each other) in a
/// pipeline, in the background, or more than once: the `:(){ :|:& };:` family.
/// Plain recursion (`f(){ f; }`) is left to the process and memory limits.
fn fork_bomb(script: &Script) -> Result<(), Refusal> {
    let funcs = functions(&script.tokens);
    if funcs.is_empty() {
        return Ok(());
    }
    let calls = |f: &Function, g: &str| {
        f.body
            .iter()
            .filter(|t| matches!(t, Token::Word(w) if w.static_text().as_deref() == Some(g)))
            .count()
    };
    for f in &funcs {
        // Every function reachable from `f`'s calls.
        let mut reach: Vec<&str> = Vec::new();
        let mut todo: Vec<&Function> = vec![f];
        while let Some(current) = todo.pop() {
            for g in &funcs {
                if calls(current, &g.name) > 0 && !reach.contains(&g.name.as_str()) {
                    reach.push(&g.name);
                    todo.push(g);
                }
            }
        }
        if !reach.contains(&f.name.as_str()) {
            continue;
        }
        let spawns = f.body.iter().any(|t| {
            matches!(t, Token::Op(o) if matches!(o.kind, OpKind::Pipe | OpKind::PipeAmp | OpKind::Amp))
        });
        let cycle_calls: usize = funcs
            .iter()
            .filter(|g| reach.contains(&g.name.as_str()))
            .map(|g| calls(f, &g.name))
            .sum();
        if spawns || cycle_calls >= 2 {
            return Err(Refusal::new(
                rule::FORK_BOMB,
                format!(
                    "the function `{}` calls itself {}, which multiplies processes until the machine stalls (a fork bomb)",
                    f.name,
                    if spawns {
                        "in a pipeline or in the background"
                    } else {
                        "more than once"
                    }
                ),
            ));
        }
    }
    Ok(())
}
