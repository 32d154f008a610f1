//! The word level of the tokenizer: quotes, escapes, `~`, `$…` expansions, command,
//! process and arithmetic substitutions, backticks. Pure.

use super::scan::{Lexer, is_meta, is_name_char, is_name_start, lex_at};
use super::{DynKind, Dynamic, LexError, Piece, Script, Word};

impl Lexer<'_> {
    /// Reads one word at the cursor.
    pub(super) fn word(&mut self) -> Result<Word, LexError> {
        let start = self.pos;
        let mut pieces = Vec::new();
        if self.peek() == Some('~') {
            self.tilde(&mut pieces);
        }
        while let Some(c) = self.peek() {
            match c {
                '<' | '>' if self.peek_at(1) == Some('(') => {
                    self.pos += 2;
                    self.deeper()?;
                    let inner = self.list(true)?;
                    self.depth -= 1;
                    pieces.push(Piece::Dynamic(Dynamic {
                        kind: DynKind::Process,
                        scripts: vec![inner],
                    }));
                }
                c if is_meta(c) => break,
                '\\' => {
                    self.pos += 1;
                    match self.bump() {
                        None => return self.err("a trailing `\\` escapes nothing"),
                        Some('\n') => {}
                        Some(c) => push_lit(&mut pieces, c, true),
                    }
                }
                '\'' => {
                    self.pos += 1;
                    let Some(len) = self.rest().find('\'') else {
                        return self.err("unterminated single quote");
                    };
                    let text = self.rest()[..len].to_string();
                    self.pos += len + 1;
                    push_str(&mut pieces, &text, true);
                }
                '"' => self.double_quoted(&mut pieces)?,
                '$' => self.dollar(&mut pieces, false)?,
                '`' => self.backtick(&mut pieces, false)?,
                c => {
                    self.pos += c.len_utf8();
                    push_lit(&mut pieces, c, false);
                }
            }
        }
        Ok(Word {
            pieces,
            span: self.base + start..self.base + self.pos,
        })
    }

    /// A `~` or `~user` at the start of a word; anything fancier stays literal.
    pub(super) fn tilde(&mut self, pieces: &mut Vec<Piece>) {
        let rest = self.rest();
        let user_len = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')))
            .unwrap_or(rest.len() - 1);
        let after = rest[1 + user_len..].chars().next();
        if after.is_none_or(|c| c == '/' || is_meta(c)) {
            let user = rest[1..1 + user_len].to_string();
            self.pos += 1 + user_len;
            pieces.push(Piece::Tilde(user));
        } else {
            self.pos += 1;
            push_lit(pieces, '~', false);
        }
    }

    pub(super) fn double_quoted(&mut self, pieces: &mut Vec<Piece>) -> Result<(), LexError> {
        self.pos += 1;
        push_str(pieces, "", true);
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated double quote");
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(());
                }
                '\\' => {
                    self.pos += 1;
                    match self.bump() {
                        None => return self.err("unterminated double quote"),
                        Some('\n') => {}
                        Some(c @ ('$' | '`' | '"' | '\\')) => push_lit(pieces, c, true),
                        Some(c) => {
                            push_lit(pieces, '\\', true);
                            push_lit(pieces, c, true);
                        }
                    }
                }
                '$' => self.dollar(pieces, true)?,
                '`' => self.backtick(pieces, true)?,
                c => {
                    self.pos += c.len_utf8();
                    push_lit(pieces, c, true);
                }
            }
        }
    }

    /// Reads what follows a `$`.
    pub(super) fn dollar(&mut self, pieces: &mut Vec<Piece>, quoted: bool) -> Result<(), LexError> {
        self.pos += 1;
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.pos += 2;
                self.deeper()?;
                let scripts = self.arithmetic()?;
                self.depth -= 1;
                pieces.push(Piece::Dynamic(Dynamic {
                    kind: DynKind::Arithmetic,
                    scripts,
                }));
            }
            Some('(') => {
                self.pos += 1;
                self.deeper()?;
                let inner = self.list(true)?;
                self.depth -= 1;
                pieces.push(Piece::Dynamic(Dynamic {
                    kind: DynKind::Command,
                    scripts: vec![inner],
                }));
            }
            Some('{') => {
                self.pos += 1;
                self.braced(pieces)?;
            }
            Some('\'') if !quoted => {
                self.pos += 1;
                loop {
                    match self.bump() {
                        None => return self.err("unterminated `$'…'` string"),
                        Some('\\') => {
                            if self.bump().is_none() {
                                return self.err("unterminated `$'…'` string");
                            }
                        }
                        Some('\'') => break,
                        Some(_) => {}
                    }
                }
                pieces.push(Piece::Dynamic(Dynamic {
                    kind: DynKind::Quoting,
                    scripts: Vec::new(),
                }));
            }
            Some('"') if !quoted => {
                let mut inner = Vec::new();
                self.double_quoted(&mut inner)?;
                pieces.push(Piece::Dynamic(Dynamic {
                    kind: DynKind::Quoting,
                    scripts: collect_scripts(inner),
                }));
            }
            Some(c) if is_name_start(c) => {
                let len = self
                    .rest()
                    .find(|c| !is_name_char(c))
                    .unwrap_or(self.rest().len());
                let name = self.rest()[..len].to_string();
                self.pos += len;
                pieces.push(Piece::Param { name });
            }
            Some(c)
                if c.is_ascii_digit() || matches!(c, '@' | '*' | '#' | '?' | '$' | '!' | '-') =>
            {
                self.pos += 1;
                pieces.push(Piece::Param {
                    name: c.to_string(),
                });
            }
            _ => push_lit(pieces, '$', quoted),
        }
        Ok(())
    }

    /// `${…}` after the `{`: a plain name becomes a [`Piece::Param`], anything else a
    /// [`DynKind::Parameter`] whose nested substitutions are kept.
    pub(super) fn braced(&mut self, pieces: &mut Vec<Piece>) -> Result<(), LexError> {
        let rest = self.rest();
        let name_len = match rest.chars().next() {
            Some(c) if is_name_start(c) => rest.find(|c| !is_name_char(c)).unwrap_or(rest.len()),
            Some(c) if c.is_ascii_digit() => rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
            Some('@' | '*' | '#' | '?' | '$' | '!' | '-') => 1,
            _ => 0,
        };
        if name_len > 0 && rest[name_len..].starts_with('}') {
            let name = rest[..name_len].to_string();
            self.pos += name_len + 1;
            pieces.push(Piece::Param { name });
            return Ok(());
        }
        self.deeper()?;
        let mut inner = Vec::new();
        let mut braces = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated `${`");
            };
            match c {
                '}' if braces == 0 => {
                    self.pos += 1;
                    break;
                }
                '}' => {
                    braces -= 1;
                    self.pos += 1;
                }
                '{' => {
                    braces += 1;
                    self.pos += 1;
                }
                '\\' => {
                    self.pos += 1;
                    if self.bump().is_none() {
                        return self.err("unterminated `${`");
                    }
                }
                '\'' => {
                    self.pos += 1;
                    let Some(len) = self.rest().find('\'') else {
                        return self.err("unterminated single quote");
                    };
                    self.pos += len + 1;
                }
                '"' => self.double_quoted(&mut inner)?,
                '$' => self.dollar(&mut inner, true)?,
                '`' => self.backtick(&mut inner, false)?,
                c => self.pos += c.len_utf8(),
            }
        }
        self.depth -= 1;
        pieces.push(Piece::Dynamic(Dynamic {
            kind: DynKind::Parameter,
            scripts: collect_scripts(inner),
        }));
        Ok(())
    }

    /// The inside of `$((…))`, after the `((`. Only arithmetic characters are accepted,
    /// so bash's "`$((` that is really a command substitution" cannot hide commands.
    pub(super) fn arithmetic(&mut self) -> Result<Vec<Script>, LexError> {
        let mut inner = Vec::new();
        let mut parens = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated `$((`");
            };
            match c {
                ')' if parens == 0 => {
                    if self.peek_at(1) != Some(')') {
                        return self.err("unbalanced parentheses in `$((…))`");
                    }
                    self.pos += 2;
                    return Ok(collect_scripts(inner));
                }
                ')' => {
                    parens -= 1;
                    self.pos += 1;
                }
                '(' => {
                    parens += 1;
                    self.pos += 1;
                }
                '$' => self.dollar(&mut inner, true)?,
                '`' => self.backtick(&mut inner, false)?,
                c if c.is_ascii_alphanumeric() || " \t\n+-*/%<>=!&|^~?:,_.#[]".contains(c) => {
                    self.pos += 1;
                }
                c => return self.err(format!("unsupported character `{c}` in `$((…))`")),
            }
        }
    }

    /// A backtick substitution: its body, with `\` escapes removed, is tokenized again.
    pub(super) fn backtick(
        &mut self,
        pieces: &mut Vec<Piece>,
        in_dquote: bool,
    ) -> Result<(), LexError> {
        self.pos += 1;
        let start = self.pos;
        let mut body = String::new();
        loop {
            match self.bump() {
                None => return self.err("unterminated backquote"),
                Some('`') => break,
                Some('\\') => match self.bump() {
                    None => return self.err("unterminated backquote"),
                    Some('\n') => {}
                    Some(c @ ('$' | '`' | '\\')) => body.push(c),
                    Some('"') if in_dquote => body.push('"'),
                    Some(c) => {
                        body.push('\\');
                        body.push(c);
                    }
                },
                Some(c) => body.push(c),
            }
        }
        let inner = lex_at(&body, self.base + start, self.depth + 1)?;
        pieces.push(Piece::Dynamic(Dynamic {
            kind: DynKind::Command,
            scripts: vec![inner],
        }));
        Ok(())
    }
}

pub(super) fn push_lit(pieces: &mut Vec<Piece>, c: char, quoted: bool) {
    let mut buf = [0u8; 4];
    push_str(pieces, c.encode_utf8(&mut buf), quoted);
}

/// Appends literal text, merging with a preceding literal of the same quoting.
pub(super) fn push_str(pieces: &mut Vec<Piece>, s: &str, quoted: bool) {
    if let Some(Piece::Lit { text, quoted: q }) = pieces.last_mut()
        && *q == quoted
    {
        text.push_str(s);
        return;
    }
    pieces.push(Piece::Lit {
        text: s.to_string(),
        quoted,
    });
}

pub(super) fn collect_scripts(pieces: Vec<Piece>) -> Vec<Script> {
    pieces
        .into_iter()
        .flat_map(|p| match p {
            Piece::Dynamic(d) => d.scripts,
            _ => Vec::new(),
        })
        .collect()
}
