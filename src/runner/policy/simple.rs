//! The front end of `safe` and `restricted` mode: turns the command into the argv that
//! runs directly (no shell), and decides what program argv[0] names.
//!
//! These modes run exactly one program, so there is no shell grammar to understand:
//! every unquoted shell metacharacter (`; & | ( ) < > $` backquote, a newline, a `#` or
//! `~` starting a word, brace expansion) is refused outright, and only then are the words
//! split, by the `shlex` crate (POSIX quoting: `'…'`, `"…"`, `\`). Whatever a shell would
//! have done with the refused characters, nothing here has to guess it.
//!
//! Globs are the one shell feature kept, because agents use them constantly; they are
//! expanded here, inside the workspace, exactly once. To know which `*?[` were quoted
//! after `shlex` has removed the quotes, the scan replaces the unquoted ones (and unquoted
//! braces) with private-use stand-ins before splitting, and restores them afterwards.

use std::path::{Path, PathBuf};

use super::{Refusal, paths, rule};

/// Directories a program named by absolute path may live in.
pub(super) const SYSTEM_BIN_DIRS: &[&str] =
    &["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"];

/// Unquoted characters that keep a meaning after splitting, and their stand-ins.
const MARKED: [(char, char); 6] = [
    ('*', '\u{E000}'),
    ('?', '\u{E001}'),
    ('[', '\u{E002}'),
    (']', '\u{E003}'),
    ('{', '\u{E004}'),
    ('}', '\u{E005}'),
];

fn stand_in(c: char) -> Option<char> {
    MARKED
        .iter()
        .find(|(from, _)| *from == c)
        .map(|(_, to)| *to)
}

fn stood_for(c: char) -> Option<char> {
    MARKED
        .iter()
        .find(|(_, to)| *to == c)
        .map(|(from, _)| *from)
}

/// The argv the command runs, with globs expanded inside the workspace.
pub(super) fn argv(command: &str, workspace: &Path) -> Result<Vec<String>, Refusal> {
    let marked = scan(command)?;
    let words = shlex::split(&marked).ok_or_else(|| {
        Refusal::new(
            rule::UNPARSEABLE,
            "the command cannot be split into words (an unbalanced quote?)",
        )
    })?;
    let mut argv = Vec::new();
    for word in &words {
        let text: String = word.chars().map(|c| stood_for(c).unwrap_or(c)).collect();
        if word == "\u{E004}" || word == "\u{E005}" {
            return Err(Refusal::new(
                rule::SHELL_OPERATOR,
                format!(
                    "a bare `{text}` groups commands in a shell; quote it if it is meant literally"
                ),
            ));
        }
        if is_brace_expansion(word) {
            return Err(Refusal::new(
                rule::SHELL_OPERATOR,
                format!(
                    "`{text}` uses brace expansion, which needs a shell; list the words, or quote the braces"
                ),
            ));
        }
        if !is_glob(word) {
            argv.push(text);
        } else if argv.is_empty() {
            return Err(Refusal::new(
                rule::PROGRAM_NOT_ALLOWED,
                format!("the program name `{text}` is a glob; name the program exactly"),
            ));
        } else {
            argv.extend(paths::expand_glob(workspace, &glob_pattern(word), &text)?);
        }
    }
    if argv.is_empty() {
        return Err(Refusal::new(rule::EMPTY_COMMAND, "the command is empty"));
    }
    Ok(argv)
}

