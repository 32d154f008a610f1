//! Where on its line a name and its value stand: a name that starts its
//! line (YAML, INI, `.env`), a value that follows on the next lines (YAML
//! block scalars), and a line that holds nothing but a literal assignment.

use super::operator::{skip_blank, trim};
use super::text::{line_end, line_start, near_line_start};

/// Whether only indentation, a YAML list dash or an opening quote stands
/// before the name at `raw_s` on its line.
pub(crate) fn key_starts_line(bytes: &[u8], raw_s: usize) -> bool {
    let ls = line_start(bytes, raw_s);
    let head = trim(&bytes[ls..raw_s]);
    matches!(head, b"" | b"-" | b"\"" | b"'" | b"- \"" | b"- '")
}

/// After `name:`, nothing but a block indicator (`|`, `>-`, …) or a comment
/// before the line ends: the value, if any, is on the next lines.
pub(crate) fn next_line_follows(bytes: &[u8], v: usize) -> bool {
    let mut i = v;
    if i < bytes.len() && matches!(bytes[i], b'|' | b'>') {
        i += 1;
        while i < bytes.len() && matches!(bytes[i], b'-' | b'+' | b'0'..=b'9') {
            i += 1;
        }
        i = skip_blank(bytes, i);
    }
    if i < bytes.len() && bytes[i] == b'#' && (i == v || bytes[i - 1] == b' ') {
        i = line_end(bytes, i);
    }
    i >= bytes.len() || matches!(bytes[i], b'\n' | b'\r')
}

/// Most indentation looked past before a name (YAML nested a few dozen levels).
const MAX_INDENT: usize = 160;

/// Is an unquoted value a literal rather than a variable? True for `.env`
/// style `UPPER_NAME=value` (no spaces around `=`) and for YAML / INI lines
/// `name: value` / `name = value` that start the line and end with the value.
pub(crate) fn literal_context(
    bytes: &[u8],
    raw_s: usize,
    e: usize,
    vstart: usize,
    ve: usize,
) -> bool {
    let name = &bytes[raw_s..e];
    let glued = vstart == e + 1 && bytes.get(e) == Some(&b'=');
    let upper = name
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_-.".contains(b));
    if glued && upper {
        return true;
    }
    // Deeply nested YAML indents a key far from its line's start: blanks
    // before the name (up to [`MAX_INDENT`]) do not count against the reach.
    let mut lead = raw_s;
    while lead > 0 && raw_s - lead < MAX_INDENT && matches!(bytes[lead - 1], b' ' | b'\t') {
        lead -= 1;
    }
    let Some(ls) = near_line_start(bytes, lead, 24) else {
        return false;
    };
    let head = trim(&bytes[ls..raw_s]);
    let head_ok = head.is_empty()
        || head == b"-"
        || head.eq_ignore_ascii_case(b"export")
        || head.eq_ignore_ascii_case(b"ENV");
    let rest_end = bytes[ve..(ve + 64).min(bytes.len())]
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| ve + p);
    let Some(rest_end) = rest_end.or((ve + 64 >= bytes.len()).then_some(bytes.len())) else {
        return false;
    };
    let rest = trim(&bytes[ve..rest_end]);
    head_ok && (rest.is_empty() || rest.starts_with(b"#")) && bytes.get(e) != Some(&b'(')
}

/// An unquoted value that stopped at a `,` or `;` on a `.env` / YAML / INI
/// line (`DB_PASSWORD=x*+](+0[R,qR1xvzev`, `password: Qm8;vL3pRt7`): there
/// the line's rest is the value, and both characters are common in
/// generated passwords. Where the value ends if it runs on to the line's
/// end. In code (`f(password=pw, user=u)`, `{password: pw,}`) and CSV a
/// `,` or `;` does end a value: a space or the line's end follows it, or
/// the name does not start its line, and then nothing changes.
pub(crate) fn runs_to_line_end(
    bytes: &[u8],
    raw_s: usize,
    e: usize,
    vstart: usize,
    ve: usize,
) -> Option<usize> {
    if !matches!(bytes.get(ve), Some(b',' | b';')) || !key_starts_line(bytes, raw_s) {
        return None;
    }
    let hi = (vstart + super::literal::MAX_BARE).min(bytes.len());
    let end = match bytes[ve..hi]
        .iter()
        .position(|&b| matches!(b, b'\n' | b'\r'))
    {
        Some(p) => ve + p,
        None if hi == bytes.len() => hi,
        // Longer than any bare value read: not one value.
        None => return None,
    };
    let tail = &bytes[ve + 1..end];
    // More `,` or `;` may follow (`OB*2O5lm;j;oExiAok`), but not another
    // setting (`a=1;b=2`; padding `=` at the end is the value's), nor CJK
    // prose after a full-width comma (`X，谢谢`, a `,` in the view).
    let unpadded = &tail[..tail.len() - tail.iter().rev().take_while(|&&b| b == b'=').count()];
    let glued = !tail.is_empty()
        && !tail
            .iter()
            .any(|&b| matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'`' | b'\\'))
        && !unpadded.contains(&b'=')
        && !super::text::cjk_at(tail, 0);
    (glued && literal_context(bytes, raw_s, e, vstart, end)).then_some(end)
}
