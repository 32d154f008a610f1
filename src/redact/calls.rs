//! Credentials passed by position to well-known client APIs, where no name
//! sits beside the value and the API's signature says which argument is the
//! password: `smtplib`'s `s.login("user", "pw")`, `pika.PlainCredentials`,
//! `new NetworkCredential(user, pw)`, `DriverManager.getConnection(url, user,
//! pw)`, Go's `smtp.PlainAuth("", user, pw, host)`, lettre's
//! `Credentials::new(user.to_owned(), pw.to_owned())`, `new PDO(dsn, user,
//! pw)`, mongosh's `db.changeUserPassword(user, pw)`; Redis ACL rules,
//! where `>pw` adds a password (`ACL SETUSER app on >pw ~keys:*`); and
//! strongSwan's `user : EAP "pw"` lines; Vault's `Unseal Key 1: …`.

use super::kinds::Kind;
use super::names::classify;
use super::scan::Scan;
use super::text::{contains_ci, line_end, line_start};
use super::value::is_secret_value;

/// Calls whose argument at the given position (from 0) is a password. Each
/// anchor ends with the call's `(`.
pub(crate) const CALLS: &[(&str, u8)] = &[
    (".login(", 1),
    ("plaincredentials(", 1),
    ("usernamepasswordcredentials(", 1),
    ("networkcredential(", 1),
    ("passwordauthentication(", 1),
    ("getconnection(", 2),
    ("plainauth(", 2),
    ("credentials::new(", 1),
    ("changeuserpassword(", 1),
    ("new pdo(", 2),
    ("mysqli(", 2),
    ("mysqli_connect(", 2),
    ("simple_bind_s(", 1),
    ("setbasicauth(", 1),
    // API clients built from an application id and a key, or a key alone.
    ("algoliasearch(", 1),
    ("algoliasearch.client(", 1),
    // A JWT signed or verified with a literal key: `jwt.sign(payload,
    // 'secret', …)`, PyJWT's `jwt.encode(payload, "secret", …)`.
    ("jwt.sign(", 1),
    ("jwt.verify(", 1),
    ("jwt.encode(", 1),
    ("jwt.decode(", 1),
    ("searchclient.create(", 1),
    ("cohere.client(", 0),
    ("cohere.clientv2(", 0),
];

/// How far an argument list is read.
const MAX_ARGS_BYTES: usize = 600;

/// Handles call anchor `CALLS[index]`, whose `(` ends at `end`.
pub(crate) fn on_call(scan: &mut Scan<'_>, index: usize, end: usize) {
    let Some(&(_, position)) = CALLS.get(index) else {
        return;
    };
    let bytes = scan.bytes;
    let Some((vs, ve)) = nth_literal(bytes, end, usize::from(position)) else {
        return;
    };
    let words = vec!["password".to_owned()];
    let Some(class) = classify(&words, 1) else {
        return;
    };
    if is_secret_value(&bytes[vs..ve], class.strictness, true) {
        scan.push(vs, ve, class.kind, class.priority);
    }
}

/// The text of argument `n` of the list starting at `from`, if it is a
/// string literal (optionally followed by a conversion such as Rust's
/// `.to_owned()` or Java's `.toCharArray()`).
fn nth_literal(bytes: &[u8], from: usize, n: usize) -> Option<(usize, usize)> {
    let hi = (from + MAX_ARGS_BYTES).min(bytes.len());
    let (mut depth, mut arg, mut i) = (0u32, 0usize, from);
    let mut start = from;
    while i < hi {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                let close = bytes[i + 1..hi].iter().position(|&b| b == q)? + i + 1;
                if depth == 0 && arg == n && is_blank(&bytes[start..i]) {
                    let rest = &bytes[close + 1..arg_end(bytes, close + 1, hi)?];
                    return (conversion(rest) && close > i + 1).then_some((i + 1, close));
                }
                i = close;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => return None,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                arg += 1;
                start = i + 1;
                if arg > n {
                    return None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where the argument going on at `from` ends: its `,` or the list's `)`.
fn arg_end(bytes: &[u8], from: usize, hi: usize) -> Option<usize> {
    let mut depth = 0u32;
    for (i, &b) in bytes.iter().enumerate().take(hi).skip(from) {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b',' | b')' | b']' | b'}' if depth == 0 => return Some(i),
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn is_blank(text: &[u8]) -> bool {
    // A Python bytes or raw prefix, or C#'s verbatim `@`, may come first.
    let t = text.trim_ascii();
    t.is_empty() || matches!(t, b"b" | b"r" | b"@")
}

/// What may follow a literal argument: nothing, or a conversion to another
/// string type.
fn conversion(rest: &[u8]) -> bool {
    let t = rest.trim_ascii();
    t.is_empty()
        || [
            &b".to_owned()"[..],
            b".to_string()",
            b".into()",
            b".toCharArray()",
            b".encode()",
        ]
        .contains(&t)
}

/// `ACL SETUSER name on >password ~keys:*` (and a `users.acl` line, `user
/// name on >password …`): each `>` rule word is a password.
pub(crate) fn on_acl_rule(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    let (ls, le) = (line_start(bytes, start), line_end(bytes, start));
    let line = &bytes[ls..le];
    let head = line.trim_ascii_start();
    if !contains_ci(line, b"setuser ") && !head.starts_with(b"user ") {
        return;
    }
    let mut i = start;
    while i < le {
        let ws = i;
        while i < le && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[ws] == b'>'
            && i > ws + 1
            && is_secret_value(&bytes[ws + 1..i], super::value::Strictness::Password, true)
        {
            scan.push(
                ws + 1,
                i,
                Kind::PasswordAssignment,
                super::scan::priority::NAMED,
            );
        }
        while i < le && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
    }
}

/// The quoted string opened at `end - 1` (`jdoe : EAP "…"` in
/// `ipsec.secrets`): a password.
pub(crate) fn on_quoted(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let le = line_end(bytes, end);
    let Some(close) = bytes[end..le].iter().position(|&b| b == b'"') else {
        return;
    };
    let v = &bytes[end..end + close];
    if is_secret_value(v, super::value::Strictness::Password, true) {
        scan.push(
            end,
            end + close,
            Kind::PasswordAssignment,
            super::scan::priority::NAMED,
        );
    }
}

/// `Unseal Key 1: <base64>` printed by `vault operator init`: a key share.
pub(crate) fn on_unseal_key(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let le = line_end(bytes, end);
    let digits = bytes[end..le]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let colon = end + digits;
    if digits == 0 || !bytes[colon..le].starts_with(b": ") {
        return;
    }
    let vs = colon + 2;
    let ve = bytes[vs..le]
        .iter()
        .position(u8::is_ascii_whitespace)
        .map_or(le, |p| vs + p);
    if is_secret_value(&bytes[vs..ve], super::value::Strictness::Random, true) {
        scan.push(vs, ve, Kind::VaultToken, super::scan::priority::NAMED);
    }
}
