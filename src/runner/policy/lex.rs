//! POSIX-sh tokenizer for `yolo` mode's always-blocked list: turns a command line into words and
//! operators with byte positions, the way `sh` would split it, without running anything.
//!
//! It knows single and double quotes, backslash escapes and line continuations, the
//! unquoted operators (`;` `;;` `&` `&&` `|` `||` `|&` `(` `)` newline, `{`/`}` as whole
//! words, every redirection including here-documents and here-strings), `#` comments, and
//! inside words: `$NAME`/`${…}` expansions, `$(…)`, backticks, `$((…))`, `<(…)`/`>(…)`,
//! `$'…'`/`$"…"`, a leading `~`, and which literal characters were quoted (so a glob
//! check can tell `*` from `'*'`). Command and process substitutions are tokenized
//! recursively, so the checks can see the commands inside them.
//!
//! Pure: no I/O. Anything it cannot tokenize with confidence (an unterminated quote,
//! a trailing backslash, odd arithmetic, nesting deeper than [`MAX_DEPTH`], an unmatched
//! `)`) is an error, and the policy refuses the command: it fails closed.

mod scan;
mod word;

use std::fmt;
use std::ops::Range;

/// Deepest nesting of substitutions and `${…}` accepted; deeper input is refused (and the
/// bound keeps recursion, hence the stack, small on hostile input).
pub(crate) const MAX_DEPTH: usize = 12;

/// A tokenized command list (the whole command, or the inside of a substitution).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Script {
    pub tokens: Vec<Token>,
}

/// One shell token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Word(Word),
    Op(Op),
}

/// An operator with where it was and, for `<<`, the here-document body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Op {
    pub kind: OpKind,
    pub span: Range<usize>,
    pub heredoc: Option<Box<HereDoc>>,
}

/// The operators the tokenizer recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Semi,
    DoubleSemi,
    Amp,
    AndIf,
    OrIf,
    Pipe,
    PipeAmp,
    LParen,
    RParen,
    LBrace,
    RBrace,
    Newline,
    Redir(RedirKind),
}

/// Redirection operators (a leading file-descriptor number is accepted and dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirKind {
    In,
    Out,
    Append,
    Clobber,
    ReadWrite,
    DupIn,
    DupOut,
    HereDoc,
    HereString,
    OutErr,
    AppendOutErr,
}

impl RedirKind {
    /// Whether the target word names something written to.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Self::Out
                | Self::Append
                | Self::Clobber
                | Self::ReadWrite
                | Self::DupOut
                | Self::OutErr
                | Self::AppendOutErr
        )
    }
}

/// A here-document body, read after the line that announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HereDoc {
    /// The body text as written (leading tabs removed for `<<-`).
    pub text: String,
    /// The body after tokenizing its expansions; one quoted literal when the delimiter was quoted.
    pub pieces: Vec<Piece>,
}

/// A word: the pieces it is made of, in order, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub pieces: Vec<Piece>,
    pub span: Range<usize>,
}

/// Part of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Literal text; `quoted` when it came from quotes or a backslash, so glob and
    /// brace characters in it are inert.
    Lit { text: String, quoted: bool },
    /// An unquoted leading `~` or `~user`.
    Tilde(String),
    /// `$NAME`, `${NAME}` or a special parameter such as `$1` or `$@`.
    Param { name: String },
    /// Anything else that is only known when the shell runs it.
    Dynamic(Dynamic),
}

/// A run-time expansion and the command lists it contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dynamic {
    pub kind: DynKind,
    /// Command lists that run when this expands (the inside of `$(…)`, or substitutions
    /// nested in `${…}`/`$((…))`).
    pub scripts: Vec<Script>,
}

/// The kinds of run-time expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DynKind {
    /// `$(…)` or backticks.
    Command,
    /// `<(…)` or `>(…)`.
    Process,
    /// `$((…))`.
    Arithmetic,
    /// `${…}` with an operator (`${x:-y}`, `${#x}` …).
    Parameter,
    /// `$'…'` (bash decodes escapes; dash does not), `$"…"`.
    Quoting,
}

