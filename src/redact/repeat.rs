//! A secret said twice: once a detector has found a secret by its context
//! (`requirepass X`, a Kubernetes `data:` value), the same string elsewhere
//! in the text is the same secret, whatever surrounds it there (`masterauth
//! X`, `echo X | base64 -d`). A base64 value's decoding counts too: the
//! plaintext `base64 -d` printed below it is that secret in clear.

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;

use super::scan::Candidate;
use super::value::{Strictness, is_secret_value};

/// Shortest secret looked for again: shorter ones are words as often as not.
const MIN_LEN: usize = 8;
/// Longest: whole key files are found by their armour wherever they are.
const MAX_LEN: usize = 512;
/// Most distinct secrets looked for again in one text.
const MAX_NEEDLES: usize = 256;

/// Adds to `cands` every other whole-word occurrence in `text` of a secret
/// they hold (and of its base64 decoding), with the same kind and priority.
pub(crate) fn extend(text: &str, cands: &mut Vec<Candidate>) {
    let mut needles: Vec<(String, Candidate)> = Vec::new();
    for c in cands.iter() {
        if needles.len() >= MAX_NEEDLES {
            break;
        }
        let Some(v) = text.get(c.start..c.end) else {
            continue;
        };
        if !(MIN_LEN..=MAX_LEN).contains(&v.len()) || v.contains(char::is_whitespace) {
            continue;
        }
        if let Some(plain) = decoded(v) {
            needles.push((plain, *c));
        }
        needles.push((v.to_string(), *c));
    }
    if needles.is_empty() {
        return;
    }
    needles.sort_by(|a, b| a.0.cmp(&b.0));
    needles.dedup_by(|a, b| a.0 == b.0);
    let Ok(ac) = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(needles.iter().map(|(n, _)| n.as_bytes()))
    else {
        return;
    };
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    for m in ac.find_iter(bytes) {
        let (s, e) = (m.start(), m.end());
        if (s > 0 && word(bytes[s - 1])) || bytes.get(e).is_some_and(|&b| word(b)) {
            continue;
        }
        let from = needles[m.pattern().as_usize()].1;
        cands.push(Candidate {
            start: s,
            end: e,
            ..from
        });
    }
}

/// The plaintext of a base64 secret, when it reads as a secret itself (a
/// Kubernetes value decodes to `Slate_Quill6255!`; one that decodes to
/// `postgres` or to binary does not count).
fn decoded(v: &str) -> Option<String> {
    if !v.len().is_multiple_of(4) || !v.bytes().all(super::text::is_b64) {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    let plain = String::from_utf8(raw).ok()?;
    let mixed =
        plain.bytes().any(|b| b.is_ascii_digit()) && plain.bytes().any(|b| b.is_ascii_alphabetic());
    (plain.len() >= MIN_LEN
        && mixed
        && plain.bytes().all(|b| b.is_ascii_graphic())
        && is_secret_value(plain.as_bytes(), Strictness::Password, true))
    .then_some(plain)
}
