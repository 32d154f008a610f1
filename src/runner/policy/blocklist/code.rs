//! The rules for code that runs code: shells (`-c` strings, script files, stdin),
//! other interpreters, `eval`, `source`, here-documents and here-strings, and files a
//! downloader wrote earlier in the same command. Pure.

use super::command::{script_downloads, word_downloads};
use super::targets::shown;
use super::wrappers::{interpreter_call, shell_call, stdin_operand};
use super::{Redir, Scan};
use crate::runner::policy::lex::{DynKind, Piece, RedirKind, Script, Word};
use crate::runner::policy::{Refusal, rule};

/// Whether the word has a process substitution (`<(…)`), i.e. generated code as a file.
fn has_process(word: &Word) -> bool {
    word.pieces
        .iter()
        .any(|p| matches!(p, Piece::Dynamic(d) if d.kind == DynKind::Process))
}

fn refuse(rule: &'static str, detail: String) -> Result<(), Refusal> {
    Err(Refusal::new(rule, detail))
}

impl Scan {
    pub(super) fn dynamic_program(&self, word: &Word) -> Result<(), Refusal> {
        if word_downloads(word) {
            return refuse(
                rule::PIPE_TO_SHELL,
                format!(
                    "`{}` runs the output of a download as a command; download to a file, read it, then run it",
                    shown(word)
                ),
            );
        }
        refuse(
            rule::DYNAMIC_COMMAND,
            format!(
                "the program `{}` is only known at run time, so it cannot be checked against the always-blocked list; name the program literally",
                shown(word)
            ),
        )
    }

    /// A word that a shell will run as code.
    pub(super) fn code_word(&mut self, word: &Word, what: &str) -> Result<(), Refusal> {
        if word_downloads(word) {
            return refuse(
                rule::PIPE_TO_SHELL,
                format!(
                    "`{what}` runs code produced by a download; download to a file, read it, then run it"
                ),
            );
        }
        match word.static_text() {
            Some(text) => self.code_text(&text, what),
            None => refuse(
                rule::DYNAMIC_COMMAND,
                format!(
                    "the code given to `{what}` (`{}`) is only known at run time, so it cannot be checked; write the commands out",
                    shown(word)
                ),
            ),
        }
    }

    pub(super) fn is_download(&self, text: &str) -> bool {
        let text = text.trim_start_matches("./");
        !text.is_empty() && self.downloads.iter().any(|d| d == text)
    }

    pub(super) fn ran_download(&self, program: &str, what: &str) -> Result<(), Refusal> {
        if self.is_download(what) {
            return refuse(
                rule::PIPE_TO_SHELL,
                format!(
                    "`{program}` runs `{what}`, which this command just downloaded; download it, read it, then run it in a separate command"
                ),
            );
        }
        Ok(())
    }

    pub(super) fn eval(&mut self, args: &[&Word]) -> Result<(), Refusal> {
        if args.iter().any(|w| word_downloads(w)) {
            return refuse(
                rule::PIPE_TO_SHELL,
                "`eval` runs code produced by a download; download to a file, read it, then run it"
                    .to_string(),
            );
        }
        let texts: Option<Vec<String>> = args.iter().map(|w| w.static_text()).collect();
        match texts {
            Some(texts) => self.code_text(&texts.join(" "), "eval"),
            None => refuse(
                rule::DYNAMIC_COMMAND,
                "`eval` of a value only known at run time cannot be checked; write the commands out"
                    .to_string(),
            ),
        }
    }

    /// A file a shell, interpreter or `source` runs.
    pub(super) fn script_operand(&self, program: &str, word: &Word) -> Result<(), Refusal> {
        if word_downloads(word) {
            return refuse(
                rule::PIPE_TO_SHELL,
                format!(
                    "`{program} {}` runs a script produced by a download; download it to a file, read it, then run it",
                    shown(word)
                ),
            );
        }
        if has_process(word) {
            return refuse(
                rule::DYNAMIC_COMMAND,
                format!(
                    "`{program} {}` runs code generated at run time, which cannot be checked",
                    shown(word)
                ),
            );
        }
        self.ran_download(program, &word.static_text().unwrap_or_default())
    }

    pub(super) fn shell(
        &mut self,
        name: &str,
        args: &[&Word],
        redirs: &[Redir],
    ) -> Result<(), Refusal> {
        let call = shell_call(args);
        if call.command_string {
            return match call.operand {
                Some(code) => self.code_word(code, "sh -c"),
                None => Ok(()),
            };
        }
        if let Some(file) = call.operand
            && !stdin_operand(Some(file))
            && !call.stdin
        {
            return self.script_operand(name, file);
        }
        self.stdin_code(name, redirs, true)
    }

