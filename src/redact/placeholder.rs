//! Whether a value stands in for a secret instead of being one: a
//! placeholder (`YOUR_API_KEY`, `<token>`, `changeme`), a mask (`****`,
//! `sk-proj-...abcd`), a documented example (`…EXAMPLE`) or one of our own
//! placeholders. A value that only *begins* like a placeholder and goes on
//! with a long random run is not one: that is how a real secret would slip
//! past a scanner that stops at the first placeholder word.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::kinds::is_placeholder_like;
use super::text::{Profile, contains_ci, entropy, find_ci};
use super::value::{contains_word_ci, is_low_diversity};
use super::words::{JWT_IO_EXAMPLE_SIG, PLACEHOLDER_PARTS, PLACEHOLDER_WORDS};

/// True when `v` is a placeholder, a masked value or one of our own placeholders.
///
/// A value that only *begins* like a placeholder and goes on with a long
/// random run (`changeme-aQFoGv3KjVxF…`, `YOUR_API_KEY_dL53w8…`) is not one:
/// that is how a real secret gets past a scanner that stops at the first
/// placeholder word.
pub(crate) fn is_placeholder(v: &[u8]) -> bool {
    if is_placeholder_like(v)
        || contains_ci(v, b"_REDACTED")
        || memchr::memmem::find(v, JWT_IO_EXAMPLE_SIG).is_some()
    {
        return true;
    }
    if angle_syntax(v) {
        return true;
    }
    // AWS's documentation writes `EXAMPLE` into its sample session tokens
    // more than once (`AQoEXAMPLEH4ao…CEXAMPLE/IvU1…`); a prefix or a
    // suffix alone could be glued to a real secret, two apart are a sample.
    if memchr::memmem::find_iter(v, b"EXAMPLE").count() >= 2 {
        return true;
    }
    match placeholder_end(v).max(angle_name_end(v)) {
        None => false,
        Some(end) => !random_tail(&v[end..]),
    }
}

/// Whether the value ending at `end` is cut short on purpose, with a note
/// where the rest would be: `AQoDYXdzEJr...<remainder of security token>`
/// (AWS's documented session token), `ghp_x4Kf…[truncated]`. What is shown
/// is a reference to a secret, like a mask; an ellipsis alone (the end of a
/// sentence) proves nothing.
pub(crate) fn elided(bytes: &[u8], end: usize) -> bool {
    let rest = &bytes[end.min(bytes.len())..];
    let Some(rest) = rest
        .strip_prefix(b"...")
        .or_else(|| rest.strip_prefix("…".as_bytes()))
    else {
        return false;
    };
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let Some(&open) = rest.first() else {
        return false;
    };
    let close = match open {
        b'<' => b'>',
        b'[' => b']',
        b'(' => b')',
        _ => return false,
    };
    // The note is words (`remainder of security token`, `truncated`).
    let inner = &rest[1..rest.len().min(64)];
    inner.iter().position(|&b| b == close).is_some_and(|p| {
        p >= 4
            && inner[..p]
                .iter()
                .all(|&b| b.is_ascii_alphabetic() || matches!(b, b' ' | b'-' | b'_'))
    })
}

/// `<` or `>` as the syntax of code or a command, not a character of a
/// generated password: with a space in the value (`on >pw ~keys:*`, a
/// redirection), or an arrow after a name (`cfg->api_key`, `k => v`).
fn angle_syntax(v: &[u8]) -> bool {
    let angle = memchr::memchr2(b'<', b'>', v).is_some();
    angle
        && (v.contains(&b' ')
            || v.windows(3).any(|w| {
                (w[0].is_ascii_alphanumeric() || w[0] == b'_') && matches!(&w[1..], b"->" | b"=>")
            }))
}

/// A digit with letters after it in one word of `name` (`<p8dd>` in a
/// generated `n<p8dd>XQ`): no word a person puts in a placeholder
/// (`<token>`, `<api_key_v2>`, `<db password 2>`) is spelt that way.
fn digit_inside_word(name: &[u8]) -> bool {
    name.split(|&b| matches!(b, b'_' | b'-' | b'.' | b' '))
        .any(|w| {
            w.iter()
                .position(u8::is_ascii_digit)
                .is_some_and(|d| w[d..].iter().any(u8::is_ascii_alphabetic))
        })
}

