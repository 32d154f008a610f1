//! This bridge's invite codes as they appear in messages: 16 symbols of
//! Crockford's base-32 alphabet shown as four dash-separated groups of four
//! (`7KQ2-M9XD-4HTP-0R3C`, see `domain::invite`; that documented example
//! itself is left alone, see `DOC_EXAMPLES`), and typed back in the other
//! spellings `InviteCode::parse` accepts.
//!
//! [`scan_codes`] reads the shown shape anywhere. The shape alone also fits
//! product codes, serial numbers and hex chunks in documentation, so a code
//! needs upper-case letters and digits, no letter outside the alphabet and
//! nothing word-like touching it; then either a word that introduces a code
//! (`invite`, `code`, `join`, …) shortly before it, or the look of a random
//! draw: letters and digits mixed inside at least two groups, letters beyond
//! hex, and many distinct symbols. There is no literal anchor: every `-` is a
//! candidate, checked in O(1).
//!
//! [`on_word`] reads, after such a word (an anchor of the shared automaton,
//! starting a word: `invite_code`, `joinCode`, not `decode` or `rejoin`), the
//! spellings an agent turns a code into: lower case, groups split by spaces
//! or by nothing (`7kq2-m9xd-4htp-0r3c`, `7KQ2M9XD4HTP0R3C`, `7KQ2 M9XD 4HTP
//! 0R3C`), also glued to `=` or `:` (`--invite-code=…`). Without the word
//! these spellings are left alone: sixteen letters and digits are also
//! hashes, ids and base-32 strings in pasted code and logs. A spelled code
//! needs a digit, a letter beyond hex (a 16-digit hex span id is not one), no
//! typed group and one case (mixed case is how random ids and GitHub
//! advisories look: `GHSA-3rjw-m598-pq24`); lower-case groups split by
//! spaces need digits in two groups (`join team 2025 next week` is prose).
//! Random text would miss about 0.3% of codes (no digit, or a typed group),
//! 3.7% in spaced lower case, and the shape test about 7%: the bridge
//! issues only codes that pass every test ([`recognised`]). The alphabet stays strict (`parse` also reads `O`,
//! `I`, `L` as digits): a code is pasted rather than retyped, and without
//! those vowels and `U` few words fit. Each byte after a word is read once,
//! however many words stand before it (`Scan::invite_done`).

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{distinct, find_ci};

/// Symbols in a code.
const SYMBOLS: usize = 16;
/// How far before a code its introducing word may stand.
const WORD_REACH: usize = 80;
/// Words that introduce a code (also anchors of the shared automaton).
pub(crate) const WORDS: &[&str] = &["invite", "invitation", "code", "join", "redeem"];

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
        // The dash in the first gap, or (after a space or a doubled gap) in the second.
        for back in [4, 9, 10, 11] {
            if d < back || d - back < next {
                continue;
            }
            let s = d - back;
            if let Some(e) = code_at(bytes, s) {
                scan.push(s, e, Kind::BridgeInviteCode, priority::TOKEN);
                next = e;
                break;
            }
        }
    }
}

/// The code's four groups at `s`, upper case, split by one or two of `-`
/// and space: the symbols, the end, and whether every gap is one `-` (the
/// shape shown).
fn groups_at(bytes: &[u8], s: usize) -> Option<([u8; SYMBOLS], usize, bool)> {
    let mut code = [0u8; SYMBOLS];
    let mut shown = true;
    let mut i = s;
    for g in 0..SYMBOLS / 4 {
        if g > 0 {
            let run = bytes[i..]
                .iter()
                .take(3)
                .take_while(|&&b| b == b'-' || b == b' ')
                .count();
            if run == 0 || run > 2 {
                return None;
            }
            shown &= run == 1 && bytes[i] == b'-';
            i += run;
        }
        for k in 0..4 {
            let b = *bytes.get(i)?;
            if !crockford(b) {
                return None;
            }
            code[g * 4 + k] = b;
            i += 1;
        }
    }
    Some((code, i, shown))
}

