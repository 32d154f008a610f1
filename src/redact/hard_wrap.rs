//! Tokens hard-wrapped across lines (a terminal at 76 columns, a JWT folded
//! in a log, `\n`-escaped or indented): how far a matched token extends over
//! the lines after it, and when a line is a token of its own instead (a list
//! of keys one per line). Split from `tokens` for size; the rules and the
//! acceptance test of a token are there.

use super::kinds::Kind;
use super::text::is_alnum;
use super::tokens::RULES;
use super::tokens::{Compiled, Span, TokenRule, accept};

/// A token hard-wrapped across lines (a terminal at 76 columns, a JWT
/// folded in a log, `\n`-escaped or indented): while the token reaches the
/// end of its line and the next line is nothing but more of its alphabet,
/// random-looking and within the token's length, the next line is part of it.
/// The last piece of a wrapped token may be short and of one character class
/// (`kx_enjsnnaxaw`): after a full continuation line, a shorter piece of six
/// or more characters with some entropy, holding `_` or `-` or reading as
/// random letters (not `finished`), ends the token.
///
/// A line that is a whole token of its own ends the wrapped token (a list
/// of keys one per line is several tokens), unless its width says it may
/// be more of the wrapped one: see [`separate_token`].
pub(super) fn wrapped_end(
    rules: &Compiled,
    rule: &TokenRule,
    bytes: &[u8],
    ms: usize,
    me: usize,
) -> usize {
    let body = |b: u8| is_alnum(b) || (rule.edge)(b) || (rule.kind == Kind::Jwt && b == b'.');
    let (mut end, mut len) = (me, me - ms);
    // Widths the line before may have: for the first line, the token alone,
    // its line's content, or its whole line (`KEY=` and indentation
    // included); after that, the width of the previous piece.
    let first = first_line_widths(bytes, ms, me);
    let mut widths: &[usize] = &first;
    let mut prev_width;
    let mut prev_run = None;
    loop {
        let Some((ls, after)) = next_piece(bytes, end, &body) else {
            return end;
        };
        let run = after - ls;
        let piece = &bytes[ls..after];
        let one_class = super::text::Profile::of(piece).alnum_classes() < 2;
        let tail = prev_run.is_some_and(|p| run < p)
            && run >= 6
            && super::text::entropy(piece) >= 2.5
            && (piece.iter().any(|&b| matches!(b, b'_' | b'-'))
                || super::gibberish::random_letters(piece));
        if run < 4
            || len + run > rule.max_len
            || (one_class && !tail)
            || separate_token(rules, bytes, ls, after, widths, &body)
        {
            return end;
        }
        len += run;
        end = after;
        if one_class {
            return end;
        }
        prev_run = Some(run);
        prev_width = [run];
        widths = &prev_width;
    }
}

/// The next line of a possibly wrapped token after `end`, as `(start, end)`
/// of its content: a line junction, then bytes of the token's alphabet up
/// to the end of the line (or of the string it is in).
fn next_piece(bytes: &[u8], end: usize, body: &impl Fn(u8) -> bool) -> Option<Span> {
    let j = super::block::junction(&bytes[end..(end + 64).min(bytes.len())]);
    if j == 0 {
        return None;
    }
    let ls = end + j;
    let after = ls + bytes[ls..].iter().take_while(|&&b| body(b)).count();
    let line_ends = after == bytes.len()
        || matches!(
            bytes[after],
            b'\n' | b'\r' | b'\\' | b'"' | b'\'' | b'`' | b',' | b';' | b')'
        );
    line_ends.then_some((ls, after))
}

/// The widths the first line of a token at `ms..me` may have as a line of a
/// hard wrap: the token alone, the line's content after its indentation,
/// and the whole line in bytes and in columns (the wrap may have been made
/// before `KEY=` was put in front, or with it). The line is found back to
/// a real or escaped line break, within 512 bytes (further counts as wider
/// than any wrap).
fn first_line_widths(bytes: &[u8], ms: usize, me: usize) -> [usize; 4] {
    let floor = ms.saturating_sub(512);
    let mut s = ms;
    while s > floor {
        let b = bytes[s - 1];
        let escaped_break = matches!(b, b'n' | b'r') && s >= 2 && bytes[s - 2] == b'\\';
        if matches!(b, b'\n' | b'\r') || escaped_break {
            break;
        }
        s -= 1;
    }
    let mut c = s;
    while c < ms && matches!(bytes[c], b' ' | b'\t') {
        c += 1;
    }
    // A tab before the token takes a terminal's columns up to the next stop.
    let columns = bytes[s..me].iter().fold(0, |col, &b| {
        if b == b'\t' {
            (col / 8 + 1) * 8
        } else {
            col + 1
        }
    });
    [me - ms, me - c, me - s, columns]
}

/// Whether the continuation line `ls..after` is a token of its own, not more
/// of the wrapped token before it whose previous line had one of `widths`.
///
/// Never leak: a line ends the wrapped token only when it is, whole, a token
/// that its own rule accepts and replaces (regex over the whole line, edges,
/// checks), so cutting there leaves nothing of it in clear. And only when
/// its width rules out a hard wrap: all full lines of a wrapped token have
/// the same width and only the last may be shorter, so a line as wide as the
/// one before is a continuation (more may follow), a line shorter than it
/// that is not the last is too (when in doubt, keep extending: one merged
/// placeholder is better than a leak), and what is left — a wider line, or
/// a shorter last line (nothing follows to leak) — is a separate token. A
/// list of keys one per line has lines of different widths; an AWS session
/// token wrapped at 76 columns whose line happens to begin `EAAA` or `AKIA`
/// has lines of one width.
fn separate_token(
    rules: &Compiled,
    bytes: &[u8],
    ls: usize,
    after: usize,
    widths: &[usize],
    body: &impl Fn(u8) -> bool,
) -> bool {
    let width = after - ls;
    let widest = widths.iter().copied().max().unwrap_or(0);
    if widths.contains(&width)
        || (width < widest && next_piece(bytes, after, body).is_some_and(|(s, e)| e - s >= 4))
    {
        return false;
    }
    let piece = &bytes[ls..after];
    RULES.iter().enumerate().any(|(idx, r)| {
        r.back == 0
            && r.report
            && r.anchors
                .iter()
                .any(|a| a.len() >= 4 && piece.starts_with(a.as_bytes()))
            && rules.regexes.get(idx).is_some_and(|re| {
                accept(r, re, bytes, ls).is_some_and(|(s, e, g)| {
                    s == ls && e == after && g.is_none_or(|g| g == (ls, after))
                })
            })
    })
}