/// Longest name read between angle brackets.
const MAX_ANGLE_NAME: usize = 48;

/// Where the last `<name>` in `v` ends: angle brackets around a name a
/// person wrote (`<your-password>`, `<db password>`, `<TOKEN>`). A lone `<`
/// or `>` is no placeholder: generated passwords and WordPress salts use
/// both (`3}FOP!@RslYG<!4j`, `li^JPvW34>DqD`).
fn angle_name_end(v: &[u8]) -> Option<usize> {
    let mut last = None;
    for open in memchr::memchr_iter(b'<', v) {
        let rest = &v[open + 1..(open + 1 + MAX_ANGLE_NAME).min(v.len())];
        let Some(close) = rest.iter().position(|&b| b == b'>') else {
            continue;
        };
        let name = &rest[..close];
        let word_like = name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b' '));
        if word_like
            && name.iter().filter(|b| b.is_ascii_alphabetic()).count() >= 2
            && !digit_inside_word(name)
        {
            last = Some(open + close + 2);
        }
    }
    last
}

/// One automaton over every placeholder part and word (ASCII case
/// insensitive), so judging a value costs one pass, not one per word.
fn placeholder_automaton() -> &'static (AhoCorasick, usize) {
    static AC: OnceLock<(AhoCorasick, usize)> = OnceLock::new();
    AC.get_or_init(|| {
        let patterns: Vec<&str> = PLACEHOLDER_PARTS
            .iter()
            .chain(PLACEHOLDER_WORDS)
            .copied()
            .collect();
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&patterns)
            // Fixed literals of a few hundred bytes: building cannot fail.
            .expect("placeholder literals always compile");
        (automaton, PLACEHOLDER_PARTS.len())
    })
}

/// Where the last placeholder part (or whole placeholder word) in `v` ends.
fn placeholder_end(v: &[u8]) -> Option<usize> {
    let (automaton, parts) = placeholder_automaton();
    automaton
        .find_overlapping_iter(v)
        .filter(|m| {
            // Words (`your`, `here`, …) count only standing alone.
            m.pattern().as_usize() < *parts
                || ((m.start() == 0 || !v[m.start() - 1].is_ascii_alphanumeric())
                    && (m.end() == v.len() || !v[m.end()].is_ascii_alphanumeric()))
        })
        .map(|m| m.end())
        .max()
}

/// After a placeholder-looking start: a run that a generator, not a
/// person writing documentation, produced.
fn random_tail(rest: &[u8]) -> bool {
    rest.split(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/'))
        .any(|seg| {
            let p = Profile::of(seg);
            seg.len() >= 12
                && (p.alnum_classes() == 3 || (p.alnum_classes() == 2 && seg.len() >= 20))
                && entropy(seg) >= 3.2
                && !is_low_diversity(seg)
                && placeholder_end(seg).is_none()
                // Digits inside the run, not a number appended to a word (a
                // long run may be letters only: one in 200 random 32-char
                // base64 strings has no digit).
                && (seg[..seg.len() - 1].iter().any(u8::is_ascii_digit)
                    || (seg.len() >= 24 && entropy(seg) >= 3.8))
                // At most half digits: a random run over three classes
                // can be half digits (`H7eV990E6Qy1470v9owI`); more is a
                // number with letters in it.
                && seg.iter().filter(|b| b.is_ascii_digit()).count() * 2 <= seg.len()
        })
}

/// Placeholder / masking check for the random part of a self-identifying token
/// (`ghp_****`, `sk-proj-...abcd`, `xoxb-your-token`, `AKIAIOSFODNN7EXAMPLE`).
pub(crate) fn is_token_body_fake(body: &[u8]) -> bool {
    if body.len() >= 8 && is_low_diversity(body) {
        return true;
    }
    const FAKE: &[&str] = &[
        "example",
        "xxxxx",
        "****",
        "...",
        "redacted",
        "placeholder",
        "0000000",
        "1234567",
    ];
    let end = FAKE
        .iter()
        .filter_map(|w| find_ci(body, w.as_bytes()).map(|p| p + w.len()))
        .chain(
            contains_word_ci(body, b"your")
                .then(|| find_ci(body, b"your").map(|p| p + 4))
                .flatten(),
        )
        .max();
    end.is_some_and(|e| !random_tail(&body[e..]))
}