impl Word {
    /// The word's value when it is fully known now: literal pieces only.
    pub fn static_text(&self) -> Option<String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Lit { text, .. } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Whether an unquoted `*`, `?` or `[…]` makes this word a glob pattern (a `[`
    /// without a later `]`, like the `[` command, is an ordinary character).
    pub fn has_glob(&self) -> bool {
        self.pieces.iter().any(|p| match p {
            Piece::Lit {
                text,
                quoted: false,
            } => {
                text.contains(['*', '?'])
                    || text
                        .find('[')
                        .is_some_and(|at| text[at + 1..].contains(']'))
            }
            _ => false,
        })
    }

    /// The last path component when it is literal even though an earlier part is not
    /// (`"$HOME/.cargo/bin/cargo"` gives `cargo`); for a fully literal word, its last
    /// component.
    pub fn literal_basename(&self) -> Option<String> {
        let mut tail = String::new();
        for piece in self.pieces.iter().rev() {
            match piece {
                Piece::Lit { text, .. } => tail.insert_str(0, text),
                _ => {
                    let (_, name) = tail.rsplit_once('/')?;
                    return Some(name.to_string());
                }
            }
        }
        Some(tail.rsplit('/').next().unwrap_or(&tail).to_string())
    }

    /// The command lists that run when this word is expanded.
    pub fn scripts(&self) -> impl Iterator<Item = &Script> {
        self.pieces.iter().flat_map(|p| match p {
            Piece::Dynamic(d) => d.scripts.as_slice(),
            _ => &[],
        })
    }

    /// Whether this is exactly the unquoted literal `s`.
    pub fn is_bare(&self, s: &str) -> bool {
        matches!(self.pieces.as_slice(), [Piece::Lit { text, quoted: false }] if text == s)
    }
}

/// Why the tokenizer gave up, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub message: String,
    pub at: usize,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.at)
    }
}

/// Tokenizes a whole command line.
pub(crate) fn lex(src: &str) -> Result<Script, LexError> {
    scan::lex_at(src, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<Option<String>> {
        lex(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .tokens
            .iter()
            .map(|t| match t {
                Token::Word(w) => w.static_text(),
                Token::Op(_) => Some("<op>".to_string()),
            })
            .collect()
    }

    fn s(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|x| Some((*x).to_string())).collect()
    }

    #[test]
    fn quoting_makes_one_word() {
        assert_eq!(words("echo 'a;b'"), s(&["echo", "a;b"]));
        assert_eq!(words(r#"echo "a b"\ c"#), s(&["echo", "a b c"]));
        assert_eq!(words(r#"echo 'it'"'"'s'"#), s(&["echo", "it's"]));
        assert_eq!(words(r#"echo "\$HOME" \;"#), s(&["echo", "$HOME", ";"]));
        assert_eq!(words("echo ''"), s(&["echo", ""]));
    }

    #[test]
    fn operators_are_found_with_positions() {
        let script = lex("ls; rm -rf ~").unwrap();
        let Token::Op(op) = &script.tokens[1] else {
            panic!("expected an operator")
        };
        assert_eq!((op.kind, op.span.clone()), (OpKind::Semi, 2..3));
        assert_eq!(
            words("a&&b||c|d&e"),
            s(&["a", "<op>", "b", "<op>", "c", "<op>", "d", "<op>", "e"])
        );
        assert_eq!(words("a 2>&1 >>f"), s(&["a", "<op>", "1", "<op>", "f"]));
        assert_eq!(words("{ a; }"), s(&["<op>", "a", "<op>", "<op>"]));
        assert_eq!(words("echo {} a{b,c}"), s(&["echo", "{}", "a{b,c}"]));
    }

    #[test]
    fn substitutions_are_tokenized_inside() {
        let script = lex("echo $(curl x | sh) `id` <(ls)").unwrap();
        let inner: Vec<usize> = script
            .tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.scripts().map(|s| s.tokens.len()).sum()),
                Token::Op(_) => None,
            })
            .collect();
        assert_eq!(inner, vec![0, 4, 1, 1]);
        assert!(lex("echo ${x:-$(id)}").is_ok());
        assert!(lex("echo $(( 1 + $(id) ))").is_ok());
        assert!(lex("echo $((a); (b))").is_err());
        assert!(lex("case x in a) echo;; (b) echo;; esac").is_ok());
        assert!(lex("echo $(case x in a) echo;; esac)").is_ok());
    }

    #[test]
    fn heredoc_bodies_are_attached() {
        let script = lex("cat <<EOF | sh\nrm -rf /\nEOF\necho done").unwrap();
        let body = script.tokens.iter().find_map(|t| match t {
            Token::Op(Op {
                heredoc: Some(h), ..
            }) => Some(h.text.clone()),
            _ => None,
        });
        assert_eq!(body.as_deref(), Some("rm -rf /\n"));
        assert!(lex("cat <<EOF\nno end").is_err());
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            "echo 'a",
            "echo \"a",
            "echo $(ls",
            "echo `ls",
            "echo \\",
            "a )",
            "( a",
            "echo ${a",
            "cat <<",
        ] {
            assert!(lex(bad).is_err(), "{bad}");
        }
        let deep = "$(".repeat(40) + &")".repeat(40);
        assert!(lex(&deep).is_err());
    }
}
