//! cloud-init's `chpasswd:` module: `list: |` (or a YAML sequence, or one
//! string with `\n` escapes) of `user:password` entries. The newer
//! `users:` form (`{name: x, password: y}`) is an ordinary `password:`
//! assignment and needs nothing here.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{line_end, line_start};
use super::value::{Strictness, is_secret_value};

/// Lines of the `chpasswd:` block read at most, and their bytes.
const MAX_LINES: usize = 64;
const MAX_REGION: usize = 8 * 1024;

/// At `chpasswd:`: the block under it (deeper indented lines, or the rest
/// of its line in flow style) and every `user:password` entry in it.
pub(crate) fn on_key(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start);
    let indent = indent_of(&bytes[ls..start]);
    let mut region_end = line_end(bytes, end);
    let mut lines = 0;
    let quotes = |s: &[u8]| s.iter().filter(|&&b| b == b'"').count();
    let mut open = quotes(&bytes[end..region_end]) % 2 == 1;
    while region_end < bytes.len() && lines < MAX_LINES && region_end - end < MAX_REGION {
        let next = region_end + 1;
        let ne = line_end(bytes, next);
        let line = &bytes[next..ne];
        let ind = indent_of(line);
        // A quoted list whose `\n` escapes the view decoded into line
        // breaks goes on to its closing quote, whatever the indentation.
        if !open && ind < line.len() && ind <= indent {
            break;
        }
        open ^= quotes(line) % 2 == 1;
        region_end = ne;
        lines += 1;
    }
    let mut p = end;
    while p < region_end {
        let rest = &bytes[p..region_end];
        let stop = rest
            .windows(2)
            .position(|w| w == b"\\n")
            .into_iter()
            .chain(rest.iter().position(|&b| b == b'\n'))
            .min()
            .unwrap_or(rest.len());
        entry(scan, p, p + stop);
        p += stop + if rest.get(stop) == Some(&b'\\') { 2 } else { 1 };
    }
}

/// Leading spaces and tabs.
fn indent_of(line: &[u8]) -> usize {
    line.iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// One piece of the block: after YAML punctuation and a `list:` key, a
/// `user:password` entry with no space after the colon (a YAML key has one).
fn entry(scan: &mut Scan<'_>, s: usize, e: usize) {
    let bytes = scan.bytes;
    let mut i = s;
    loop {
        while i < e
            && matches!(
                bytes[i],
                b' ' | b'\t' | b'-' | b'"' | b'\'' | b'{' | b'[' | b'|'
            )
        {
            i += 1;
        }
        if bytes[i..e].starts_with(b"list:") {
            i += 5;
            continue;
        }
        break;
    }
    let name_len = bytes[i..e]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    let colon = i + name_len;
    if name_len == 0 || name_len > 32 || bytes.get(colon) != Some(&b':') || colon + 1 >= e {
        return;
    }
    let vs = colon + 1;
    let mut ve = vs
        + bytes[vs..e]
            .iter()
            .take_while(|&&b| !matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'\\'))
            .count();
    while ve > vs && matches!(bytes[ve - 1], b',' | b'}' | b']') {
        ve -= 1;
    }
    if is_secret_value(&bytes[vs..ve], Strictness::Password, true) {
        scan.push(vs, ve, Kind::PasswordAssignment, priority::ASSIGN);
    }
}
