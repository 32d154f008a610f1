//! PostgreSQL password files (`~/.pgpass`, `PGPASSFILE`): lines of
//! `hostname:port:database:username:password`, where any of the first four
//! may be `*` and `\:` escapes a colon. Only the password is replaced.
//!
//! A line is read when the word `pgpass` is near (the file named, `cat`-ed
//! or appended to) or when its port field is PostgreSQL's (`5432`, `6432`,
//! …) or a wildcard, so compiler output (`main.c:120:5: warning`) and logs
//! with colons are never taken for one.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// How many lines after the word `pgpass` are read.
const LINES_AFTER: usize = 12;
/// Longest host name we look back over from a port field.
const MAX_FIELD: usize = 256;

fn field_ok(f: &[u8], port: bool) -> bool {
    !f.is_empty()
        && (f == b"*"
            || if port {
                f.len() <= 5 && f.iter().all(u8::is_ascii_digit)
            } else {
                f.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"._-@[]".contains(&b))
            })
}

/// Checks one line (from `ls` to `le`) for a pgpass entry.
fn line(scan: &mut Scan<'_>, ls: usize, le: usize) {
    let bytes = scan.bytes;
    // The entry is one word of the line (it may be echoed: `echo "…" >> ~/.pgpass`).
    let mut i = ls;
    while i < le {
        while i < le && matches!(bytes[i], b' ' | b'\t' | b'"' | b'\'') {
            i += 1;
        }
        let ws = i;
        while i < le && !matches!(bytes[i], b' ' | b'\t' | b'"' | b'\'') {
            i += 1;
        }
        entry(scan, ws, i);
    }
}

fn entry(scan: &mut Scan<'_>, ws: usize, we: usize) {
    let bytes = scan.bytes;
    let mut colons = Vec::with_capacity(4);
    let mut k = ws;
    while k < we && colons.len() < 4 {
        match bytes[k] {
            b'\\' => k += 1,
            b':' => colons.push(k),
            _ => {}
        }
        k += 1;
    }
    let [c1, c2, c3, c4] = colons[..] else { return };
    let fields = [
        &bytes[ws..c1],
        &bytes[c1 + 1..c2],
        &bytes[c2 + 1..c3],
        &bytes[c3 + 1..c4],
    ];
    if !fields.iter().enumerate().all(|(n, f)| field_ok(f, n == 1)) {
        return;
    }
    let pw = &bytes[c4 + 1..we];
    // A password's own colons are escaped (`\:`); more fields mean another
    // format (`/etc/passwd` has seven).
    let more_fields = pw
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b':' && (i == 0 || pw[i - 1] != b'\\'));
    if pw != b"*" && !more_fields && is_secret_value(pw, Strictness::Password, true) {
        scan.push(c4 + 1, we, Kind::PasswordAssignment, priority::URL);
    }
}

/// Handles a port-like anchor (`:5432:`, `:*:`) at `start`: the word
/// around it (bounded, so a line of colons costs nothing per hit).
pub(crate) fn on_port(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    let stop = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'');
    let lo = start.saturating_sub(MAX_FIELD);
    let ws = bytes[lo..start]
        .iter()
        .rposition(|&b| stop(b))
        .map_or(lo, |p| lo + p + 1);
    let hi = (start + 4 * MAX_FIELD).min(bytes.len());
    let we = bytes[start..hi]
        .iter()
        .position(|&b| stop(b))
        .map_or(hi, |p| start + p);
    entry(scan, ws, we);
}

/// Handles the word `pgpass` at `start`: its line and the lines after it.
pub(crate) fn on_name(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    let mut ls = line_start(bytes, start);
    for _ in 0..=LINES_AFTER {
        if ls >= bytes.len() {
            return;
        }
        let le = line_end(bytes, ls);
        line(scan, ls, le);
        ls = le + 1;
    }
}
