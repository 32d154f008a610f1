//! Reading a value where it starts: a string literal in any of the quotings
//! code and config use, or a bare word up to what ends one. Every read is
//! bounded, so a value never costs more than its window.

use super::text::line_end;

/// Longest quoted value we read.
pub(crate) const MAX_VALUE: usize = 1024;
/// Longest bare (unquoted) value we read and judge.
pub(crate) const MAX_BARE: usize = 256;
/// Longest run an accepted bare value is extended to: session tokens run to
/// a few KB, and a value cut at [`MAX_BARE`] would leave its tail behind.
const MAX_RUN: usize = 16 * 1024;

/// Reads the value starting at `i`: a string literal (`"…"`, `'…'`, `` `…` ``,
/// escaped `\"…\"`, Python/Rust prefixed `r"…"`), or a bare word.
pub(crate) fn read_value(bytes: &[u8], i: usize, query: bool) -> Option<(usize, usize, bool)> {
    let n = bytes.len();
    if i >= n {
        return None;
    }
    let mut i = i;
    // YAML's explicit string tag (`api_key: !!str 5f3a…`, `!!str "…"`):
    // the value follows it.
    if bytes[i..].starts_with(b"!!str ") {
        i += b"!!str ".len();
        while i < n && bytes[i] == b' ' {
            i += 1;
        }
        if i >= n {
            return None;
        }
    }
    if i + 1 < n
        && matches!(bytes[i], b'r' | b'b' | b'f' | b'u' | b'R')
        && matches!(bytes[i + 1], b'"' | b'\'')
    {
        i += 1;
    }
    // Escaped quotes inside a JSON string: `\"value\"`, and the same string
    // escaped again once or twice more (`\\\"value\\\"`): the value ends
    // where the same escaped quote comes again, behind exactly as many
    // backslashes (`\\\"` inside `\"…\"` is a quote within the value).
    let slashes = bytes[i..]
        .iter()
        .take(8)
        .take_while(|&&b| b == b'\\')
        .count();
    if slashes > 0 && matches!(bytes.get(i + slashes), Some(b'"' | b'\'')) {
        let q = bytes[i + slashes];
        let vs = i + slashes + 1;
        let hi = line_end(bytes, vs).min(vs + MAX_VALUE);
        let mut k = vs;
        while let Some(p) = bytes[k..hi].iter().position(|&b| b == q) {
            let at = k + p;
            let run = bytes[vs..at]
                .iter()
                .rev()
                .take(slashes + 1)
                .take_while(|&&b| b == b'\\')
                .count();
            if run == slashes {
                return Some((vs, at - slashes, true));
            }
            k = at + 1;
        }
        return None;
    }
    if matches!(bytes[i], b'"' | b'\'' | b'`') {
        let q = bytes[i];
        let triple = bytes.len() >= i + 3 && bytes[i + 1] == q && bytes[i + 2] == q;
        let vs = if triple { i + 3 } else { i + 1 };
        let hi = line_end(bytes, vs).min(vs + MAX_VALUE);
        let mut k = vs;
        while k < hi {
            if bytes[k] == b'\\' {
                k += 2;
                continue;
            }
            if bytes[k] == q {
                return Some((vs, k, true));
            }
            k += 1;
        }
        // Unterminated: fall through to a bare read after the quote.
        return bare(bytes, vs, query).map(|(s, e)| (s, e, false));
    }
    bare(bytes, i, query).map(|(s, e)| (s, e, false))
}

/// Where the run of value bytes that reached [`MAX_BARE`] at `from` ends.
pub(crate) fn run_end(bytes: &[u8], from: usize) -> usize {
    let hi = (from + MAX_RUN).min(bytes.len());
    bytes[from..hi]
        .iter()
        .position(|&b| bare_stop(b, false))
        .map_or(hi, |p| from + p)
}

fn bare_stop(b: u8, query: bool) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'`' | b',' | b';' | b'<' | b'\\'
    ) || (query && matches!(b, b'&' | b'#'))
}

fn bare(bytes: &[u8], i: usize, query: bool) -> Option<(usize, usize)> {
    let n = bytes.len();
    let mut e = i;
    while e < n && e - i < MAX_BARE {
        let hash_kept = query
            && bytes[e] == b'#'
            && super::fragment::in_value(bytes, i, e, |b| bare_stop(b, true));
        let cjk_after_ascii = e > i && bytes[e - 1].is_ascii() && super::text::cjk_at(bytes, e);
        if (bare_stop(bytes[e], query) && !hash_kept) || cjk_after_ascii {
            // A `.properties` value escapes `:` and `=` (`pw=Kx9\:Z8r`).
            if e > i && bytes[e] == b'\\' && matches!(bytes.get(e + 1), Some(b':' | b'=')) {
                e += 2;
                continue;
            }
            break;
        }
        e += 1;
    }
    loop {
        if e > i && matches!(bytes[e - 1], b'.' | b':' | b')' | b']' | b'}' | b'>') {
            e -= 1;
        } else if let Some(p) = ["。", "、", "，", "！"]
            .iter()
            .find(|p| bytes[i..e].ends_with(p.as_bytes()))
        {
            // A sentence's end in CJK text (`的值是 X。`).
            e -= p.len();
        } else {
            break;
        }
    }
    (e > i).then_some((i, e))
}