    pub(super) fn interpreter(
        &mut self,
        name: &str,
        args: &[&Word],
        redirs: &[Redir],
    ) -> Result<(), Refusal> {
        if args.iter().any(|w| word_downloads(w)) {
            return refuse(
                rule::PIPE_TO_SHELL,
                format!(
                    "`{name}` runs code produced by a download; download to a file, read it, then run it"
                ),
            );
        }
        let call = interpreter_call(name, args);
        if let Some(code) = call.code.and_then(|w| w.static_text()) {
            let loops = ["while", "for ", "for(", "loop", "until"]
                .iter()
                .any(|k| code.contains(k));
            if code.contains("fork") && loops {
                return refuse(
                    rule::FORK_BOMB,
                    format!(
                        "the `{name}` code calls fork in a loop, which multiplies processes until the machine stalls (a fork bomb)"
                    ),
                );
            }
            return Ok(());
        }
        if call.module {
            return Ok(());
        }
        match call.operand {
            Some(file) if !stdin_operand(Some(file)) => self.script_operand(name, file),
            _ => self.stdin_code(name, redirs, false),
        }
    }

    /// Code a shell or interpreter reads from stdin: here-documents, here-strings and
    /// input redirections.
    pub(super) fn stdin_code(
        &mut self,
        name: &str,
        redirs: &[Redir],
        shell: bool,
    ) -> Result<(), Refusal> {
        for redir in redirs {
            match (redir.kind, redir.heredoc, redir.target) {
                (RedirKind::HereDoc, Some(doc), _) => {
                    let scripts: Vec<&Script> = doc
                        .pieces
                        .iter()
                        .flat_map(|p| match p {
                            Piece::Dynamic(d) => d.scripts.iter().collect(),
                            _ => Vec::new(),
                        })
                        .collect();
                    if scripts.iter().any(|s| script_downloads(s)) {
                        return refuse(
                            rule::PIPE_TO_SHELL,
                            format!(
                                "the here-document fed to `{name}` runs code produced by a download"
                            ),
                        );
                    }
                    if doc.pieces.iter().any(|p| matches!(p, Piece::Dynamic(_))) {
                        return refuse(
                            rule::DYNAMIC_COMMAND,
                            format!(
                                "the here-document fed to `{name}` contains code generated at run time, which cannot be checked; quote the delimiter (`<<'EOF'`) or write the commands out"
                            ),
                        );
                    }
                    if shell {
                        self.code_text(&doc.text, "here-document")?;
                    }
                }
                (RedirKind::HereString, _, Some(word)) => {
                    if shell {
                        self.code_word(word, "here-string")?;
                    } else if word_downloads(word) {
                        return refuse(
                            rule::PIPE_TO_SHELL,
                            format!(
                                "the here-string fed to `{name}` runs code produced by a download"
                            ),
                        );
                    }
                }
                (RedirKind::In, _, Some(word)) => {
                    let text = word.static_text().unwrap_or_default();
                    if text.starts_with("/dev/tcp/") || text.starts_with("/dev/udp/") {
                        return refuse(
                            rule::PIPE_TO_SHELL,
                            format!("`{name} < {text}` runs code read from the network"),
                        );
                    }
                    self.script_operand(name, word)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Remembers which files a downloader writes, to catch `curl -o x.sh …; sh x.sh`.
    pub(super) fn record_downloads(&mut self, name: &str, args: &[&Word], redirs: &[Redir]) {
        let texts: Vec<String> = args
            .iter()
            .map(|w| w.static_text().unwrap_or_default())
            .collect();
        let mut outputs: Vec<String> = Vec::new();
        let mut remote_name = false;
        let mut explicit = false;
        let (out_flag, long) = if name == "wget" {
            ('O', "--output-document")
        } else {
            ('o', "--output")
        };
        for (i, text) in texts.iter().enumerate() {
            let next = texts.get(i + 1).cloned().unwrap_or_default();
            if text == long {
                outputs.push(next);
                explicit = true;
            } else if let Some(value) = text.strip_prefix(long).and_then(|v| v.strip_prefix('=')) {
                outputs.push(value.to_string());
                explicit = true;
            } else if text.starts_with('-') && !text.starts_with("--") {
                if let Some(at) = text.find(out_flag) {
                    let rest = &text[at + 1..];
                    outputs.push(if rest.is_empty() {
                        next
                    } else {
                        rest.to_string()
                    });
                    explicit = true;
                }
                remote_name |= name == "curl" && text.contains('O');
            } else if text == "--remote-name" || text == "--remote-name-all" {
                remote_name = true;
            }
        }
        if remote_name || (name == "wget" && !explicit) {
            for url in texts.iter().filter(|t| t.contains("://")) {
                let path = url.split(['?', '#']).next().unwrap_or("");
                if let Some(file) = path
                    .rsplit('/')
                    .next()
                    .filter(|f| !f.is_empty() && !path.ends_with("//"))
                {
                    outputs.push(file.to_string());
                }
            }
        }
        for redir in redirs {
            if redir.kind.writes()
                && let Some(text) = redir.target.and_then(|t| t.static_text())
            {
                outputs.push(text);
            }
        }
        self.downloads.extend(
            outputs
                .into_iter()
                .map(|o| o.trim_start_matches("./").to_string())
                .filter(|o| !o.is_empty() && o != "-"),
        );
    }
}
