//! The command-list level of the tokenizer: operators, comments, `case` patterns,
//! here-document bodies, and the loop that hands words to `word.rs`. Pure.

use super::word::push_lit;
use super::{HereDoc, LexError, MAX_DEPTH, Op, OpKind, Piece, RedirKind, Script, Token};

/// Tokenizes `src`, which starts at byte `base` of the outer command, at nesting `depth`.
pub(super) fn lex_at(src: &str, base: usize, depth: usize) -> Result<Script, LexError> {
    if depth > MAX_DEPTH {
        return Err(LexError {
            message: format!("substitutions nested deeper than {MAX_DEPTH} levels"),
            at: base,
        });
    }
    let mut lexer = Lexer {
        src,
        pos: 0,
        base,
        depth,
    };
    lexer.list(false)
}

/// Characters that end an unquoted word.
pub(super) fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
    )
}

pub(super) fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(super) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// A here-document announced by `<<` whose body is read after the next newline.
struct Pending {
    token: usize,
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
}

/// The cursor over one piece of source text.
pub(super) struct Lexer<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    /// Where `src` starts in the outer command, for error positions and spans.
    pub(super) base: usize,
    /// Current nesting of substitutions.
    pub(super) depth: usize,
}

impl Lexer<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    pub(super) fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    pub(super) fn err<T>(&self, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            message: message.into(),
            at: self.base + self.pos,
        })
    }

    pub(super) fn deeper(&mut self) -> Result<(), LexError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!(
                "substitutions nested deeper than {MAX_DEPTH} levels"
            ));
        }
        Ok(())
    }

    /// Reads a command list up to the end of input or, when `in_subst`, up to the `)`
    /// that closes a `$(` / `<(` / `>(`.
    pub(super) fn list(&mut self, in_subst: bool) -> Result<Script, LexError> {
        let mut script = Script::default();
        let mut pending: Vec<Pending> = Vec::new();
        let mut delimiter_for: Option<(usize, bool)> = None;
        let mut parens = 0usize;
        // Open `case … esac` constructs: their `pattern)` closes nothing.
        let mut cases = 0usize;
        loop {
            self.skip_blanks();
            let start = self.pos;
            let Some(c) = self.peek() else {
                if in_subst {
                    return self.err("missing `)` to close a substitution");
                }
                break;
            };
            if delimiter_for.is_some() && (is_meta(c) || c == '#') {
                return self.err("`<<` must be followed by a delimiter word");
            }
            match c {
                '\n' => {
                    self.pos += 1;
                    self.push_op(&mut script, OpKind::Newline, start);
                    self.read_heredocs(&mut script, &mut pending)?;
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                ')' if parens == 0 && cases > 0 => {
                    self.pos += 1;
                    self.push_op(&mut script, OpKind::RParen, start);
                }
                ')' if parens == 0 => {
                    if !in_subst {
                        return self.err("unmatched `)`");
                    }
                    self.pos += 1;
                    break;
                }
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    let word = self.word()?;
                    script.tokens.push(Token::Word(word));
                }
                ';' | '&' | '|' | '(' | ')' | '<' | '>' => {
                    let kind = self.operator();
                    match kind {
                        OpKind::LParen => parens += 1,
                        OpKind::RParen => parens -= 1,
                        OpKind::Redir(RedirKind::HereDoc) => {
                            let strip_tabs = self.rest().starts_with('-');
                            if strip_tabs {
                                self.pos += 1;
                            }
                            delimiter_for = Some((script.tokens.len(), strip_tabs));
                        }
                        _ => {}
                    }
                    self.push_op(&mut script, kind, start);
                }
                c if c.is_ascii_digit() && self.fd_redirection() => {
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                }
                _ => {
                    let word = self.word()?;
                    if let Some((token, strip_tabs)) = delimiter_for.take() {
                        let Some(delimiter) = word.static_text() else {
                            return self.err("a here-document delimiter must be literal text");
                        };
                        let quoted = word
                            .pieces
                            .iter()
                            .any(|p| matches!(p, Piece::Lit { quoted: true, .. }));
                        pending.push(Pending {
                            token,
                            delimiter,
                            quoted,
                            strip_tabs,
                        });
                    }
                    if at_command_start(&script.tokens) {
                        if word.is_bare("case") {
                            cases += 1;
                        } else if word.is_bare("esac") {
                            cases = cases.saturating_sub(1);
                        }
                    }
                    let kind = if word.is_bare("{") {
                        Some(OpKind::LBrace)
                    } else if word.is_bare("}") {
                        Some(OpKind::RBrace)
                    } else {
                        None
                    };
                    match kind {
                        Some(kind) => self.push_op(&mut script, kind, start),
                        None => script.tokens.push(Token::Word(word)),
                    }
                }
            }
        }
        if delimiter_for.is_some() {
            return self.err("`<<` must be followed by a delimiter word");
        }
        if !pending.is_empty() {
            return self.err("a here-document has no body (it must start on the next line)");
        }
        if parens > 0 {
            return self.err("missing `)`");
        }
        Ok(script)
    }

    fn push_op(&self, script: &mut Script, kind: OpKind, start: usize) {
        script.tokens.push(Token::Op(Op {
            kind,
            span: self.base + start..self.base + self.pos,
            heredoc: None,
        }));
    }

    /// Skips spaces, tabs and backslash-newline continuations.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t') => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                _ => return,
            }
        }
    }

    /// Whether the digits at the cursor are a file-descriptor number before `<`/`>`.
    fn fd_redirection(&self) -> bool {
        let rest = self.rest();
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = &rest[digits..];
        (after.starts_with('<') || after.starts_with('>'))
            && !after.starts_with("<(")
            && !after.starts_with(">(")
    }

    /// Reads one operator at the cursor (the caller checked it starts one).
    fn operator(&mut self) -> OpKind {
        const TABLE: &[(&str, OpKind)] = &[
            (";;", OpKind::DoubleSemi),
            (";", OpKind::Semi),
            ("&&", OpKind::AndIf),
            ("&>>", OpKind::Redir(RedirKind::AppendOutErr)),
            ("&>", OpKind::Redir(RedirKind::OutErr)),
            ("&", OpKind::Amp),
            ("||", OpKind::OrIf),
            ("|&", OpKind::PipeAmp),
            ("|", OpKind::Pipe),
            ("(", OpKind::LParen),
            (")", OpKind::RParen),
            ("<<<", OpKind::Redir(RedirKind::HereString)),
            ("<<", OpKind::Redir(RedirKind::HereDoc)),
            ("<&", OpKind::Redir(RedirKind::DupIn)),
            ("<>", OpKind::Redir(RedirKind::ReadWrite)),
            ("<", OpKind::Redir(RedirKind::In)),
            (">>", OpKind::Redir(RedirKind::Append)),
            (">|", OpKind::Redir(RedirKind::Clobber)),
            (">&", OpKind::Redir(RedirKind::DupOut)),
            (">", OpKind::Redir(RedirKind::Out)),
        ];
        for (text, kind) in TABLE {
            if self.rest().starts_with(text) {
                self.pos += text.len();
                return *kind;
            }
        }
        // The caller only calls this on one of the characters above, and every one of
        // them has a one-character entry, so this is unreachable; stay total anyway.
        self.pos += 1;
        OpKind::Semi
    }

    /// Reads the bodies of the here-documents announced on the line just ended.
    fn read_heredocs(
        &mut self,
        script: &mut Script,
        pending: &mut Vec<Pending>,
    ) -> Result<(), LexError> {
        for doc in pending.drain(..) {
            let body_start = self.pos;
            let mut text = String::new();
            loop {
                if self.pos >= self.src.len() {
                    return Err(LexError {
                        message: format!("here-document is missing its `{}` line", doc.delimiter),
                        at: self.base + body_start,
                    });
                }
                let rest = self.rest();
                let end = rest.find('\n').unwrap_or(rest.len());
                let line = &rest[..end];
                let line = if doc.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                let line = line.to_string();
                self.pos += end + usize::from(end < rest.len());
                if line == doc.delimiter {
                    break;
                }
                text.push_str(&line);
                text.push('\n');
            }
            let pieces = if doc.quoted {
                vec![Piece::Lit {
                    text: text.clone(),
                    quoted: true,
                }]
            } else {
                let mut sub = Lexer {
                    src: &text,
                    pos: 0,
                    base: self.base + body_start,
                    depth: self.depth,
                };
                let mut pieces = Vec::new();
                sub.heredoc_body(&mut pieces)?;
                pieces
            };
            if let Some(Token::Op(op)) = script.tokens.get_mut(doc.token) {
                op.heredoc = Some(Box::new(HereDoc { text, pieces }));
            }
        }
        Ok(())
    }

    /// An unquoted here-document body: `$`, backticks and `\` are special, quotes are not.
    fn heredoc_body(&mut self, pieces: &mut Vec<Piece>) -> Result<(), LexError> {
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    self.pos += 1;
                    match self.bump() {
                        Some(c @ ('$' | '`' | '\\')) => push_lit(pieces, c, true),
                        Some('\n') => {}
                        Some(c) => {
                            push_lit(pieces, '\\', true);
                            push_lit(pieces, c, true);
                        }
                        None => push_lit(pieces, '\\', true),
                    }
                }
                '$' => self.dollar(pieces, true)?,
                '`' => self.backtick(pieces, false)?,
                c => {
                    self.pos += c.len_utf8();
                    push_lit(pieces, c, true);
                }
            }
        }
        Ok(())
    }
}

/// Whether the next word would be in command position (so `case`/`esac` are keywords).
fn at_command_start(tokens: &[Token]) -> bool {
    match tokens.last() {
        None => true,
        Some(Token::Op(op)) => !matches!(op.kind, OpKind::Redir(_)),
        Some(Token::Word(w)) => ["then", "do", "else", "elif", "!", "in"]
            .iter()
            .any(|r| w.is_bare(r)),
    }
}
