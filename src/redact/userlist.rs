//! pgbouncer's `userlist.txt`: one `"user" "password"` line per role, the
//! password plain, `md5` + 32 hex, or a `SCRAM-SHA-256$…` verifier (which
//! lets anyone holding it log in as that role through pgbouncer).
//!
//! A hashed entry proves the block is a user list, and so does the file's
//! name just before it; plain entries are taken only in such a block.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{find_ci, line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// Lines of a block walked at most, in each direction.
const MAX_LINES: usize = 200;
/// Lines after the file's name that may come before the first entry
/// (a code fence, a prompt).
const LEAD_LINES: usize = 2;

/// A `"user" "secret"` line: where the secret starts and ends.
fn entry(line: &[u8]) -> Option<(usize, usize)> {
    let mut i = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if line.get(i) != Some(&b'"') {
        return None;
    }
    let user_end = i + 1 + line[i + 1..].iter().position(|&b| b == b'"')?;
    if user_end == i + 1 {
        return None;
    }
    i = user_end + 1;
    let gap = line[i..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if gap == 0 || line.get(i + gap) != Some(&b'"') {
        return None;
    }
    let vs = i + gap + 1;
    let ve = vs + line[vs..].iter().position(|&b| b == b'"')?;
    let tail = &line[ve + 1..];
    (ve > vs && tail.iter().all(|&b| b == b' ' || b == b'\t' || b == b'\r')).then_some((vs, ve))
}

fn hashed(v: &[u8]) -> bool {
    (v.len() == 35 && v.starts_with(b"md5") && v[3..].iter().all(u8::is_ascii_hexdigit))
        || (v.len() > 14 && v[..14].eq_ignore_ascii_case(b"SCRAM-SHA-256$"))
}

/// At `" "md5`, `" "SCRAM-SHA-256$` (inside an entry) or `userlist` (the
/// file's name): the whole block of entries around it.
pub(crate) fn on_anchor(scan: &mut Scan<'_>, start: usize) {
    if start < scan.format_done {
        return;
    }
    let bytes = scan.bytes;
    let named =
        bytes[start..].len() >= 8 && find_ci(&bytes[start..start + 8], b"userlist") == Some(0);
    let ls = line_start(bytes, start);
    let mut first = ls;
    if named {
        // The block starts on one of the next lines.
        let mut p = line_end(bytes, start);
        let mut found = None;
        for _ in 0..=LEAD_LINES {
            if p >= bytes.len() {
                break;
            }
            let s = p + 1;
            let e = line_end(bytes, s);
            if entry(&bytes[s..e]).is_some() {
                found = Some(s);
                break;
            }
            p = e;
        }
        let Some(s) = found else { return };
        first = s;
    } else {
        // Walk up over the entries before the anchor's line.
        for _ in 0..MAX_LINES {
            if first == 0 {
                break;
            }
            let ps = line_start(bytes, first - 1);
            if entry(&bytes[ps..first - 1]).is_none() {
                break;
            }
            first = ps;
        }
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut p = first;
    let mut any_hashed = false;
    while p < bytes.len() && found.len() < MAX_LINES {
        let e = line_end(bytes, p);
        let Some((vs, ve)) = entry(&bytes[p..e]) else {
            break;
        };
        any_hashed |= hashed(&bytes[p + vs..p + ve]);
        found.push((p + vs, p + ve));
        p = e + 1;
    }
    scan.format_done = scan.format_done.max(p);
    if !(named || any_hashed) {
        return;
    }
    for (vs, ve) in found {
        let v = &bytes[vs..ve];
        if hashed(v) || is_secret_value(v, Strictness::Password, true) {
            scan.push(vs, ve, Kind::PasswordAssignment, priority::ASSIGN);
        }
    }
}
