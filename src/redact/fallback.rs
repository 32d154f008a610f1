//! Secrets written as the default of a setting: `default="…"` in argparse,
//! click, pydantic and django-environ, `| default "…"` in Helm, Terraform's
//! `variable "db_password" { default = "…" }`, a YAML or JSON schema's
//! `default:` under a secret-named key, `getOrDefault("DB_PASSWORD", "…")`,
//! `setdefault(…)`, `fallback="…"`, `@ConfigProperty(defaultValue = "…")`.
//!
//! The word `default` anchors the search; the value must be a string
//! literal, and the name that makes it a secret is found on the same line
//! (before the value, or after it in Helm's `default "…" .Values.password`)
//! or as the enclosing key a few lines up.

use super::names::{NameClass, classify, split_words};
use super::operator::skip_blank;
use super::scan::Scan;
use super::text::{line_end, near_line_start};
use super::value::is_secret_value;

/// How many lines up the enclosing key may be.
const MAX_LINES_UP: usize = 6;
/// How far along the line a name is looked for.
const NAME_REACH: usize = 200;
/// How many identifiers on either side of the value are looked at.
const MAX_NAMES: usize = 8;

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Classifies an identifier (`--db-password`, `.Values.redis.password`, `DB_PASS`).
fn class_of(ident: &[u8]) -> Option<NameClass> {
    let mut words = Vec::new();
    split_words(ident, &mut words);
    let n = words.len();
    classify(&words, n)
}

/// The first secret-like identifier in `hay`, searched from its end
/// (`backward`) or its start.
fn name_in(hay: &[u8], backward: bool) -> Option<NameClass> {
    let mut idents: Vec<&[u8]> = hay
        .split(|&b| !is_name_byte(b))
        .filter(|w| w.iter().any(u8::is_ascii_alphabetic))
        .collect();
    if backward {
        idents.reverse();
    }
    // The name is near the value; a few identifiers are enough to look at.
    idents.into_iter().take(MAX_NAMES).find_map(|w| {
        let lower = w.to_ascii_lowercase();
        if lower.ends_with(b"default") || lower == b"fallback" {
            return None;
        }
        class_of(w)
    })
}

/// A quoted literal at `i`: its content span. Also `\"…\"`, the literal
/// inside a JSON-escaped text (a Terraform file in a tool result).
fn literal_at(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'"') {
        let le = line_end(bytes, i + 2);
        let close = bytes[i + 2..le].windows(2).position(|w| w == b"\\\"")?;
        return Some((i + 2, i + 2 + close));
    }
    let q = *bytes.get(i)?;
    if !matches!(q, b'"' | b'\'' | b'`') {
        return None;
    }
    let le = line_end(bytes, i + 1);
    let close = bytes[i + 1..le].iter().position(|&b| b == q)?;
    Some((i + 1, i + 1 + close))
}

/// The key that encloses the line at `ls`: Terraform's `variable "NAME" {`,
/// a YAML key with less indentation, or a JSON `"NAME": {`.
fn enclosing(bytes: &[u8], ls: usize) -> Option<NameClass> {
    let indent = |at: usize| bytes[at..].iter().take_while(|&&b| b == b' ').count();
    let own = indent(ls);
    let mut cur = ls;
    for _ in 0..MAX_LINES_UP {
        if cur == 0 {
            return None;
        }
        let prev = near_line_start(bytes, cur - 1, NAME_REACH)?;
        let line = &bytes[prev..cur - 1];
        cur = prev;
        let ind = indent(prev);
        let body = super::operator::trim(&line[ind.min(line.len())..]);
        if body.is_empty() || ind >= own {
            continue;
        }
        if let Some(rest) = body.strip_prefix(b"variable ") {
            return name_in(rest, false);
        }
        // The file's first line inside a JSON string: `{"content": "variable \"NAME\" {`.
        const ESCAPED: &[u8] = b"\"variable \\\"";
        if let Some(p) = super::text::find_ci(body, ESCAPED) {
            return name_in(&body[p + ESCAPED.len()..], false);
        }
        let key_end = body.iter().position(|&b| b == b':' || b == b'{')?;
        return class_of(&body[..key_end]);
    }
    None
}

/// Handles the word `default` / `fallback` found at `start..end`.
pub(crate) fn on_default(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let mut s = start;
    while s > 0 && bytes[s - 1].is_ascii_alphanumeric() && start - s < 16 {
        s -= 1;
    }
    let mut e = end;
    while e < bytes.len() && (bytes[e].is_ascii_alphanumeric() || bytes[e] == b'_') && e - end < 16
    {
        e += 1;
    }
    let word = bytes[s..e].to_ascii_lowercase();
    let ls = near_line_start(bytes, s, NAME_REACH).unwrap_or(s.saturating_sub(NAME_REACH));
    let (value, class) = if word.ends_with(b"ordefault") || word == b"setdefault" {
        // getOrDefault("NAME", "value"), setdefault("NAME", "value")
        let i = skip_blank(bytes, e);
        if bytes.get(i) != Some(&b'(') {
            return;
        }
        let Some((ns, ne)) = literal_at(bytes, skip_blank(bytes, i + 1)) else {
            return;
        };
        let j = skip_blank(bytes, ne + 1);
        if bytes.get(j) != Some(&b',') {
            return;
        }
        let Some(v) = literal_at(bytes, skip_blank(bytes, j + 1)) else {
            return;
        };
        (v, class_of(&bytes[ns..ne]))
    } else if matches!(
        word.as_slice(),
        b"default" | b"defaultvalue" | b"default_value" | b"fallback"
    ) {
        let mut i = e;
        if matches!(bytes.get(i), Some(b'"' | b'\'')) && s > 0 && bytes[s - 1] == bytes[i] {
            i += 1;
        }
        let j = skip_blank(bytes, i);
        let i = match bytes.get(j) {
            Some(b'=' | b':') => {
                skip_blank(bytes, j + 1 + usize::from(bytes.get(j + 1) == Some(&b'>')))
            }
            Some(b'"' | b'\'' | b'\\') if j > i => j,
            _ => return,
        };
        let Some((vs, ve)) = literal_at(bytes, i) else {
            return;
        };
        if ve - vs < 6 {
            return;
        }
        let before = &bytes[ls.max(s.saturating_sub(NAME_REACH))..s];
        let after_end = line_end(bytes, ve).min(ve + NAME_REACH);
        let class = name_in(before, true)
            .or_else(|| name_in(&bytes[(ve + 1).min(after_end)..after_end], false))
            .or_else(|| enclosing(bytes, ls));
        ((vs, ve), class)
    } else {
        return;
    };
    let Some(class) = class else { return };
    let (vs, ve) = value;
    if is_secret_value(&bytes[vs..ve], class.strictness, true) {
        scan.push(vs, ve, class.kind, class.priority);
    }
}