/// Refuses every unquoted metacharacter, a leading `NAME=value`, and unbalanced quotes;
/// returns the command with unquoted glob characters and braces replaced by stand-ins.
fn scan(command: &str) -> Result<String, Refusal> {
    let operator = |c: char, at: usize| {
        Refusal::new(
            rule::SHELL_OPERATOR,
            format!(
                "the shell character `{}` at byte {at} chains, pipes, backgrounds, groups or comments commands; this mode runs exactly one program with no shell (quote the character if it is meant literally)",
                c.escape_default()
            ),
        )
    };
    if let Some((at, c)) = command
        .char_indices()
        .find(|&(_, c)| stood_for(c).is_some())
    {
        return Err(Refusal::new(
            rule::UNPARSEABLE,
            format!(
                "the private-use character U+{:04X} at byte {at} is not accepted",
                u32::from(c)
            ),
        ));
    }
    let start = command.trim_start_matches([' ', '\t']);
    if let Some((name, _)) = start.split_once('=')
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(Refusal::new(
            rule::ASSIGNMENT,
            format!(
                "`{name}=…` sets an environment variable for the command; this mode runs programs with a fixed environment"
            ),
        ));
    }
    let mut out = String::with_capacity(command.len());
    let mut chars = command.char_indices().peekable();
    let mut word_start = true;
    while let Some((at, c)) = chars.next() {
        let starts_word = word_start;
        word_start = matches!(c, ' ' | '\t');
        match c {
            ' ' | '\t' => out.push(c),
            '\n' | ';' | '&' | '|' | '(' | ')' => return Err(operator(c, at)),
            '#' if starts_word => return Err(operator(c, at)),
            '~' if starts_word => {
                return Err(Refusal::new(
                    rule::OUTSIDE_WORKSPACE,
                    format!(
                        "the word at byte {at} starts with `~`, a home directory, which is outside the workspace"
                    ),
                ));
            }
            '<' | '>' if chars.peek().is_some_and(|&(_, n)| n == '(') => {
                return Err(substitution(at));
            }
            '<' | '>' => {
                return Err(Refusal::new(
                    rule::REDIRECTION,
                    format!(
                        "`{c}` at byte {at} redirects input or output; this mode runs one program with no redirection (name input files as arguments; output comes back to you anyway)"
                    ),
                ));
            }
            '`' => return Err(substitution(at)),
            '$' => return Err(dollar(chars.peek().map(|&(_, n)| n), at)),
            '\\' => match chars.next() {
                None => return Err(trailing_backslash()),
                Some((_, '\n')) => return Err(operator('\n', at + 1)),
                Some((_, n)) => {
                    out.push('\\');
                    out.push(n);
                }
            },
            '\'' => {
                out.push('\'');
                loop {
                    match chars.next() {
                        None => return Err(unbalanced("single", at)),
                        Some((_, '\'')) => break,
                        Some((_, n)) => out.push(n),
                    }
                }
                out.push('\'');
            }
            '"' => {
                out.push('"');
                loop {
                    match chars.next() {
                        None => return Err(unbalanced("double", at)),
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            None => return Err(unbalanced("double", at)),
                            Some((_, n)) => {
                                out.push('\\');
                                out.push(n);
                            }
                        },
                        Some((i, '`')) => return Err(substitution(i)),
                        Some((i, '$')) => return Err(dollar(chars.peek().map(|&(_, n)| n), i)),
                        Some((_, n)) => out.push(n),
                    }
                }
                out.push('"');
            }
            c => out.push(stand_in(c).unwrap_or(c)),
        }
    }
    Ok(out)
}

fn substitution(at: usize) -> Refusal {
    Refusal::new(
        rule::SUBSTITUTION,
        format!(
            "the command or process substitution at byte {at} needs a shell; run that command on its own first"
        ),
    )
}

fn dollar(next: Option<char>, at: usize) -> Refusal {
    if next == Some('(') {
        return substitution(at);
    }
    Refusal::new(
        rule::VARIABLE_EXPANSION,
        format!(
            "the `$` at byte {at} expands a variable or special quoting; no shell runs here and the environment is fixed, so write the value out (or single-quote a literal `$`)"
        ),
    )
}

fn trailing_backslash() -> Refusal {
    Refusal::new(rule::UNPARSEABLE, "a trailing `\\` escapes nothing")
}

fn unbalanced(kind: &str, at: usize) -> Refusal {
    Refusal::new(
        rule::UNPARSEABLE,
        format!("the {kind} quote at byte {at} is never closed"),
    )
}

/// Whether an unquoted `*`, `?` or `[…]` makes this (marked) word a glob pattern.
fn is_glob(word: &str) -> bool {
    let star_or_any = |c: char| c == '\u{E000}' || c == '\u{E001}';
    word.contains(star_or_any)
        || word
            .find('\u{E002}')
            .is_some_and(|at| word[at..].contains('\u{E003}'))
}

/// `{a,b}` or `{1..3}` with unquoted braces (bash would expand it).
fn is_brace_expansion(word: &str) -> bool {
    let Some(open) = word.find('\u{E004}') else {
        return false;
    };
    let Some(close) = word[open..].find('\u{E005}') else {
        return false;
    };
    let inner = &word[open + '\u{E004}'.len_utf8()..open + close];
    inner.contains(',') || inner.contains("..")
}

