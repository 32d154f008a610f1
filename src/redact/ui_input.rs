//! Secrets typed into a form by a UI test or an `expect` script, where the
//! field the text goes into says what it is: Cypress `cy.get('#password')
//! .type('X')`, Selenium `find_element(By.ID, "password").send_keys("X")`,
//! Playwright `page.fill('#password', 'X')` and `getByLabel('Password')
//! .fill('X')`, WebdriverIO `.setValue('X')`, Capybara `fill_in 'Password',
//! with: 'X'`, Robot Framework `Input Password    id=pw    X`, and Tcl
//! expect's (or pexpect's) `send "X\r"` answering `expect "password:"`.
//!
//! Only a string literal counts (a variable or `Cypress.env('PW')` is a
//! reference), and only where the field's locator, the keyword or the
//! prompt names a password, a token or a secret; typing into any other
//! field is test data.

use super::kinds::Kind;
use super::literal::read_value;
use super::operator::skip_blank;
use super::scan::{Scan, priority};
use super::text::{find_ci, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// How an anchor's call carries the typed text.
#[derive(Clone, Copy)]
pub(crate) enum Form {
    /// `locator.type('X')` or `page.fill(locator, 'X')`.
    Method,
    /// `fill_in 'Locator', with: 'X'`.
    FillIn,
    /// `Input Password    locator    X` (cells split by 2+ spaces or tabs).
    Robot,
    /// `send "X\r"` / `sendline('X')` after an `expect` of a prompt.
    Expect,
}

/// Anchors (matched without regard to ASCII case) and their forms.
pub(crate) const ANCHORS: &[(&str, Form)] = &[
    (".type(", Form::Method),
    (".send_keys(", Form::Method),
    (".sendkeys(", Form::Method),
    (".fill(", Form::Method),
    (".setvalue(", Form::Method),
    (".addvalue(", Form::Method),
    (".presssequentially(", Form::Method),
    // TestCafe, Detox, XCUITest, Espresso (`perform(typeText("X"))`).
    ("typetext(", Form::Method),
    ("replacetext(", Form::Method),
    ("fill_in ", Form::FillIn),
    ("fill_in(", Form::FillIn),
    ("input password", Form::Robot),
    ("input text", Form::Robot),
    ("send \"", Form::Expect),
    ("send -- \"", Form::Expect),
    ("sendline(", Form::Expect),
];

/// Longest stretch before an anchor read for its locator or prompt.
const LOOK_BACK: usize = 240;

/// Handles anchor `i` found at `start..end`.
pub(crate) fn on_anchor(scan: &mut Scan<'_>, i: usize, start: usize, end: usize) {
    let Some(&(_, form)) = ANCHORS.get(i) else {
        return;
    };
    let bytes = scan.bytes;
    let found = match form {
        Form::Method => method(bytes, start, end),
        Form::FillIn => fill_in(bytes, start, end),
        Form::Robot => robot(bytes, start, end),
        Form::Expect => expect(bytes, start, end),
    };
    let Some((vs, ve, strictness)) = found else {
        return;
    };
    // Cypress's key sequences after the text: `'X{enter}'`.
    let mut ve = ve;
    if bytes[ve - 1] == b'}'
        && let Some(open) = bytes[vs..ve].iter().rposition(|&b| b == b'{')
    {
        ve = vs + open;
    }
    // Expect's carriage return: `send "X\r"`.
    while ve >= vs + 2 && bytes[ve - 2] == b'\\' && matches!(bytes[ve - 1], b'r' | b'n') {
        ve -= 2;
    }
    if ve > vs && is_secret_value(&bytes[vs..ve], strictness, true) {
        let kind = match strictness {
            Strictness::Password => Kind::PasswordAssignment,
            _ => Kind::SecretAssignment,
        };
        scan.push(vs, ve, kind, priority::ASSIGN);
    }
}

/// What a locator, a keyword or a prompt names: a password, or a token or
/// secret (which must then look generated).
fn names_secret(t: &[u8]) -> Option<Strictness> {
    // (`assword` for expect's globs: `expect "*assword*"`.)
    if ["assword", "passwd", "pwd", "passphrase", "passcode"]
        .iter()
        .any(|w| find_ci(t, w.as_bytes()).is_some())
    {
        return Some(Strictness::Password);
    }
    ["token", "secret", "api-key", "api_key", "apikey"]
        .iter()
        .any(|w| find_ci(t, w.as_bytes()).is_some())
        .then_some(Strictness::Random)
}

/// A string literal at `i`: its span inside the quotes.
fn literal(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    match read_value(bytes, skip_blank(bytes, i), false)? {
        (vs, ve, true) => Some((vs, ve)),
        _ => None,
    }
}

/// The statement before `at` on its line (after the last `;`), with the
/// lines before it when the line continues a chain (`  .type('X')`).
fn statement_before(bytes: &[u8], at: usize) -> &[u8] {
    let lo = at.saturating_sub(LOOK_BACK);
    let mut ls = line_start(bytes, at).max(lo);
    while ls > lo && bytes[ls..=at].trim_ascii_start().starts_with(b".") {
        ls = line_start(bytes, ls - 1).max(lo);
    }
    let head = &bytes[ls..at];
    head.iter()
        .rposition(|&b| b == b';')
        .map_or(head, |p| &head[p + 1..])
}

/// `locator.type('X')`, `page.fill('#password', 'X')`.
fn method(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize, Strictness)> {
    let Some((fs, fe)) = literal(bytes, end) else {
        return element_arg(bytes, end);
    };
    let after = skip_blank(bytes, fe + 1);
    match bytes.get(after) {
        Some(b',') => {
            let (vs, ve) = literal(bytes, after + 1)?;
            let close = skip_blank(bytes, ve + 1);
            matches!(bytes.get(close), Some(b')' | b',')).then_some(())?;
            Some((vs, ve, names_secret(&bytes[fs..fe])?))
        }
        Some(b')') => Some((fs, fe, names_secret(statement_before(bytes, start))?)),
        _ => None,
    }
}

/// Testing Library's `user.type(passwordInput, 'X')`,
/// `userEvent.type(screen.getByLabelText(/password/i), 'X')`: the element
/// as an expression, then the literal typed.
fn element_arg(bytes: &[u8], open: usize) -> Option<(usize, usize, Strictness)> {
    let le = line_end(bytes, open);
    let mut depth = 0usize;
    let comma = (open..le).find(|&k| {
        match bytes[k] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b')' => return true,
            b',' if depth == 0 => return true,
            _ => {}
        }
        false
    })?;
    if bytes[comma] != b',' {
        return None;
    }
    let strictness = names_secret(&bytes[open..comma])?;
    let (vs, ve) = literal(bytes, comma + 1)?;
    let close = skip_blank(bytes, ve + 1);
    matches!(bytes.get(close), Some(b')' | b',')).then_some((vs, ve, strictness))
}

