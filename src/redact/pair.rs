//! A login given as `user / password` in prose and chat: `login is admin /
//! Xk9…`, `creds for the vendor portal → deploy / Xk9…`, `user/pass:
//! admin / Xk9…`. The name announces a pair, an operator (`:`, `=`, `is`,
//! `are`, an arrow) follows within a few words on the same line, and the
//! password is the word after the slash.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::line_end;
use super::value::{Strictness, is_secret_value};

/// Words (after the anchor) that may stand between the name and its
/// operator: `creds for the vendor portal →`.
const MAX_GAP: usize = 40;
/// Longest user name and password read.
const MAX_USER: usize = 64;
const MAX_PASS: usize = 128;

/// Operators that introduce the pair, longest first.
const OPERATORS: &[&[u8]] = &[
    "→".as_bytes(),
    "⇒".as_bytes(),
    b"->",
    b"=>",
    b" are ",
    b" is ",
    b":",
    b"=",
];

/// At a pair word (`login`, `creds`, `credentials`, `user/pass`) ending at `end`.
pub(crate) fn on_word(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if (start > 0 && bytes[start - 1].is_ascii_alphanumeric())
        || bytes.get(end).is_some_and(u8::is_ascii_alphanumeric)
    {
        return;
    }
    let le = line_end(bytes, end).min(end + MAX_GAP + MAX_USER + MAX_PASS);
    let gap_end = (end + MAX_GAP).min(le);
    let Some((at, op)) = (end..gap_end).find_map(|i| {
        OPERATORS
            .iter()
            .find(|o| bytes[i..le].starts_with(o))
            .map(|o| (i, o.len()))
    }) else {
        return;
    };
    // The gap holds words only (`for the vendor portal`), not a value.
    if !bytes[end..at]
        .iter()
        .all(|&b| b.is_ascii_alphabetic() || b == b' ')
    {
        return;
    }
    let mut i = at + op;
    while i < le && bytes[i] == b' ' {
        i += 1;
    }
    let us = i;
    while i < le && i - us < MAX_USER && is_user_byte(bytes[i]) {
        i += 1;
    }
    if i == us {
        return;
    }
    let spaced = bytes[i..le].starts_with(b" / ");
    let slash = if spaced {
        i + 3
    } else if bytes.get(i) == Some(&b'/') {
        i + 1
    } else {
        return;
    };
    let ps = slash;
    let mut pe = ps;
    while pe < le && pe - ps < MAX_PASS && !bytes[pe].is_ascii_whitespace() {
        pe += 1;
    }
    while pe > ps
        && matches!(
            bytes[pe - 1],
            b'.' | b',' | b';' | b')' | b'`' | b'"' | b'\''
        )
    {
        pe -= 1;
    }
    let pass = &bytes[ps..pe];
    // Without spaces, `admin/Xk9…` could be a path: only a generated-looking
    // password counts.
    let strictness = if spaced {
        Strictness::Password
    } else {
        Strictness::Random
    };
    // A plain word after the slash is a menu or a choice (`Account /
    // Security`, `required / optional`), not a password.
    let word = pass.iter().all(u8::is_ascii_alphabetic);
    if !word && is_secret_value(pass, strictness, true) {
        scan.push(ps, pe, Kind::PasswordAssignment, priority::ASSIGN);
    }
}

fn is_user_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+')
}

#[cfg(test)]
mod tests {
    #[test]
    fn operators_are_ascii_or_arrows() {
        assert!(super::OPERATORS.iter().all(|o| !o.is_empty()));
    }
}