/// The end of an accepted code starting at `s`. The shape shown needs a
/// word that introduces it or the look of a random draw; a code whose gaps
/// were doubled or spaced (`7KQ2--M9XD--…`, `7KQ2-M9XD 4HTP-0R3C`: a reader
/// mends them, red team) needs the look of a draw.
fn code_at(bytes: &[u8], s: usize) -> Option<usize> {
    let (code, e, shown) = groups_at(bytes, s)?;
    // A fifth group beside one split by spaces makes a longer chain (a serial).
    let gap = |b: &u8| *b == b'-' || *b == b' ';
    let group = |g: usize| {
        bytes
            .get(g..g + 4)
            .is_some_and(|w| w.iter().all(|&b| crockford(b)))
            && (g == 0 || !bytes[g - 1].is_ascii_alphanumeric())
            && bytes.get(g + 4).is_none_or(|b| !b.is_ascii_alphanumeric())
    };
    let chained = !shown
        && ((bytes.get(e).is_some_and(gap) && group(e + 1))
            || (s >= 5 && gap(&bytes[s - 1]) && group(s - 5)));
    if chained
        || (s > 0 && touches(bytes[s - 1]) && bytes[s - 1] != b'/')
        || bytes
            .get(e)
            .is_some_and(|&b| touches(b) && !sentence_end(bytes, e) && !path_end(b))
    {
        return None;
    }
    let letters = code.iter().filter(|b| b.is_ascii_uppercase()).count();
    let digits = code.iter().filter(|b| b.is_ascii_digit()).count();
    if letters == 0 || digits == 0 || code.chunks(4).any(typed) || advisory(&code) {
        return None;
    }
    let dashed = code.chunks(4).collect::<Vec<_>>().join(&b'-');
    (random_draw(&dashed) || (shown && introduced(bytes, s))).then_some(e)
}

/// A group typed rather than drawn: a run (`ABCD`, `1234`) or one symbol
/// repeated (`0000`, `XXXX`).
fn typed(group: &[u8]) -> bool {
    group.windows(2).all(|w| w[1] == w[0] + 1) || group.iter().all(|&b| b == group[0])
}

/// `GHSA-3rjw-m598-pq24`: a GitHub security advisory id, the same shape
/// behind a fixed first group.
fn advisory(code: &[u8]) -> bool {
    code.len() >= 4 && code[..4].eq_ignore_ascii_case(b"GHSA")
}

/// What may follow a shown code that is still the whole of it: a path's
/// or link's next segment (`…/join/7KQ2-M9XD-4HTP-0R3C/accept`), or the
/// `_` or `+` a template glues on. A reader takes the code out of either
/// (red team: `https://…/join/CODE`, `/tmp/CODE/x` and `CODE_` were
/// passed over, and an observer joined with what it read).
fn path_end(b: u8) -> bool {
    matches!(b, b'/' | b'_' | b'+')
}

