//! A value named after it, in a sentence: `use X as the mailchimp key`,
//! `set X as our DB password`, `use X for SESSION_SECRET until Monday`. The
//! verb before the value and the secret name after `as` (or `for`) both have
//! to be there; the value must then look like what the name says (generated
//! for a key or token, password-like for a password; after `for`, which
//! sentences use far more loosely, generated whatever the name).

use super::names::{classify, split_words};
use super::scan::Scan;
use super::value::{Strictness, is_secret_value};

/// Verbs that hand a value over (`use X as …`).
const VERBS: &[&str] = &["use", "set", "try", "put", "using", "with"];
/// Longest value considered.
const MAX_VALUE: usize = 256;
/// Most words of the name after the article.
const MAX_NAME_WORDS: usize = 4;

/// The anchors: ` as ` followed by a determiner.
pub(crate) const ANCHORS: &[&str] = &[
    " as the ",
    " as our ",
    " as my ",
    " as your ",
    " as a ",
    " as an ",
    " for ",
];

/// Determiners skipped after `for` (`for the DB password`).
const DETERMINERS: &[&str] = &["the ", "our ", "my ", "your ", "a ", "an "];

/// Handles an anchor found at `start..end` (`start` is the space before `as`).
pub(crate) fn on_as(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let Some((vs, ve)) = word_before(bytes, start) else {
        return;
    };
    let Some((verb_s, verb_e)) = word_before(bytes, vs.saturating_sub(1)) else {
        return;
    };
    let verb = &bytes[verb_s..verb_e];
    if !VERBS
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v.as_bytes()))
    {
        return;
    }
    let via_for = bytes[start..end].eq_ignore_ascii_case(b" for ");
    let mut from = end;
    if via_for {
        match DETERMINERS.iter().find(|d| {
            bytes[end..].len() >= d.len()
                && bytes[end..end + d.len()].eq_ignore_ascii_case(d.as_bytes())
        }) {
            Some(d) => from += d.len(),
            // Without a determiner only a variable's name (`DB_PASSWORD`).
            None if !env_name(bytes, end) => return,
            None => {}
        }
    }
    let names = name_words(bytes, from);
    // The longest run of words that names a secret (`mailchimp key for
    // staging` is read as `mailchimp key`).
    for n in (1..=names.len()).rev() {
        let mut words = Vec::new();
        for w in &names[..n] {
            split_words(w, &mut words);
        }
        let own = words.len();
        if let Some(class) = classify(&words, own) {
            let (vs, ve) = unquote(bytes, vs, ve);
            let strictness = if via_for {
                Strictness::Random
            } else {
                class.strictness
            };
            if vs < ve && is_secret_value(&bytes[vs..ve], strictness, true) {
                scan.push(vs, ve, class.kind, class.priority);
            }
            return;
        }
    }
}

/// An environment variable's name at `at`: capitals, digits and `_`, with
/// a `_` (`DB_PASSWORD`, `LDAP_BIND_PASSWORD`).
fn env_name(bytes: &[u8], at: usize) -> bool {
    let n = bytes[at..]
        .iter()
        .take(64)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
        .count();
    n >= 3 && bytes[at..at + n].contains(&b'_') && bytes[at].is_ascii_uppercase()
}

/// The word (a run of non-blank bytes) ending just before `at` (after one
/// space), as a span.
fn word_before(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if at == 0 || at > bytes.len() || bytes[at - 1].is_ascii_whitespace() {
        return None;
    }
    let len = word_len(bytes, at);
    (len > 0 && len <= MAX_VALUE).then(|| (at - len, at))
}

/// How many non-blank bytes end at `at` (at most `MAX_VALUE + 1`).
fn word_len(bytes: &[u8], at: usize) -> usize {
    bytes[..at]
        .iter()
        .rev()
        .take(MAX_VALUE + 1)
        .take_while(|b| !b.is_ascii_whitespace())
        .count()
}

/// The value without surrounding quotes or backticks.
fn unquote(bytes: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && matches!(bytes[s], b'"' | b'\'' | b'`') {
        s += 1;
    }
    while e > s && matches!(bytes[e - 1], b'"' | b'\'' | b'`') {
        e -= 1;
    }
    (s, e)
}

/// Up to [`MAX_NAME_WORDS`] words from `from`, to the end of the clause.
fn name_words(bytes: &[u8], from: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = from;
    while out.len() < MAX_NAME_WORDS && i < bytes.len() {
        let ws = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-'))
        {
            i += 1;
        }
        if i == ws {
            break;
        }
        out.push(&bytes[ws..i]);
        if i >= bytes.len() || bytes[i] != b' ' {
            break;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    #[test]
    fn a_value_named_after_it_is_redacted() {
        for (text, secret) in [
            (
                "use hXFhchkia19359259jjCEgmH9AR1weDC as the mailchimp key",
                "hXFhchkia19359259jjCEgmH9AR1weDC",
            ),
            (
                "please use `Harbor!Lantern2719` as the DB password.",
                "Harbor!Lantern2719",
            ),
            (
                "Set Zq8vN3mK1pL0xTr5wYe2s as our API token for staging",
                "Zq8vN3mK1pL0xTr5wYe2s",
            ),
        ] {
            let out = redact(text);
            assert!(!out.contains(secret), "{text:?} -> {out:?}");
        }
    }

    #[test]
    fn other_sentences_with_as_are_left_alone() {
        for text in [
            "use this as the api key",
            "use staging as the password store",
            "I see Zq8vN3mK1pL0xTr5wYe2s as the api key",
            "use it as a token of thanks",
            "use v2 as the default",
            "use Zq8vN3mK1pL0xTr5wYe2s as the example key",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