/// The (marked) word as a glob pattern for `paths::expand_glob`: stand-ins become glob
/// characters, and quoted ones are backslash-escaped.
fn glob_pattern(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        match stood_for(c) {
            Some(g) => out.push(g),
            None => {
                if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Result<Vec<String>, &'static str> {
        let dir = tempfile::tempdir().expect("temp dir");
        argv(command, dir.path()).map_err(|r| r.rule)
    }

    #[test]
    fn quoting_makes_one_word() {
        assert_eq!(words("echo 'a;b'"), Ok(vec!["echo".into(), "a;b".into()]));
        assert_eq!(
            words(r#"echo "a b"\ c 'it'"'"'s' "\$x" '' HEAD~1 @{1}"#),
            Ok(["echo", "a b c", "it's", "$x", "", "HEAD~1", "@{1}"]
                .map(String::from)
                .to_vec())
        );
    }

    #[test]
    fn every_unquoted_metacharacter_is_refused() {
        for (command, want) in [
            ("ls; id", rule::SHELL_OPERATOR),
            ("ls\nid", rule::SHELL_OPERATOR),
            ("ls \\\n -l", rule::SHELL_OPERATOR),
            ("ls # c", rule::SHELL_OPERATOR),
            ("echo a{b,c}", rule::SHELL_OPERATOR),
            ("ls { x", rule::SHELL_OPERATOR),
            ("ls 2>&1", rule::REDIRECTION),
            ("ls <(id)", rule::SUBSTITUTION),
            ("echo \"`id`\"", rule::SUBSTITUTION),
            ("echo \"$(id)\"", rule::SUBSTITUTION),
            ("echo $", rule::VARIABLE_EXPANSION),
            ("echo \"${x}\"", rule::VARIABLE_EXPANSION),
            ("X=1 ls", rule::ASSIGNMENT),
            ("cat ~/x", rule::OUTSIDE_WORKSPACE),
            ("echo 'open", rule::UNPARSEABLE),
            ("echo \"open", rule::UNPARSEABLE),
            ("echo \\", rule::UNPARSEABLE),
            ("echo \u{E000}", rule::UNPARSEABLE),
            ("* x", rule::PROGRAM_NOT_ALLOWED),
            ("  ", rule::EMPTY_COMMAND),
        ] {
            assert_eq!(words(command), Err(want), "{command:?}");
        }
    }

    proptest::proptest! {
        /// The scan and `shlex` agree with yolo mode's full shell tokenizer: whenever
        /// the scan accepts a command, the words are the same, and a word globs when
        /// the tokenizer saw an unquoted glob in it (and only then, but for brackets).
        #[test]
        fn words_and_globs_agree_with_the_shell_tokenizer(chars in proptest::collection::vec(
            proptest::sample::select(&[
                'a', ' ', '\t', '\'', '"', '\\', '*', '?', '[', ']', '{', '}', ',', '=', '#', '~', '-', '\n',
            ][..]),
            0..24,
        )) {
            let command: String = chars.into_iter().collect();
            let (Ok(marked), Ok(script)) = (scan(&command), super::super::lex::lex(&command)) else {
                return Ok(());
            };
            let mut theirs = Vec::new();
            for token in &script.tokens {
                match token {
                    super::super::lex::Token::Word(w) => {
                        theirs.push((w.static_text().unwrap_or_default(), w.has_glob()));
                    }
                    // Bare `{`/`}`: `argv` refuses those words.
                    super::super::lex::Token::Op(_) => return Ok(()),
                }
            }
            let ours: Vec<(String, bool)> = shlex::split(&marked)
                .unwrap_or_default()
                .iter()
                .map(|w| (w.chars().map(|c| stood_for(c).unwrap_or(c)).collect(), is_glob(w)))
                .collect();
            proptest::prop_assert_eq!(ours.len(), theirs.len(), "{:?}", command);
            // The tokenizer only sees `[…]` within one unquoted run; `[\a]` is a
            // bracket expression to `sh` too, so here it may glob where it did not.
            let theirs: Vec<(String, bool)> = theirs
                .into_iter()
                .zip(&ours)
                .map(|((text, glob), (_, our_glob))| {
                    let bracket = text.contains('[') && text.contains(']');
                    (text, glob || (bracket && *our_glob))
                })
                .collect();
            proptest::prop_assert_eq!(ours, theirs, "{:?}", command);
        }
    }

    #[test]
    fn only_unquoted_glob_characters_glob() {
        assert!(is_glob("a\u{E000}"));
        assert!(!is_glob("a*"));
        assert!(is_glob("\u{E002}ab\u{E003}"));
        assert!(!is_glob("\u{E002}ab"));
        assert_eq!(glob_pattern("\u{E000}.rs*"), "*.rs\\*");
    }
}
