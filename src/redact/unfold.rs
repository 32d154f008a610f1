//! Text hard-wrapped at a fixed width (`fold -w 60`, `fmt` of a long word, a
//! terminal's screen copied out, a log viewer): a token the wrap cut in two
//! is read whole again, whatever comes before or after it on its lines.
//!
//! [`super::hard_wrap`] follows a token that the main pass recognised over
//! the lines after it, but only when it reaches the end of its line, every
//! continuation line is nothing but token, and its first piece is long enough
//! to be recognised alone. In prose folded at a width none of that holds:
//! `fold` cuts anywhere, so `… deploy key ghp_4fK9` ends one line and
//! `sLm2…uGi and then restarted …` starts the next, and the anchor itself may
//! be cut (`gh` / `p_…`).
//!
//! Here every line break that looks like such a cut is removed, the lines on
//! either side are joined, and the joined text is scanned again by the same
//! detectors. A break is a cut when a word runs through it (a token byte ends
//! the line and another starts the next, with 16 or more of them around the
//! break), and the line before it is at least [`MIN_WIDTH`] wide with no
//! neighbouring line wider (in a hard wrap, full lines have the wrap's width
//! and none is wider). Only self-identifying secrets (prefixed tokens, and
//! passwords in URLs) that run through a removed break count, so a join that
//! was not a cut (two lines that only happen to touch) finds nothing: a
//! token joined to a word is rejected by its own edges and length checks.
//! The span replaced covers every piece and the line breaks between them.
//!
//! Only the word through each such break is rescanned (a token that runs
//! through the break lies inside it), each byte at most once, so the pass
//! stays linear; prose, code and tables rarely have a 16-byte word through a
//! break and cost one look at each line end, and a whole token found by the
//! main pass followed by a line of prose is not rescanned at all.

use super::scan::{self, Anchors, Candidate, priority};
use super::tokens;

/// Narrowest line a hard wrap is recognised at: terminals and `fold` wrap at
/// 60-200 columns; narrower, two ordinary lines touch too often.
const MIN_WIDTH: usize = 40;
/// Fewest token bytes around a break for it to be read as a cut through a
/// token: the shortest self-identifying token (an AWS key id) is 20 bytes,
/// while a word of prose a wrap cuts through is shorter.
const MIN_WORD: usize = 16;

/// A line of the text: where its content starts and ends (before `\r\n` or
/// `\n`), and its width in characters.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    chars: usize,
}

/// Adds candidates for self-identifying secrets cut by a hard wrap.
pub(crate) fn extend(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
    cands: &mut Vec<Candidate>,
) {
    let bytes = text.as_bytes();
    if memchr::memchr(b'\n', bytes).is_none() {
        return;
    }
    let lines = lines(text);
    // Where the main pass found a secret ending, whole or a token cut short
    // (shorter than its format): a whole one (a token, or a value after its
    // name) that ends at a cut may just end there; a token cut short at the
    // end of its line goes on at the next, however narrow the wrap (`see
    // ghp_…` / `…uGi thanks` at 24 columns).
    let (mut whole, mut short): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for c in cands.iter() {
        let cut_short = c.priority == priority::TOKEN && cut_short(c);
        if cut_short { &mut short } else { &mut whole }.push(c.end);
    }
    short.sort_unstable();
    // A value the token cut short is in (`key ghp_…`) ends where it does.
    whole.retain(|e| short.binary_search(e).is_err());
    whole.sort_unstable();
    let run = |b: &[u8]| b.iter().take_while(|&&b| token_byte(b)).count();
    // `cut[i]`: what the break after line `i` is.
    let cut: Vec<Cut> = (0..lines.len().saturating_sub(1))
        .map(|i| match is_cut(bytes, &lines, i) {
            // The next line is a setting of its own (`OPENAI_ORG_ID=…`,
            // `anthropic-version: …` after a long key in a `.env` file or a
            // header block), not the rest of a token: a token holds no `=`
            // or `:` inside, and its pieces are not named like settings.
            _ if starts_setting(&bytes[lines[i + 1].start..lines[i + 1].end]) => Cut::No,
            // A JWT broken at its dots, one part per line (`eyJ….` /
            // `eyJ….` / signature): whatever the width, the part and its
            // dot end the line, and the next part starts the next one.
            _ if ends_with_jwt_part(&bytes[lines[i].start..lines[i].end])
                && run(&bytes[lines[i + 1].start..lines[i + 1].end]) >= MIN_JWT_PART =>
            {
                Cut::Proven
            }
            Cut::No
                if short.binary_search(&lines[i].end).is_ok()
                    && bytes
                        .get(lines[i + 1].start)
                        .is_some_and(|&b| token_byte(b)) =>
            {
                Cut::Short
            }
            // What the rescan would find and [`scan_joined`] then drop (a
            // whole token, then prose): not rescanned at all, which keeps
            // text dense with `NAME=token` lines above prose cheap.
            Cut::Likely
                if whole.binary_search(&lines[i].end).is_ok()
                    && plain_word(leading_word(&bytes[lines[i + 1].start..lines[i + 1].end])) =>
            {
                Cut::No
            }
            c => c,
        })
        .collect();
    if cut.iter().all(|&c| c == Cut::No) {
        return;
    }
    let mut i = 0;
    while i < cut.len() {
        if cut[i] == Cut::No {
            i += 1;
            continue;
        }
        // Only the word through the cut can hold a token that runs through
        // it: its pieces are rescanned, not the whole lines. It goes on over
        // every next line it fills up to another cut (a long token wrapped
        // over several lines).
        let l = lines[i];
        let left = bytes[l.start..l.end]
            .iter()
            .rev()
            .take_while(|&&b| token_byte(b))
            .count();
        let mut pieces = vec![Line {
            start: l.end - left,
            ..l
        }];
        let mut j = i + 1;
        loop {
            let n = lines[j];
            let right = run(&bytes[n.start..n.end]);
            if right < n.end - n.start || j == cut.len() || cut[j] == Cut::No {
                pieces.push(Line {
                    end: n.start + right,
                    ..n
                });
                break;
            }
            pieces.push(n);
            j += 1;
        }
        scan_joined(anchors, rules, text, (&pieces, &cut[i..j]), &whole, cands);
        i = j;
    }
}