/// A full stop after the code ends a sentence (`join with 7KQ2-….`).
fn sentence_end(bytes: &[u8], e: usize) -> bool {
    bytes[e] == b'.' && bytes.get(e + 1).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// A word that introduces a code within [`WORD_REACH`] bytes before it.
fn introduced(bytes: &[u8], s: usize) -> bool {
    let before = &bytes[s.saturating_sub(WORD_REACH)..s];
    WORDS
        .iter()
        .any(|w| find_ci(before, w.as_bytes()).is_some())
}

/// Handles an introducing word found at `start..end`: the spelled codes
/// that start within [`WORD_REACH`] of the word's start.
pub(crate) fn on_word(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0
        && bytes[start - 1].is_ascii_alphabetic()
        && !(bytes[start].is_ascii_uppercase() && bytes[start - 1].is_ascii_lowercase())
    {
        return;
    }
    // Whether a spelling is a code does not depend on which word introduced
    // it, so bytes already read after an earlier word are not read again.
    let hi = (start + WORD_REACH + 1).min(bytes.len());
    let mut s = end.max(scan.invite_done);
    while s < hi {
        if bytes[s].is_ascii_alphanumeric()
            && !bytes[s - 1].is_ascii_alphanumeric()
            && let Some(e) = spelled_at(bytes, s)
        {
            scan.push(s, e, Kind::BridgeInviteCode, priority::TOKEN);
            s = e;
            continue;
        }
        s += 1;
    }
    scan.invite_done = scan.invite_done.max(s);
}

/// The end of a code spelled at `s` (the start of a word) as `parse` would
/// read it: four groups of four split by `-` or a space (one or two each,
/// mixed or not: a reader mends `7KQ2--M9XD` or `7KQ2-M9XD 4HTP-0R3C`
/// before joining with it, red team), or by nothing.
fn spelled_at(bytes: &[u8], s: usize) -> Option<usize> {
    if matches!(bytes[s - 1], b'-' | b'_' | b'.' | b'/' | b'+') {
        return None;
    }
    let is_sep = |b: &u8| *b == b'-' || *b == b' ';
    let mut code = [0u8; SYMBOLS];
    let mut sep = None;
    let mut i = s;
    for g in 0..SYMBOLS / 4 {
        if g > 0 {
            let run = bytes[i..].iter().take(3).take_while(|b| is_sep(b)).count();
            if run > 2 || (g > 1 && (run > 0) != sep.is_some()) {
                return None;
            }
            if run > 0 && sep != Some(b' ') {
                // Spaced when any gap holds a space (the stricter rules below).
                sep = Some(if bytes[i..i + run].contains(&b' ') {
                    b' '
                } else {
                    b'-'
                });
            }
            i += run;
        }
        for k in 0..4 {
            let b = bytes.get(i)?.to_ascii_uppercase();
            if !crockford(b) {
                return None;
            }
            code[g * 4 + k] = b;
            i += 1;
        }
    }
    let glued = bytes
        .get(i)
        .is_some_and(|&b| touches(b) && !sentence_end(bytes, i));
    let chained = sep == Some(b' ')
        && ((bytes.get(i) == Some(&b' ') && digit_group_at(bytes, i + 1))
            || (s >= 5 && bytes[s - 1] == b' ' && digit_group_at(bytes, s - 5)));
    if glued || chained {
        return None;
    }
    let typed_text = &bytes[s..i];
    let mixed_case = typed_text.iter().any(u8::is_ascii_lowercase)
        && typed_text.iter().any(u8::is_ascii_uppercase);
    let groups = code.chunks(4);
    let digit_groups = groups
        .clone()
        .filter(|g| g.iter().any(u8::is_ascii_digit))
        .count();
    // Lower-case words spaced in fours are prose far more often than a code.
    let lower_spaced = sep == Some(b' ') && typed_text.iter().any(u8::is_ascii_lowercase);
    let plausible = digit_groups >= if lower_spaced { 2 } else { 1 }
        && code.iter().any(|&b| b.is_ascii_uppercase() && b > b'F')
        && !groups.clone().any(typed)
        && !mixed_case
        && !advisory(&code);
    plausible.then_some(i)
}

/// Whether this engine recognises `code` (16 canonical symbols) in every
/// spelling it is shown or typed in: dashed with no word before it, and
/// after an introducing word in lower case, undashed and spaced. The bridge
/// issues only such codes (`service::invite`), so redaction never depends
/// on the luck of the draw; about 7% of draws are passed over, which costs
/// about a tenth of a bit of the code's 80.
pub fn recognised(code: &[u8]) -> bool {
    if code.len() != SYMBOLS || !code.iter().all(|&b| crockford(b)) {
        return false;
    }
    let groups: Vec<&[u8]> = code.chunks(4).collect();
    let dashed = groups.join(&b'-');
    let spaced = groups.join(&b' ');
    let shown = code_at(&dashed, 0) == Some(dashed.len())
        && !super::DOC_EXAMPLES.iter().any(|d| d.as_bytes() == dashed);
    shown
        && [dashed, code.to_vec(), spaced].iter().all(|upper| {
            [upper.clone(), upper.to_ascii_lowercase()]
                .iter()
                .all(|typed| {
                    let text = [b"code ".as_slice(), typed].concat();
                    spelled_at(&text, 5) == Some(text.len())
                })
        })
}

/// A group of four symbols holding a digit at `g`, standing alone: the
/// neighbour that makes spaced groups a longer chain (serials, card numbers).
fn digit_group_at(bytes: &[u8], g: usize) -> bool {
    let Some(group) = bytes.get(g..g + 4) else {
        return false;
    };
    (g == 0 || !bytes[g - 1].is_ascii_alphanumeric())
        && bytes.get(g + 4).is_none_or(|b| !b.is_ascii_alphanumeric())
        && group.iter().all(|b| crockford(b.to_ascii_uppercase()))
        && group.iter().any(u8::is_ascii_digit)
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
        assert!(!at("GHSA-3RJW-M598-PQ24"), "a GitHub advisory id");
    }

    /// `spelled_at` on the code that starts after `intro`.
    fn spelled(intro: &str, code: &str) -> bool {
        let t = format!("{intro}{code}");
        spelled_at(t.as_bytes(), intro.len()) == Some(t.len())
    }

    #[test]
    fn spellings_parse_would_accept() {
        for code in [
            "9wq4-m7xd-4htp-0r3k",
            "9WQ4M7XD4HTP0R3K",
            "9wq4m7xd4htp0r3k",
            "9WQ4 M7XD 4HTP 0R3K",
            "9wq4 m7xd 4htp 0r3k",
            "9WQ4 MKXD HTPZ RBCK",
            "9WQ4-M7XD 4HTP-0R3K",
            "9wq4-m7xd 4htp-0r3k",
            "9WQ4--M7XD--4HTP--0R3K",
        ] {
            assert!(spelled("code ", code), "{code}");
            assert!(crate::domain::InviteCode::parse(code).is_ok(), "{code}");
        }
        assert!(spelled("--invite-code=", "9wq4m7xd4htp0r3k"));
        assert!(spelled("\"invite\":\"", "9wq4m7xd4htp0r3k"));
    }

    #[test]
    fn a_shown_code_in_a_path_or_link_or_glued_to_a_template() {
        let found = |t: &str| {
            let s = t.find("9WQ4").expect("a code");
            code_at(t.as_bytes(), s) == t.find("0R3K").map(|e| e + 4)
        };
        for t in [
            "https://example.com/join/9WQ4-M7XD-4HTP-0R3K",
            "saved to /tmp/9WQ4-M7XD-4HTP-0R3K/x",
            "9WQ4-M7XD-4HTP-0R3K_",
            "9WQ4-M7XD-4HTP-0R3K+",
            "9WQ4--M7XD--4HTP--0R3K",
            "9WQ4-M7XD 4HTP-0R3K",
            "9WQ4 M7XD-4HTP 0R3K",
        ] {
            assert!(found(t), "{t}");
        }
        let ends = |t: &str| code_at(t.as_bytes(), t.find("9WQ4").unwrap());
        assert_eq!(ends("9WQ4--M7XD--4HTP--0R3K ok"), Some(22));
        assert!(ends("9WQ4-M7XD 4HTP-0R3K 7X2Q").is_none(), "a longer chain");
        assert!(ends("AB12 9WQ4-M7XD 4HTP-0R3K").is_none(), "a longer chain");
        assert!(!found("x9WQ4-M7XD-4HTP-0R3K"), "part of a word");
        assert!(!found("9WQ4-M7XD-4HTP-0R3K-7X2Q"), "a longer chain");
    }

    #[test]
    fn near_misses_are_not_spelled_codes() {
        for (code, why) in [
            ("9fceb02d0ae598e9", "hex: a span id, a short digest"),
            ("1234-5678-9012-3456", "digits only"),
            ("abcdefghjkmnpqrs", "letters only, and a typed run"),
            ("qwertyzxcvbnmasd", "no digit"),
            ("9wQ4m7Xd4hTp0r3K", "mixed case"),
            ("GHSA-3rjw-m598-pq24", "a GitHub advisory id"),
            ("ghsa-3rjw-m598-pq24", "a GitHub advisory id"),
            ("9wq4m7xd4htp0r3u", "U is not in the alphabet"),
            (
                "team 2025 next week",
                "spaced lower-case words, one digit group",
            ),
            ("9wq4-m7xd-4htp-0000", "a typed group"),
            ("9wq4m7xd4htp0r3k9", "a longer run"),
        ] {
            assert!(!spelled("code ", code), "{code}: {why}");
        }
        assert!(
            !spelled("code 12AB ", "9WQ4 M7XD 4HTP 0R3K"),
            "a longer chain"
        );
        assert!(
            !spelled("code ", "9WQ4 M7XD 4HTP 0R3K 7X2Q"),
            "a longer chain"
        );
        assert!(!spelled("code x_", "9wq4m7xd4htp0r3k"), "glued to a word");
    }

    #[test]
    fn every_word_is_an_anchor() {
        for w in WORDS {
            assert!(
                super::super::formats::ANCHORS
                    .iter()
                    .any(|(a, d)| a == w && matches!(d, super::super::formats::Detector::Invite)),
                "{w}"
            );
        }
    }
}
