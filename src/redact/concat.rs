//! A secret split into string literals joined again in code: `"ghr_JJ5q" +
//! "Ujnq…"`, `'…' . '…'` (PHP), `"…" .. "…"` (Lua), `"…" || "…"` (SQL) or
//! literals side by side (`"…"` `"…"` on the next line, as Python and C join
//! them). Once a detector has found the first piece, the pieces after it are
//! the rest of the same secret.

use super::scan::Candidate;

/// Most pieces followed after a found one.
const MAX_PIECES: usize = 8;
/// Longest piece read, and the most blank space between two pieces.
const MAX_PIECE: usize = 512;
const MAX_GAP: usize = 64;

/// Adds the literals that continue a candidate ending at a closing quote.
pub(crate) fn extend(text: &str, cands: &mut Vec<Candidate>) {
    let bytes = text.as_bytes();
    let found = cands.len();
    for k in 0..found {
        let c = cands[k];
        let mut end = c.end;
        for _ in 0..MAX_PIECES {
            let Some((s, e)) = next_piece(bytes, end) else {
                break;
            };
            cands.push(Candidate {
                start: s,
                end: e,
                ..c
            });
            end = e;
        }
    }
}

/// The content of the literal joined to the one closing at `end`.
fn next_piece(bytes: &[u8], end: usize) -> Option<(usize, usize)> {
    let close = *bytes.get(end)?;
    if !matches!(close, b'"' | b'\'' | b'`') {
        return None;
    }
    let hi = (end + 1 + MAX_GAP).min(bytes.len());
    let gap_end = (end + 1..hi).find(|&i| !bytes[i].is_ascii_whitespace())?;
    let mut i = gap_end;
    let mut joined = false;
    // A `+` that starts its line is a diff's marker, not an operator.
    let diff_marker = bytes[gap_end - 1] == b'\n';
    for op in [&b"+"[..], b"..", b".", b"||"] {
        if !diff_marker && bytes[i..].starts_with(op) {
            i += op.len();
            joined = true;
            break;
        }
    }
    // Side by side, a literal only continues on the next line (`"a" "b"` on
    // one line is as often two arguments of a shell command).
    if !joined && !bytes[end + 1..gap_end].contains(&b'\n') {
        return None;
    }
    let open = (i..hi.max(i)).find(|&j| !bytes[j].is_ascii_whitespace())?;
    if !matches!(bytes[open], b'"' | b'\'' | b'`') {
        return None;
    }
    let s = open + 1;
    let lim = (s + MAX_PIECE).min(bytes.len());
    let e = s + bytes[s..lim].iter().position(|&b| b == bytes[open])?;
    // A quoted key on the next line (`"next-key": x` in YAML) starts
    // something else.
    let after = (e + 1..(e + 1 + MAX_GAP).min(bytes.len())).find(|&j| bytes[j] != b' ');
    if after.is_some_and(|j| bytes[j] == b':') {
        return None;
    }
    // Nor does one followed by another on its line: a `"user" "password"`
    // row (pgbouncer's userlist) or a command's arguments.
    if after.is_some_and(|j| matches!(bytes[j], b'"' | b'\'')) {
        return None;
    }
    let piece = &bytes[s..e];
    let token = piece.len() >= 2
        && piece.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~' | b'+' | b'/' | b'=')
        });
    token.then_some((s, e))
}