/// The lines of `text`, `\r` before a `\n` not counted as content.
fn lines(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    for nl in ends {
        let end = if nl > start && bytes[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let content = &text[start..end];
        let chars = if content.is_ascii() {
            content.len()
        } else {
            content.chars().count()
        };
        out.push(Line { start, end, chars });
        start = nl + 1;
    }
    out
}

/// Bytes a token (or a URL with a password) is made of, as far as a wrap
/// through it is concerned.
fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'-' | b'.' | b'+' | b'/' | b'=' | b'~' | b':' | b'@' | b'%'
        )
}

/// Whether the break after line `i` reads as a hard wrap cutting a word:
/// [`Cut::Proven`] when a line next to it is exactly as wide (two full
/// lines of one wrap), [`Cut::Likely`] when it is only the widest.
fn is_cut(bytes: &[u8], lines: &[Line], i: usize) -> Cut {
    let (cur, next) = (lines[i], lines[i + 1]);
    // Cheap tests first: almost every line break fails one of them.
    if cur.end - cur.start < MIN_WIDTH
        || cur.end == cur.start
        || next.end == next.start
        || !token_byte(bytes[cur.end - 1])
        || !token_byte(bytes[next.start])
    {
        return Cut::No;
    }
    // A wrap's full lines are its widest: the line before the cut is at
    // least as wide as its neighbours (counted in characters, as a
    // terminal's columns, or in bytes, as `fold` counts).
    let not_wider =
        |other: Line| other.chars <= cur.chars || other.end - other.start <= cur.end - cur.start;
    let prev = i.checked_sub(1).map(|p| lines[p]);
    if cur.chars < MIN_WIDTH || !not_wider(next) || prev.is_some_and(|p| !not_wider(p)) {
        return Cut::No;
    }
    let left = bytes[cur.start..cur.end]
        .iter()
        .rev()
        .take_while(|&&b| token_byte(b))
        .count();
    let right = bytes[next.start..next.end]
        .iter()
        .take_while(|&&b| token_byte(b))
        .count();
    let same =
        |other: Line| other.chars == cur.chars || other.end - other.start == cur.end - cur.start;
    if left + right < MIN_WORD {
        Cut::No
    } else if same(next) || prev.is_some_and(same) {
        Cut::Proven
    } else {
        Cut::Likely
    }
}

