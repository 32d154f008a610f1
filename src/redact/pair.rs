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
    let pe = value_end(bytes, ps, le);
    // `admin / password: hunter`: the slash's half is labelled, and the
    // label's value is the password, whatever its shape.
    if spaced && let Some((vs, ve)) = labelled(bytes, ps, pe, le) {
        let v = &bytes[vs..ve];
        // Labelled so, even a word people should not pick (`hunter`) is one.
        let picked = v.len() >= 5
            && v.iter().all(u8::is_ascii_alphanumeric)
            && !super::placeholder::is_placeholder(v)
            && !["null", "none", "empty", "undefined", "unset", "blank"]
                .iter()
                .any(|w| v.eq_ignore_ascii_case(w.as_bytes()));
        if !is_choice(v) && (picked || is_secret_value(v, Strictness::Password, true)) {
            scan.push(vs, ve, Kind::PasswordAssignment, priority::ASSIGN);
        }
        return;
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
    // Spaced and announced (`creds are bob / correcthorsebattery`), a word is
    // a password unless it is one of a menu's or a choice's words, or the
    // pair reads as a menu path (`Account / Billing`) or goes on as prose.
    let menu = bytes[us].is_ascii_uppercase() && pass.first().is_some_and(u8::is_ascii_uppercase);
    let prose_goes_on = bytes[pe..le]
        .trim_ascii_start()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric);
    let word_ok = spaced && !is_choice(pass) && !menu && !prose_goes_on;
    if (!word || word_ok) && is_secret_value(pass, strictness, true) {
        scan.push(ps, pe, Kind::PasswordAssignment, priority::ASSIGN);
    }
}

/// Labels of the password half of a pair (`password: hunter`).
const LABELS: &[&str] = &["password", "passwd", "pass", "pwd", "pw"];

/// The value after a password label read at `ps..pe` (`password:`, or
/// `password` then `:`/`=`/`is` and the value).
fn labelled(bytes: &[u8], ps: usize, pe: usize, le: usize) -> Option<(usize, usize)> {
    let word_end = (ps..pe)
        .find(|&i| !bytes[i].is_ascii_alphabetic())
        .unwrap_or(pe);
    let label = &bytes[ps..word_end];
    if !LABELS
        .iter()
        .any(|l| label.eq_ignore_ascii_case(l.as_bytes()))
    {
        return None;
    }
    let mut i = word_end;
    while i < le && bytes[i] == b' ' {
        i += 1;
    }
    if matches!(bytes.get(i), Some(b':' | b'=')) {
        i += 1;
    } else if bytes[i..le].starts_with(b"is ") {
        i += 2;
    } else {
        return None;
    }
    while i < le && bytes[i] == b' ' {
        i += 1;
    }
    let vs = i;
    i = value_end(bytes, vs, le);
    let vs = if matches!(bytes.get(vs), Some(b'"' | b'\'' | b'`')) {
        vs + 1
    } else {
        vs
    };
    (i > vs).then_some((vs, i))
}

/// Words a slash separates in menus, permissions and choices
/// (`read / write`, `Account / Security`, `required / optional`).
fn is_choice(w: &[u8]) -> bool {
    const CHOICES: &[&str] = &[
        "read",
        "write",
        "execute",
        "exec",
        "admin",
        "admins",
        "user",
        "users",
        "guest",
        "owner",
        "member",
        "members",
        "viewer",
        "editor",
        "none",
        "optional",
        "required",
        "yes",
        "no",
        "true",
        "false",
        "enabled",
        "disabled",
        "enable",
        "disable",
        "public",
        "private",
        "internal",
        "external",
        "security",
        "settings",
        "profile",
        "account",
        "accounts",
        "billing",
        "password",
        "passwords",
        "username",
        "email",
        "login",
        "logout",
        "signin",
        "signup",
        "register",
        "oauth",
        "ldap",
        "token",
        "tokens",
        "key",
        "keys",
        "allow",
        "deny",
        "accept",
        "reject",
        "approve",
        "input",
        "output",
        "import",
        "export",
        "upload",
        "download",
        "start",
        "stop",
        "open",
        "close",
        "local",
        "remote",
        "primary",
        "secondary",
        "staging",
        "production",
        "prod",
        "test",
        "tests",
        "debug",
        "release",
        "client",
        "server",
        "group",
        "groups",
        "role",
        "roles",
        "team",
        "teams",
        "org",
        "other",
        "others",
        "same",
        "different",
        "unknown",
        "empty",
        "blank",
        "default",
        "defaults",
        "mine",
        "theirs",
        "ours",
        "both",
        "either",
        "neither",
        "whatever",
        "something",
        "nothing",
        "anything",
        "everything",
        "secret",
        "secrets",
        "credentials",
        "creds",
    ];
    CHOICES.iter().any(|c| w.eq_ignore_ascii_case(c.as_bytes()))
}

fn is_user_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+')
}

/// Where the value from `start` ends: at a blank, the line end `le` or
/// `MAX_PASS` bytes, less the punctuation that closes a sentence or quote.
fn value_end(bytes: &[u8], start: usize, le: usize) -> usize {
    let mut end = start;
    while end < le && end - start < MAX_PASS && !bytes[end].is_ascii_whitespace() {
        end += 1;
    }
    while end > start
        && (matches!(
            bytes[end - 1],
            b'.' | b',' | b';' | b')' | b'`' | b'"' | b'\''
        ) || (bytes[end - 1] == b'\\' && matches!(bytes.get(end), Some(b'"' | b'\''))))
    {
        // (A backslash before a quote escapes it: the close of a string in
        // JSON-escaped text, `password: {word}\"`.)
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    #[test]
    fn operators_are_ascii_or_arrows() {
        assert!(super::OPERATORS.iter().all(|o| !o.is_empty()));
    }
}