/// `fill_in 'Password', with: 'X'`.
fn fill_in(bytes: &[u8], _start: usize, end: usize) -> Option<(usize, usize, Strictness)> {
    let (ls, le) = literal(bytes, end)?;
    let strictness = names_secret(&bytes[ls..le])?;
    let rest = &bytes[le + 1..line_end(bytes, le + 1).min(le + 24)];
    let w = find_ci(rest, b"with:")?;
    let (vs, ve) = literal(bytes, le + 1 + w + 5)?;
    Some((vs, ve, strictness))
}

/// `Input Password    id=password    X` as the first cell of its line.
fn robot(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize, Strictness)> {
    let ls = line_start(bytes, start);
    if !bytes[ls..start].iter().all(|&b| matches!(b, b' ' | b'\t')) {
        return None;
    }
    let le = line_end(bytes, end);
    let line = &bytes[end..le];
    let cells: Vec<(usize, usize)> = cells(line)
        .into_iter()
        .map(|(s, e)| (end + s, end + e))
        .collect();
    let (&(locs, loce), &(vs, ve)) = (cells.first()?, cells.get(1)?);
    let keyword = &bytes[start..end];
    let strictness = if find_ci(keyword, b"password").is_some() {
        Strictness::Password
    } else {
        names_secret(&bytes[locs..loce])?
    };
    Some((vs, ve, strictness))
}

/// Robot Framework's cells: split by a tab or two or more spaces; the
/// first separator must be one (a keyword is followed by its cells).
fn cells(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let sep_start = i;
        while i < line.len() && matches!(line[i], b' ' | b'\t') {
            i += 1;
        }
        let sep = &line[sep_start..i];
        if i >= line.len() || !(sep.len() >= 2 || sep.contains(&b'\t')) {
            return out;
        }
        let cs = i;
        while i < line.len() && !(line[i] == b'\t' || line[i..].starts_with(b"  ")) {
            i += 1;
        }
        let ce = if line[cs..i].ends_with(b"\r") {
            i - 1
        } else {
            i
        };
        out.push((cs, ce));
    }
    out
}

/// `send "X\r"` (or pexpect's `sendline('X')`) starting its statement,
/// answering an `expect` of a password prompt on the same line or the
/// two before it.
fn expect(bytes: &[u8], start: usize, end: usize) -> Option<(usize, usize, Strictness)> {
    let ls = line_start(bytes, start);
    let head = &bytes[ls..start];
    // `send` as a command (`send "…"`, `{ send "…" }`, `child.sendline(`).
    let own = match head.last() {
        None => true,
        Some(b'.') => true,
        Some(_) => head
            .trim_ascii_end()
            .last()
            .is_none_or(|&b| matches!(b, b'{' | b';')),
    };
    if !own {
        return None;
    }
    let at = if bytes[end - 1] == b'"' { end - 1 } else { end };
    let (vs, ve) = literal(bytes, at)?;
    let mut lo = ls;
    for _ in 0..2 {
        if lo > 0 && ls - lo < LOOK_BACK {
            lo = line_start(bytes, lo - 1);
        }
    }
    let region = &bytes[lo.max(start.saturating_sub(LOOK_BACK))..start];
    // The nearest `expect` before this `send`, with no other `send` between
    // (the answer to a password prompt, not the commands typed after it).
    let mut prompt = None;
    let mut from = 0;
    while let Some(p) = find_ci(&region[from..], b"expect") {
        // A word of its own (`child.expect(`), not `pexpect.EOF`.
        let at = from + p;
        if at == 0 || !region[at - 1].is_ascii_alphanumeric() {
            prompt = Some(at);
        }
        from = at + 6;
    }
    let asked = &region[prompt?..];
    if find_ci(asked, b"send").is_some() {
        return None;
    }
    Some((vs, ve, names_secret(asked)?))
}