/// What a line break is, for [`is_cut`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    No,
    /// A line no narrower than its neighbours, at a wrap's width or more.
    Likely,
    /// As [`Cut::Likely`], and a neighbour exactly as wide.
    Proven,
    /// Too narrow to tell, but a token cut short ends the line.
    Short,
}

/// Scans `lines` joined at the breaks between them and adds what runs
/// through a break, mapped back to the text.
fn scan_joined(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
    (lines, cuts): (&[Line], &[Cut]),
    ends: &[usize],
    cands: &mut Vec<Candidate>,
) {
    let mut joined = String::new();
    // Where each line starts in the joined text.
    let mut at: Vec<usize> = Vec::with_capacity(lines.len());
    for l in lines {
        at.push(joined.len());
        joined.push_str(&text[l.start..l.end]);
    }
    // The offset in `text` of joined offset `p`: a start at a line's first
    // byte is on that line, an end at a line's last byte on the line before.
    let back = |p: usize, is_end: bool| {
        let k = if is_end {
            at.partition_point(|&s| s < p).saturating_sub(1)
        } else {
            at.partition_point(|&s| s <= p).saturating_sub(1)
        };
        lines[k].start + (p - at[k])
    };
    let crosses = |c: &Candidate| at[1..].iter().any(|&s| c.start < s && s < c.end);
    // Where a line next to the cut is as wide, the text is wrapped there,
    // and a wrap puts the blank after a token at the start of the next line:
    // a word glued to the token is more of it. Elsewhere, a secret the main
    // pass found whole (a token of full length, a value) up to the end of
    // its line may just end
    // there, and the next line start with prose (`sk_live_…` then `Let me
    // know`), and so may one cut short at a narrow line: it runs on only
    // over what cannot be a plain word.
    let runs_on = |c: &Candidate| {
        (1..lines.len()).all(|k| {
            let s = at[k];
            let whole_before = cuts[k - 1] == Cut::Short
                || (cuts[k - 1] == Cut::Likely && ends.binary_search(&lines[k - 1].end).is_ok());
            let piece_end = at.get(k + 1).map_or(c.end, |&e| e.min(c.end));
            !(c.start < s
                && s < c.end
                && whole_before
                && plain_word(&joined.as_bytes()[s..piece_end]))
        })
    };
    for c in scan::scan_builtin(anchors, rules, &joined) {
        if matches!(c.priority, priority::TOKEN | priority::URL) && crosses(&c) && runs_on(&c) {
            cands.push(Candidate {
                start: back(c.start, false),
                end: back(c.end, true),
                ..c
            });
        }
    }
}

/// Whether candidate `c` is a token shorter than its format's full length
/// (the main pass accepts such a token as one cut short): at a cut, the
/// rest of it is on the next line, whatever that looks like.
fn cut_short(c: &Candidate) -> bool {
    tokens::RULES
        .iter()
        .any(|r| r.kind.id() == c.kind && r.short.is_some_and(|(_, full)| c.end - c.start < full))
}

/// Fewest characters of a JWT part (base64url of at least `{"a":1}`).
const MIN_JWT_PART: usize = 10;

/// Whether `line` ends with a JWT's header or payload and its dot: a run of
/// base64url starting `eyJ` (a JSON object), at least [`MIN_JWT_PART`] long.
fn ends_with_jwt_part(line: &[u8]) -> bool {
    let Some(body) = line.strip_suffix(b".") else {
        return false;
    };
    let n = body
        .iter()
        .rev()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        .count();
    n >= MIN_JWT_PART && body[body.len() - n..].starts_with(b"eyJ")
}

/// Whether `line` starts with a setting: a name such as settings have
/// ([`setting_name`]), then `=` or `:` (not `://`) and a value.
fn starts_setting(line: &[u8]) -> bool {
    let n = line
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    let rest = &line[n..];
    let separated = match rest {
        [b':', b'/', b'/', ..] => false,
        [b'=' | b':', value @ ..] => !value.is_empty(),
        _ => false,
    };
    n >= 2 && separated && setting_name(&line[..n])
}

