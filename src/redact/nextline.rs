//! Values written on the line after their name: YAML plain or quoted
//! scalars on the next, deeper-indented line, block scalars (`|`, `>-`, …)
//! and pretty-printed JSON that breaks after `"password":`.
//!
//! ```yaml
//! password:
//!   hunter2-but-longer
//! client_secret: >-
//!   Zq8…
//! ```
//!
//! A next line that is itself a mapping key, a list item, a comment or a
//! flow collection is structure, not a value.

use super::text::line_end;

/// Blank lines allowed between the name and its value.
const MAX_BLANK: usize = 2;
/// Longest block scalar we read.
const MAX_BLOCK: usize = 4096;

fn indent_at(bytes: &[u8], ls: usize) -> usize {
    bytes[ls..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()
}

/// Indentation of the key on the line that starts at `ls`, counting a
/// YAML list marker (`  - name: x` has its keys at 4).
fn key_indent(bytes: &[u8], ls: usize) -> usize {
    let ind = indent_at(bytes, ls);
    if bytes.get(ls + ind) == Some(&b'-') && bytes.get(ls + ind + 1) == Some(&b' ') {
        ind + 2 + indent_at(bytes, ls + ind + 2)
    } else {
        ind
    }
}

/// The YAML key a mapping at the line starting at `ls` is nested under
/// (`secret:` above `  key: x`), when the nearest shallower line above is a
/// key alone; looked for a few lines up.
pub(crate) fn parent_key(bytes: &[u8], ls: usize) -> Option<&[u8]> {
    let own = key_indent(bytes, ls);
    if own == 0 {
        return None;
    }
    let mut end = ls.checked_sub(1)?;
    for _ in 0..MAX_PARENT_LINES {
        let lo = end.saturating_sub(MAX_PARENT_LINE);
        let start = bytes[lo..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |p| lo + p + 1);
        let line = bytes[start..end].trim_ascii();
        if !line.is_empty() && !line.starts_with(b"#") && key_indent(bytes, start) < own {
            let name = line.strip_suffix(b":")?;
            let plain = name
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            return (plain && !name.is_empty()).then_some(name);
        }
        end = start.checked_sub(1)?;
    }
    None
}

/// Lines looked up for a parent key, and the longest of them read.
const MAX_PARENT_LINES: usize = 6;
const MAX_PARENT_LINE: usize = 256;

/// The value of the name whose line starts at `name_line` and whose colon
/// is followed (at `after`) by nothing or a block indicator. Returns the
/// value's span and whether it was quoted.
pub(crate) fn value(bytes: &[u8], name_line: usize, after: usize) -> Option<(usize, usize, bool)> {
    let parent = key_indent(bytes, name_line);
    let block = matches!(bytes.get(after), Some(b'|' | b'>'));
    let mut ls = line_end(bytes, after) + 1;
    let mut blanks = 0;
    loop {
        if ls >= bytes.len() {
            return None;
        }
        let le = line_end(bytes, ls);
        if bytes[ls..le]
            .iter()
            .all(|&b| b == b' ' || b == b'\r' || b == b'\t')
        {
            blanks += 1;
            if blanks > MAX_BLANK {
                return None;
            }
            ls = le + 1;
            continue;
        }
        break;
    }
    if let Some(found) = after_rule(bytes, ls) {
        return Some(found);
    }
    let ind = indent_at(bytes, ls);
    if ind <= parent {
        return None;
    }
    let vs = ls + ind;
    let le = line_end(bytes, vs);
    let mut ve = le;
    while ve > vs && matches!(bytes[ve - 1], b' ' | b'\r' | b'\t') {
        ve -= 1;
    }
    if block {
        // Every following line indented deeper than the key belongs to it.
        let mut end = ve;
        let mut next = le + 1;
        while next < bytes.len() && next - vs < MAX_BLOCK {
            let nle = line_end(bytes, next);
            let line = &bytes[next..nle];
            let blank = line.iter().all(|&b| b == b' ' || b == b'\r');
            if !blank && indent_at(bytes, next) <= parent {
                break;
            }
            if !blank {
                end = nle;
                while end > next && matches!(bytes[end - 1], b' ' | b'\r') {
                    end -= 1;
                }
            }
            next = nle + 1;
        }
        return Some((vs, end, false));
    }
    let line = &bytes[vs..ve];
    if let Some(&q) = line.first()
        && matches!(q, b'"' | b'\'')
    {
        let close = line[1..].iter().position(|&b| b == q)?;
        let tail = &line[close + 2..];
        return (tail.is_empty() || tail == b",").then_some((vs + 1, vs + 1 + close, true));
    }
    let structure = matches!(
        line[0],
        b'-' | b'#' | b'{' | b'[' | b'&' | b'*' | b'!' | b'?' | b'<'
    ) || line.ends_with(b":")
        || line.windows(2).any(|w| w == b": ");
    (!structure).then_some((vs, ve, false))
}

/// `kubectl describe configmap` prints each entry as `NAME:`, a `----`
/// rule, then the value from the line after the rule up to a blank line;
/// `ls` starts the line after the name.
fn after_rule(bytes: &[u8], ls: usize) -> Option<(usize, usize, bool)> {
    let le = line_end(bytes, ls);
    let rule = bytes[ls..le].trim_ascii_end();
    if rule != b"----" {
        return None;
    }
    let vs = le + 1;
    let mut end = vs;
    let mut next = vs;
    while next < bytes.len() && next - vs < MAX_BLOCK {
        let nle = line_end(bytes, next);
        let line = bytes[next..nle].trim_ascii_end();
        if line.is_empty() {
            break;
        }
        end = next + line.len();
        next = nle + 1;
    }
    (end > vs).then_some((vs, end, false))
}

/// PHP's `var_dump`: `["password"]=>` then, on the next line, `string(26)
/// "value"`; where the quoted value starts.
pub(crate) fn var_dump_value(bytes: &[u8], from: usize) -> Option<usize> {
    let nl = from
        + bytes
            .get(from..)?
            .iter()
            .take(3)
            .position(|&b| b == b'\n')?;
    let j = super::operator::skip_blank(bytes, nl + 1);
    let digits = bytes.get(j..)?.strip_prefix(b"string(")?;
    let close = digits.iter().take(8).position(|&b| b == b')')?;
    if close == 0 || !digits[..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = j + b"string(".len() + close + 1;
    (bytes.get(v) == Some(&b' ') && bytes.get(v + 1) == Some(&b'"')).then_some(v + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: &str) -> Option<&str> {
        let colon = t.find(':')? + 1;
        let after = colon + t[colon..].chars().take_while(|c| *c == ' ').count();
        value(t.as_bytes(), 0, after).map(|(s, e, _)| &t[s..e])
    }

    #[test]
    fn next_line_values() {
        assert_eq!(v("password:\n  hunter2x\nhost: db"), Some("hunter2x"));
        assert_eq!(v("password: >-\n    a b\n    c\nx: 1"), Some("a b\n    c"));
        assert_eq!(v("\"password\":\n    \"pw1\",\n"), Some("pw1"));
        assert_eq!(v("password:\n  secretKeyRef:\n    name: db"), None);
        assert_eq!(v("password:\n- a\n"), None);
        assert_eq!(v("password:\nhost: x"), None);
        assert_eq!(v("  - password:\n      pw2\n"), Some("pw2"));
        assert_eq!(
            v("DB_PASSWORD:\n----\nv62h-rkfu18\n\nX:\n----\n1"),
            Some("v62h-rkfu18")
        );
    }
}
