//! Multi-line blocks as they travel in messages: lines broken by real line
//! breaks (and indented, in YAML or heredocs), by `\n` escapes inside a JSON
//! or `.env` string (also doubly escaped), or split into string literals
//! concatenated across lines (`"…\n"` / `"…"` in Python, `"…" +` in JS).
//!
//! [`Lines`] walks such a block one line at a time; detectors of armoured
//! keys, PuTTY files and hard-wrapped tokens decide which lines belong to
//! them. Pure and bounded: every step looks at a few bytes.

/// Bytes that end the content of a line: a line break, the start of an
/// escape, or a quote (the end of the string the block lives in).
fn ends_content(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | b'\\' | b'"' | b'\'' | b'`')
}

/// Length of the line junction at the start of `s`, or 0 when there is none.
///
/// A junction is an escaped line break (`\n`, `\r\n`, `\\n`), a real one, or
/// both, and, for concatenated literals, the closing quote (optionally `+`
/// or `\`), the real line break with indentation and the opening quote.
pub(crate) fn junction(s: &[u8]) -> usize {
    let mut i = 0;
    for esc in [&br"\\r\\n"[..], br"\r\n", br"\\n", br"\n"] {
        if s.starts_with(esc) {
            i = esc.len();
            break;
        }
    }
    let escaped = i;
    // `"` [+|\] <newline> <indent> `"`: two string literals in a row.
    if let Some(&q) = s.get(i)
        && matches!(q, b'"' | b'\'')
    {
        let mut j = i + 1;
        while matches!(s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if matches!(s.get(j), Some(b'+' | b'\\')) {
            j += 1;
        }
        let nl = newline_len(&s[j.min(s.len())..]);
        if nl > 0 {
            j += nl;
            while matches!(s.get(j), Some(b' ' | b'\t')) {
                j += 1;
            }
            if s.get(j) == Some(&q) {
                return j + 1;
            }
        }
        return escaped;
    }
    let nl = newline_len(&s[i..]);
    if nl > 0 {
        i += nl;
        while matches!(s.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
    }
    i
}

fn newline_len(s: &[u8]) -> usize {
    if s.starts_with(b"\r\n") {
        2
    } else if s.first() == Some(&b'\n') {
        1
    } else {
        0
    }
}

/// The lines of a block, as `(start, end)` of each line's content with
/// indentation and trailing blanks trimmed.
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
    limit: usize,
    first: bool,
}

impl<'a> Lines<'a> {
    /// Lines from `start` (the first line's content) up to `limit`.
    pub(crate) fn new(bytes: &'a [u8], start: usize, limit: usize) -> Lines<'a> {
        Lines {
            bytes,
            at: start,
            limit: limit.min(bytes.len()),
            first: true,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let bytes = self.bytes;
        let mut i = self.at;
        if i >= self.limit {
            return None;
        }
        if !self.first {
            let j = junction(&bytes[i..self.limit]);
            if j == 0 {
                return None;
            }
            i += j;
        }
        self.first = false;
        let start = i;
        while i < self.limit && !ends_content(bytes[i]) {
            i += 1;
        }
        self.at = i;
        let mut s = start;
        while s < i && matches!(bytes[s], b' ' | b'\t') {
            s += 1;
        }
        let mut e = i;
        while e > s && matches!(bytes[e - 1], b' ' | b'\t') {
            e -= 1;
        }
        Some((s, e))
    }
}

/// `[A-Za-z0-9+/=]`: a line of a base64 body.
pub(crate) fn is_base64_line(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &str) -> Vec<&str> {
        Lines::new(t.as_bytes(), 0, t.len())
            .map(|(s, e)| &t[s..e])
            .collect()
    }

    #[test]
    fn every_kind_of_line_break() {
        assert_eq!(lines("ab\n  cd\r\nef"), ["ab", "cd", "ef"]);
        assert_eq!(lines(r"ab\ncd\\nef\r\ngh"), ["ab", "cd", "ef", "gh"]);
        assert_eq!(
            lines("ab\\n\"\n    \"cd\\n\"\n    \"ef\" + x"),
            ["ab", "cd", "ef"]
        );
        assert_eq!(lines("ab\" +\n  \"cd\""), ["ab", "cd"]);
        assert_eq!(lines("ab\", rest"), ["ab"]);
        assert_eq!(lines("ab\n\ncd"), ["ab", "", "cd"]);
    }
}
