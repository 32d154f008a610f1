//! A secret split into string literals whose first piece is too short to be
//! recognised alone: `"ghp_" + "zuHf…"`, `key = "sk-" \` with `"proj-…"` on
//! the next line, `'xoxb-' . '…'`, `("AKIA" "IOSF…")`. [`super::concat`]
//! follows the pieces after one a detector already found; here the pieces
//! after a short one are joined and the joined text scanned again. Only a
//! self-identifying secret that starts in the first piece and runs on into
//! the next counts, and it replaces the part of each piece it covers.
//!
//! Each quote opens at most one chain of [`MAX_PIECES`] pieces of bounded
//! length, so the pass is linear in the text.

use super::scan::{self, Anchors, Candidate, priority};
use super::tokens;

/// Longest first piece: a prefix (`sk-proj-`) or the start of a token.
const MAX_FIRST: usize = 24;
/// Most pieces joined, longest piece, and most blank space between two.
const MAX_PIECES: usize = 8;
const MAX_PIECE: usize = 512;
const MAX_GAP: usize = 64;

/// Adds candidates for secrets split across literals from a short first piece.
pub(crate) fn extend(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
    cands: &mut Vec<Candidate>,
) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(p) = memchr::memchr3(b'"', b'\'', b'`', &bytes[from..]) {
        let open = from + p;
        from = open + 1;
        let Some(first) = literal(bytes, open, MAX_FIRST) else {
            continue;
        };
        if !first_piece_ok(&bytes[first.0..first.1]) {
            continue;
        }
        let mut pieces = vec![first];
        while pieces.len() < MAX_PIECES {
            let Some(next) = next_open(bytes, pieces[pieces.len() - 1].1)
                .and_then(|o| literal(bytes, o, MAX_PIECE))
            else {
                break;
            };
            pieces.push(next);
        }
        if pieces.len() < 2 {
            continue;
        }
        let mut joined = String::new();
        for &(s, e) in &pieces {
            joined.push_str(&text[s..e]);
        }
        let first_len = first.1 - first.0;
        let found: Vec<Candidate> = scan::scan_builtin(anchors, rules, &joined)
            .into_iter()
            .filter(|c| c.priority >= priority::URL && c.start < first_len && c.end > first_len)
            .collect();
        for c in &found {
            let mut at = 0;
            for &(s, e) in &pieces {
                let (js, je) = (at, at + (e - s));
                at = je;
                let (cs, ce) = (c.start.max(js), c.end.min(je));
                if cs < ce {
                    cands.push(Candidate {
                        start: s + (cs - js),
                        end: s + (ce - js),
                        ..*c
                    });
                }
            }
        }
        if !found.is_empty() {
            // The pieces are read: their quotes open nothing more.
            from = pieces[pieces.len() - 1].1 + 1;
        }
    }
}

/// A first piece is a bit of a token: letters (two at least), digits and
/// `_-.` only.
fn first_piece_ok(p: &[u8]) -> bool {
    p.len() >= 2
        && p.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 2
        && p.iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The content `(start, end)` of the literal opened by the quote at `open`,
/// at most `max` bytes, on one line, of token characters only.
fn literal(bytes: &[u8], open: usize, max: usize) -> Option<(usize, usize)> {
    let q = bytes[open];
    let s = open + 1;
    let lim = (s + max + 1).min(bytes.len());
    let e = s + bytes[s..lim].iter().position(|&b| b == q)?;
    let token = e > s
        && bytes[s..e].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~' | b'+' | b'/' | b'=')
        });
    token.then_some((s, e))
}

/// The opening quote of the literal joined to the one whose content ends at
/// `end` (its closing quote): by `+`, `.`, `..`, `||`, `<<`, a line
/// continuation `\`, or side by side.
fn next_open(bytes: &[u8], end: usize) -> Option<usize> {
    let close = *bytes.get(end)?;
    let hi = (end + 1 + MAX_GAP).min(bytes.len());
    let mut i = end + 1;
    let mut joined = false;
    while i < hi {
        let b = bytes[i];
        // Blanks, and a `\` that continues the line.
        if b.is_ascii_whitespace()
            || (b == b'\\' && matches!(bytes.get(i + 1), Some(b'\n' | b'\r')))
        {
            i += 1;
        } else if !joined
            && let Some(op) = [&b"+"[..], b"..", b".", b"||", b"<<"]
                .iter()
                .find(|op| bytes[i..].starts_with(op))
        {
            i += op.len();
            joined = true;
        } else {
            break;
        }
    }
    // Side by side, the pieces use the same quote (`"a" "b"`, not `'a' "b"`).
    (i < hi && (bytes[i] == close || (joined && matches!(bytes[i], b'"' | b'\'' | b'`'))))
        .then_some(i)
}
