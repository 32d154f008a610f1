//! This bridge's invite codes as they appear in messages: 16 symbols of
//! Crockford's base-32 alphabet shown as four dash-separated groups of four
//! (`7KQ2-M9XD-4HTP-0R3C`, see `domain::invite`; that documented example
//! itself is left alone, see `DOC_EXAMPLES`).
//!
//! The shape alone also fits product codes, serial numbers and hex chunks
//! in documentation, so a code needs upper-case letters and digits, no
//! letter outside the alphabet and nothing word-like touching it; then
//! either a word that introduces a code (`invite`, `code`, `join`, …) shortly
//! before it, or the look of a random draw: letters and digits mixed inside
//! at least two groups, letters beyond hex, and many distinct symbols.
//! There is no literal anchor: every `-` is a candidate, checked in O(1).

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{distinct, find_ci};

/// Length of a dashed code.
const CODE_LEN: usize = 19;
/// How far before a code its introducing word may stand.
const WORD_REACH: usize = 80;
/// Words that introduce a code.
const WORDS: &[&[u8]] = &[b"invite", b"invitation", b"code", b"join", b"redeem"];

fn crockford(b: u8) -> bool {
    b.is_ascii_digit() || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U'))
}

/// Bytes that may not touch a code: anything that would make it part of a
/// longer word, number or dashed chain.
fn touches(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'+' | b'=')
}

/// Finds every invite code in the text.
pub(crate) fn scan_codes(scan: &mut Scan<'_>) {
    let bytes = scan.bytes;
    let mut next = 0;
    for d in memchr::memchr_iter(b'-', bytes) {
        if d < 4 || d - 4 < next {
            continue;
        }
        let s = d - 4;
        if let Some(e) = code_at(bytes, s) {
            scan.push(s, e, Kind::BridgeInviteCode, priority::TOKEN);
            next = e;
        }
    }
}

/// The end of an accepted code starting at `s`.
fn code_at(bytes: &[u8], s: usize) -> Option<usize> {
    let e = s + CODE_LEN;
    let code = bytes.get(s..e)?;
    let shaped = code
        .iter()
        .enumerate()
        .all(|(i, &b)| if i % 5 == 4 { b == b'-' } else { crockford(b) });
    if !shaped
        || (s > 0 && touches(bytes[s - 1]))
        || bytes
            .get(e)
            .is_some_and(|&b| touches(b) && !sentence_end(bytes, e))
    {
        return None;
    }
    let letters = code.iter().filter(|b| b.is_ascii_uppercase()).count();
    let digits = code.iter().filter(|b| b.is_ascii_digit()).count();
    if letters == 0 || digits == 0 || code.split(|&b| b == b'-').any(typed) {
        return None;
    }
    (introduced(bytes, s) || random_draw(code)).then_some(e)
}

/// A group typed rather than drawn: a run (`ABCD`, `1234`) or one symbol
/// repeated (`0000`, `XXXX`).
fn typed(group: &[u8]) -> bool {
    group.windows(2).all(|w| w[1] == w[0] + 1) || group.iter().all(|&b| b == group[0])
}

/// A full stop after the code ends a sentence (`join with 7KQ2-….`).
fn sentence_end(bytes: &[u8], e: usize) -> bool {
    bytes[e] == b'.' && bytes.get(e + 1).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// A word that introduces a code within [`WORD_REACH`] bytes before it.
fn introduced(bytes: &[u8], s: usize) -> bool {
    let before = &bytes[s.saturating_sub(WORD_REACH)..s];
    WORDS.iter().any(|w| find_ci(before, w).is_some())
}

/// Mixed groups, letters beyond `A-F`, many distinct symbols: how a random
/// code looks (about 95% of codes), and a typed product code or hex chunk
/// rarely does.
fn random_draw(code: &[u8]) -> bool {
    let mixed = code
        .split(|&b| b == b'-')
        .filter(|g| g.iter().any(u8::is_ascii_digit) && g.iter().any(u8::is_ascii_uppercase))
        .count();
    let beyond_hex = code.iter().any(|&b| b.is_ascii_uppercase() && b > b'F');
    // Typed serials count up (`AB12-CD34-…`); a drawn group holds a
    // successor pair about one time in eleven, so two such groups are rare.
    let counting = code
        .split(|&b| b == b'-')
        .filter(|g| g.windows(2).any(|w| w[1] == w[0] + 1))
        .count();
    mixed >= 2 && beyond_hex && distinct(code) >= 10 && counting < 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let at = |t: &str| code_at(t.as_bytes(), 0).is_some();
        assert!(at("9WQ4-M7XD-4HTP-0R3K"));
        assert!(!at("7KQ2-M9XD-4HTP-0R3C-1234"), "a longer chain");
        assert!(!at("7kq2-m9xd-4htp-0r3c"), "lower case");
        assert!(!at("ABCD-EFGH-JKMN-PQRS"), "no digit");
        assert!(!at("1A2B-3C4D-5E6F-7A8B"), "hex chunks");
        assert!(!at("ABCD-1234-EFGH-5678"), "typed sample");
        assert!(!at("XXXX-XXXX-XXXX-0000"), "a mask");
        assert!(!at("AB12-0000-CD34-0000"), "a typed group");
        assert!(!at("7KQ2-M9XD-4HTP-0R3U"), "U is not in the alphabet");
        assert!(!at("AB12-CD34-EF56-GH78"), "a serial that counts up");
    }
}
