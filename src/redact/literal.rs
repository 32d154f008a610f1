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
    // YAML's explicit string tag (`api_key: !!str 5f3a…`, `!!str "…"`),
    // `!!binary` and Ansible's `!unsafe` (not templated): the value follows.
    if let Some(tag) = [&b"!!str "[..], b"!!binary ", b"!unsafe "]
        .iter()
        .find(|t| bytes[i..].starts_with(t))
    {
        i += tag.len();
        while i < n && bytes[i] == b' ' {
            i += 1;
        }
        if i >= n {
            return None;
        }
    }
    if let Some(found) = delimited(bytes, i) {
        return Some(found);
    }
    if bytes[i..].starts_with(b"{{")
        && let Some((s, e)) = piped_literal(&bytes[i..line_end(bytes, i)])
    {
        return Some((i + s, i + e, true));
    }
    // String prefixes: `r"…"`, Python's `rb'…'` / `br"…"` / `fr"…"`.
    let prefix = |b: u8| matches!(b, b'r' | b'b' | b'f' | b'u' | b'R' | b'B' | b'F');
    if i + 2 < n && prefix(bytes[i]) && prefix(bytes[i + 1]) && matches!(bytes[i + 2], b'"' | b'\'')
    {
        i += 2;
    } else if i + 1 < n
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
                // `"{{ 'X' | b64encode }}"`: the template's own literal.
                if let Some((s, e)) = piped_literal(&bytes[vs..k]) {
                    return Some((vs + s, vs + e, true));
                }
                return Some((vs, k, true));
            }
            k += 1;
        }
        // Unterminated: fall through to a bare read after the quote.
        return bare(bytes, vs, query).map(|(s, e)| (s, e, false));
    }
    bare(bytes, i, query).map(|(s, e)| (s, e, false))
}

/// A literal whose quotes are longer than one byte, so the quote character
/// may occur inside it: Rust's `r#"…"#` (`br##"…"##`), Swift's `#"…"#`,
/// C++'s `R"d(…)d"`, Lua's `[[…]]` (`[==[…]==]`), Ruby's `%q(…)`, XML's
/// `<![CDATA[…]]>`, and an ODBC / ADO.NET `{…}` value (`Password={a;b};`).
/// Returns the span inside, read on one line.
fn delimited(bytes: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let rest = &bytes[i..];
    let mut close: Vec<u8> = Vec::new();
    let open = if rest.starts_with(b"<![CDATA[") {
        close.extend_from_slice(b"]]>");
        9
    } else if let Some(p) = rest.iter().take(3).position(|&b| b == b'#')
        && rest[..p].iter().all(|&b| matches!(b, b'r' | b'b'))
        && (p > 0 || i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
    {
        let hashes = rest[p..].iter().take(8).take_while(|&&b| b == b'#').count();
        if rest.get(p + hashes) != Some(&b'"') {
            return None;
        }
        close.push(b'"');
        close.extend(std::iter::repeat_n(b'#', hashes));
        p + hashes + 1
    } else if rest.starts_with(b"R\"") {
        let d = rest[2..].iter().take(17).position(|&b| b == b'(')?;
        let delim = &rest[2..2 + d];
        if delim
            .iter()
            .any(|&b| matches!(b, b' ' | b')' | b'\\' | b'"'))
        {
            return None;
        }
        close.push(b')');
        close.extend_from_slice(delim);
        close.push(b'"');
        3 + d
    } else if rest.starts_with(b"[[") || rest.starts_with(b"[=") {
        let eq = rest[1..].iter().take(8).take_while(|&&b| b == b'=').count();
        if rest.get(1 + eq) != Some(&b'[') {
            return None;
        }
        close.push(b']');
        close.extend(std::iter::repeat_n(b'=', eq));
        close.push(b']');
        2 + eq
    } else if rest.len() > 3 && matches!(&rest[..2], b"%q" | b"%Q") {
        let c = match rest[2] {
            b'(' => b')',
            b'[' => b']',
            b'{' => b'}',
            b'<' => b'>',
            b'|' | b'!' | b'/' => rest[2],
            _ => return None,
        };
        close.push(c);
        3
    } else if rest.len() > 2 && rest[0] == b'{' && i > 0 && bytes[i - 1] == b'=' {
        close.push(b'}');
        1
    } else {
        return None;
    };
    let vs = i + open;
    let hi = line_end(bytes, vs).min(vs + MAX_VALUE);
    let ve = vs
        + bytes[vs..hi]
            .windows(close.len())
            .position(|w| w == close)?;
    if close == b"}" {
        // Braces quote a connection-string value only when it holds what
        // would end one (`;`, `=`, …); `Password={password}` and
        // `{dbPassword}` are template and interpolation slots.
        let v = &bytes[vs..ve];
        let after = bytes.get(ve + 1).copied();
        let special = v.iter().any(|b| b";=[](),?*!@{".contains(b));
        if !special
            || v.contains(&b' ')
            || !matches!(after, None | Some(b';' | b'"' | b'\'' | b'\n' | b'\r'))
        {
            return None;
        }
    }
    (ve > vs).then_some((vs, ve, true))
}

/// Template filters that only encode what they are given, so a literal
/// piped through them is the value itself (`password_hash` is given the
/// plaintext password).
const ENCODERS: &[&str] = &[
    "b64enc",
    "b64encode",
    "base64encode",
    "base64",
    "quote",
    "squote",
    "trim",
    "toString",
    "string",
    "password_hash",
    "hash",
    "toJson",
    "to_json",
];

/// A Helm or Jinja expression made of one string literal and encoding
/// filters: `{{ "X" | b64enc | quote }}`, `{{- 'X' | b64encode -}}`,
/// `{{ b64enc "X" }}`. Returns the literal's span inside `t`, which starts
/// at the `{{`.
pub(crate) fn piped_literal(t: &[u8]) -> Option<(usize, usize)> {
    let mut i = t.strip_prefix(b"{{")?.len();
    i = t.len() - i;
    let blank = |t: &[u8], mut i: usize| {
        while i < t.len() && matches!(t[i], b' ' | b'-') {
            i += 1;
        }
        i
    };
    let filter = |t: &[u8], i: usize| {
        let e = (i..t.len())
            .find(|&x| !(t[x].is_ascii_alphanumeric() || t[x] == b'_'))
            .unwrap_or(t.len());
        ENCODERS
            .iter()
            .any(|f| f.as_bytes() == &t[i..e])
            .then_some(e)
    };
    i = blank(t, i);
    let mut filters = 0;
    if let Some(e) = filter(t, i) {
        // Function form: `b64enc "X"`.
        i = blank(t, e);
        filters += 1;
    }
    let q = *t.get(i).filter(|&&q| q == b'"' || q == b'\'')?;
    let (vs, len) = (i + 1, t[i + 1..].iter().position(|&b| b == q)?);
    let ve = vs + len;
    i = blank(t, ve + 1);
    while t.get(i) == Some(&b'|') {
        i = filter(t, blank(t, i + 1))?;
        // A filter's arguments: `password_hash('sha512')`.
        if t.get(i) == Some(&b'(') {
            i += t[i..].iter().position(|&b| b == b')')? + 1;
        }
        i = blank(t, i);
        filters += 1;
    }
    (filters > 0 && t[i..].starts_with(b"}}") && ve > vs).then_some((vs, ve))
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
