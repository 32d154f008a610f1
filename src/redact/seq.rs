//! A secret-named key holding a list, one secret per item: a YAML block
//! sequence (`passwords:` with `- X` lines under it), a flow sequence or
//! JSON array (`api_keys: [X, Y]`, `"tokens": ["X", "Y"]`). Each item is
//! read as the key's value would be. A plural secret word names such a
//! list only where it is assigned ([`singular`]; in prose `parsing from
//! tokens to X` names nothing).

use super::literal::read_value;
use super::operator::skip_blank;
use super::text::{line_end, line_start};

/// Plural secret words and their singular endings. Not `secrets` or bare
/// `keys`, which list names far more often (Compose's `secrets:
/// [db_password]`); `keys` only after `api`.
const PLURALS: &[(&str, &str)] = &[
    ("passwords", "password"),
    ("passphrases", "passphrase"),
    ("passcodes", "passcode"),
    ("apikeys", "apikey"),
    ("tokens", "token"),
    ("keys", "key"),
];

/// A name's words with its last one made singular, when that is a plural
/// secret word (`db passwords` → `db password`, `api keys` → `api key`).
pub(crate) fn singular(words: &[String]) -> Option<Vec<String>> {
    let last = words.last()?;
    let n = words.len();
    let api = n >= 2 && words[n - 2] == "api";
    let (plural, one) = PLURALS.iter().find(|(p, _)| {
        if *p == "keys" {
            api && last == p
        } else {
            last.ends_with(p)
        }
    })?;
    let mut single = words.to_vec();
    single[n - 1] = format!("{}{one}", &last[..last.len() - plural.len()]);
    Some(single)
}

/// Most items read from one list.
const MAX_ITEMS: usize = 64;

/// The items of the list starting at `v`, the value position after a
/// plural name at `raw_s..e`: `(start, end, quoted)` of each.
pub(crate) fn items(
    bytes: &[u8],
    raw_s: usize,
    e: usize,
    v: usize,
) -> Option<Vec<(usize, usize, bool)>> {
    if !bytes[raw_s..e]
        .last()
        .is_some_and(|b| b.eq_ignore_ascii_case(&b's'))
    {
        return None;
    }
    let mut out = Vec::new();
    match bytes.get(v) {
        Some(b'[') => {
            let le = line_end(bytes, v);
            let close = v + bytes[v..le].iter().position(|&b| b == b']')?;
            let mut i = v + 1;
            while i < close && out.len() < MAX_ITEMS {
                let s = skip_blank(bytes, i);
                let next = bytes[s..close]
                    .iter()
                    .position(|&b| b == b',')
                    .map_or(close, |p| s + p);
                let mut ie = next;
                while ie > s && bytes[ie - 1] == b' ' {
                    ie -= 1;
                }
                if ie > s + 1 && matches!(bytes[s], b'"' | b'\'') && bytes[ie - 1] == bytes[s] {
                    out.push((s + 1, ie - 1, true));
                } else if ie > s {
                    out.push((s, ie, false));
                }
                i = next + 1;
            }
        }
        Some(b'\n' | b'\r') | None => {
            let key_indent = raw_s - line_start(bytes, raw_s);
            let mut ls = line_end(bytes, v) + 1;
            while ls < bytes.len() && out.len() < MAX_ITEMS {
                let ind = skip_blank(bytes, ls) - ls;
                let at = ls + ind;
                let le = line_end(bytes, at);
                // A list of mappings (`- name: x`) holds fields, not secrets.
                if ind < key_indent
                    || !bytes[at..].starts_with(b"- ")
                    || bytes[at..le].windows(2).any(|w| w == b": ")
                {
                    break;
                }
                let (s, e, quoted) = read_value(bytes, skip_blank(bytes, at + 2), false)?;
                out.push((s, e, quoted));
                ls = le + 1;
            }
        }
        _ => return None,
    }
    (!out.is_empty()).then_some(out)
}