/// A name as settings and headers are written (`OPENAI_ORG_ID`,
/// `anthropic-version`, `Content-Type`, `db.pool_size2`): words joined by
/// `_`, `-` or `.`, each letters in one case (or capitalised) and then
/// perhaps digits. A generated token's tail mixes case and digits inside
/// its pieces (`Ab3dEf_6hIj`), so it is not one.
fn setting_name(name: &[u8]) -> bool {
    name.split(|&b| matches!(b, b'_' | b'-' | b'.'))
        .all(|part| {
            let letters = part.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            let (word, digits) = part.split_at(letters);
            let cased = match word {
                [] => false,
                [first, rest @ ..] => {
                    word.iter().all(u8::is_ascii_lowercase)
                        || word.iter().all(u8::is_ascii_uppercase)
                        || (first.is_ascii_uppercase() && rest.iter().all(u8::is_ascii_lowercase))
                }
            };
            cased && digits.iter().all(u8::is_ascii_digit)
        })
}

/// The token bytes `line` starts with: all a token cut there could take
/// from it (`yr_UMjTU-Px…` of a JWT, not just `yr`).
fn leading_word(line: &[u8]) -> &[u8] {
    let n = line.iter().take_while(|&&b| token_byte(b)).count();
    &line[..n]
}

/// A word as prose writes it: lower case, capitalised or all capitals,
/// letters only, and from six letters on with a vowel (or `y`) and letter
/// pairs that words use. The tail of a generated token (mixed case, digits,
/// `RDKBLDGG`, `lyxdhb`) rarely is one once it is six letters long.
fn plain_word(w: &[u8]) -> bool {
    let lower = |b: &u8| b.is_ascii_lowercase();
    let cased = match w {
        [] => false,
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() && rest.iter().all(lower))
                || w.iter().all(u8::is_ascii_uppercase)
        }
    };
    let vowel = |b: &u8| {
        matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    };
    cased && (w.len() < 6 || (w.iter().any(vowel) && !super::gibberish::unlike_words(w)))
}

#[cfg(test)]
mod tests {
    use crate::redact::tests::redacted as redact;

    /// A long key ending its line, then another setting: the setting is no
    /// rest of the key (it used to be taken along, `OPENAI_KEY_REDACTED=org-…`).
    #[test]
    fn a_setting_after_a_long_key_is_no_rest_of_it() {
        let key = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq2rSt5uVw8xYz";
        for (next, after) in [
            ("OPENAI_ORG_ID=org-acme-research", "DEBUG=1"),
            (
                "anthropic-version: 2023-06-01",
                "content-type: application/json",
            ),
            ("refresh_interval_seconds: 3600", "x: 1"),
            ("JIRA_BASE_URL=https://acme.atlassian.net", "y=2"),
        ] {
            let text = format!("OPENAI_API_KEY={key}\n{next}\n{after}\n");
            let out = redact(&text);
            assert!(!out.contains(&key[8..20]), "{out}");
            assert!(out.contains(&format!("\n{next}\n")), "{out}");
        }
        // A token's own tail is not named like a setting.
        for tail in ["Ab3dEf_6hIj=x", "xK9mQ2vL8nR4tY6wZ1bC3==", "uGi and then"] {
            assert!(!super::starts_setting(tail.as_bytes()), "{tail}");
        }
    }

    /// A JWT broken at its dots, one part per line, after `token:`: only
    /// the header used to be replaced.
    #[test]
    fn a_jwt_one_part_per_line_is_replaced_whole() {
        let (h, p, s) = (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
            "eyJzdWIiOiAiY2IyOWQ1ZjIiLCAicm9sZSI6ICJhZG1pbiJ9",
            "iDF0uBjrJnp7komZ5OJ5Uaart_xEvGXP1y2AGevVXRs",
        );
        for lead in ["token:\n", "Authorization: Bearer ", ""] {
            let out = redact(&format!("{lead}{h}.\n{p}.\n{s}\nthanks"));
            assert!(!out.contains(&p[3..20]) && !out.contains(&s[..20]), "{out}");
            assert!(out.ends_with("\nthanks"), "{out}");
        }
        // A sentence that ends in a word and a dot is no JWT part.
        let text = "We decoded the header eyJhbGciOi.\nThen the next step follows here.";
        assert_eq!(redact(text), text);
    }

    #[test]
    fn a_cut_through_an_anchor_is_joined() {
        let s = "ghp_4fK9sLm2QxT7vB1nR8wY3zC6dH0jP5aE2uGi";
        let line = format!("{} I pushed it wi", "lorem ipsum ".repeat(3));
        let text = format!("{line}th gh\n{} then restarted", &s[2..]);
        let out = redact(&text);
        assert!(!out.contains(&s[2..10]), "{out}");
        assert!(out.contains("then restarted"), "{out}");
    }
}
