//! The matching view: the text as the detectors read it, and the map from
//! each view byte back to the original text.
//!
//! A secret can be hidden from a byte-level scanner while a human (or a
//! model) still reads it: a zero-width space or soft hyphen inside `ghp_…`,
//! fullwidth `ＡＫＩＡ`, a Cyrillic `а` in `pаssword`, `\/` escapes in a JSON
//! URL. The view undoes that before matching:
//! - NFKC (compatibility forms: fullwidth, mathematical, ligatures, …);
//! - characters with no glyph of their own are dropped ([`fold::is_invisible`]),
//!   and so are combining marks stacked on an ASCII letter;
//! - look-alike letters are folded to the ASCII letter they imitate, inside
//!   words that hold no letter of real non-Latin writing (so Russian or Greek
//!   prose stays as it is, while `АКІА…` or `pаssword` do not);
//! - escapes that hide URL structure or a token's characters (`\/`,
//!   `\u0026`, `\u0067`, `%5F`, a shell line continuation inside a word)
//!   are decoded, and so are the `\n` / `\t` of JSON-escaped text, so its
//!   lines read as lines ([`escape`]).
//!
//! Detectors find spans in the view; [`View::to_original`] turns each into
//! the span of the original text it came from, so the replacement covers
//! the hidden characters too, and text outside every span is kept byte for
//! byte. ASCII text without such escapes (nearly all input) is its own
//! view: no copy, no map.

use std::borrow::Cow;

use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use super::escape;
use super::fold::{confusable, is_foreign_letter, is_invisible};

/// One place where the view differs from the original: `view_len` view
/// bytes at `view` stand for the original bytes `orig..orig_end`.
#[derive(Clone, Copy, Debug)]
struct Unit {
    view: usize,
    view_len: usize,
    orig: usize,
    orig_end: usize,
}

/// How far a word is followed in each direction to decide whether its
/// look-alike letters are folded.
const WORD_REACH: usize = 64;

/// The text to match and the way back to the original.
pub(crate) struct View<'a> {
    text: Cow<'a, str>,
    /// Sorted by `view`; between units the view copies the original.
    units: Vec<Unit>,
}

impl<'a> View<'a> {
    /// Builds the view of `text`.
    pub(crate) fn build(text: &'a str) -> View<'a> {
        let bytes = text.as_bytes();
        if text.is_ascii() && !escape::has_escape(bytes) {
            return View {
                text: Cow::Borrowed(text),
                units: Vec::new(),
            };
        }
        let mut b = Builder {
            text,
            out: None,
            copied: 0,
            units: Vec::new(),
            word_end: 0,
            word_folds: false,
            cache: Box::new([('\0', Flags::default()); CACHE]),
        };
        b.run();
        match b.out {
            None => View {
                text: Cow::Borrowed(text),
                units: Vec::new(),
            },
            Some(mut out) => {
                out.push_str(&text[b.copied..]);
                View {
                    text: Cow::Owned(out),
                    units: b.units,
                }
            }
        }
    }

    /// The text the detectors read.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// True when the view is the original text itself.
    #[cfg(test)]
    pub(crate) fn is_identity(&self) -> bool {
        self.units.is_empty()
    }

    /// The original span that view span `start..end` stands for.
    pub(crate) fn to_original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.units.is_empty() {
            return (start, end);
        }
        let s = self.start_of(start);
        let e = if end > start { self.end_of(end - 1) } else { s };
        (s, e.max(s))
    }

    /// Original offset where view byte `p` comes from (`p` may be the view's length).
    fn start_of(&self, p: usize) -> usize {
        let i = self.units.partition_point(|u| u.view <= p);
        let Some(u) = i.checked_sub(1).map(|i| self.units[i]) else {
            return p;
        };
        if p < u.view + u.view_len {
            u.orig
        } else {
            u.orig_end + (p - u.view - u.view_len)
        }
    }

    /// Original offset just past the source of view byte `q`.
    fn end_of(&self, q: usize) -> usize {
        let i = self.units.partition_point(|u| u.view <= q);
        let Some(u) = i.checked_sub(1).map(|i| self.units[i]) else {
            return q + 1;
        };
        if q < u.view + u.view_len {
            u.orig_end
        } else {
            u.orig_end + (q - u.view - u.view_len) + 1
        }
    }
}

struct Builder<'a> {
    text: &'a str,
    /// The view so far; `None` while it is still identical to the original.
    out: Option<String>,
    /// Original bytes before this offset are in `out` (or identical).
    copied: usize,
    units: Vec<Unit>,
    /// The current word's end, and whether its look-alikes are folded.
    word_end: usize,
    word_folds: bool,
    /// What is known about recently seen characters (text in one language
    /// repeats few of them): a direct-mapped cache of [`Flags`].
    cache: Box<[(char, Flags); CACHE]>,
}

/// Slots of the character cache.
const CACHE: usize = 512;

/// What the view needs to know about a non-ASCII character.
#[derive(Clone, Copy, Default)]
struct Flags {
    /// Canonical combining class 0.
    starter: bool,
    /// Kept as it is by NFKC, drops nothing, folds nothing.
    plain: bool,
    /// A look-alike of an ASCII letter.
    confusable: bool,
    /// A combining mark.
    mark: bool,
    /// Part of a word (a letter, digit, mark or invisible character).
    word: bool,
    /// A letter of real non-Latin writing ([`is_foreign_letter`]).
    foreign: bool,
}

impl Flags {
    fn of(c: char) -> Flags {
        let confusable = confusable(c).is_some();
        let mark = is_combining_mark(c);
        Flags {
            starter: canonical_combining_class(c) == 0,
            plain: !confusable
                && !mark
                && !is_invisible(c)
                && is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes,
            confusable,
            mark,
            word: c.is_alphanumeric() || mark || is_invisible(c),
            foreign: is_foreign_letter(c),
        }
    }
}

impl Builder<'_> {
    fn run(&mut self) {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if matches!(b, b'\\' | b'%' | b'&') {
                if let Some((len, ch)) = escape::at(bytes, i) {
                    self.replace(i, i + len, ch.as_slice());
                    i += len;
                } else {
                    i += 1;
                }
                continue;
            }
            if b < 0x80 {
                i += 1;
                continue;
            }
            // A starter and the combining marks after it normalise together.
            let first = i + utf8_len(b);
            let mut j = first;
            while j < bytes.len() && bytes[j] >= 0x80 {
                let Some(c) = text[j..].chars().next() else {
                    break;
                };
                if self.flags(c).starter {
                    break;
                }
                j += c.len_utf8();
            }
            // Most non-ASCII text (accents, CJK, emoji, Cyrillic prose) is one
            // character at a time that the view keeps: decided without
            // building anything.
            let keep = j == first && text[i..].chars().next().is_some_and(|c| self.keeps(i, c));
            if !keep {
                self.segment(i, j);
            }
            i = j;
        }
    }

    /// Whether the single character `c` at original offset `i` stays as it is.
    fn keeps(&mut self, i: usize, c: char) -> bool {
        let f = self.flags(c);
        if f.plain {
            return true;
        }
        if f.mark
            && self
                .prev_view_byte(i)
                .is_some_and(|p| p.is_ascii_alphanumeric())
        {
            return false;
        }
        if f.confusable {
            return !self.word_folds_at(i);
        }
        false
    }

    /// [`Flags`] of `c`, from the cache when it was seen recently.
    fn flags(&mut self, c: char) -> Flags {
        let slot = &mut self.cache[c as usize % CACHE];
        if slot.0 != c {
            *slot = (c, Flags::of(c));
        }
        slot.1
    }

    /// Normalises the original segment `i..j` (non-ASCII) into the view.
    fn segment(&mut self, i: usize, j: usize) {
        let seg = &self.text[i..j];
        let prev = self.prev_view_byte(i);
        let mut after_ascii_alnum = prev.is_some_and(|p| p.is_ascii_alphanumeric());
        let quick = is_nfkc_quick(seg.chars()) == IsNormalized::Yes;
        // Most non-ASCII text (accents, CJK, emoji) is already what the view
        // wants: decide that without allocating.
        if quick
            && seg.chars().enumerate().all(|(k, c)| {
                !is_invisible(c)
                    && confusable(c).is_none()
                    && !(k == 0 && after_ascii_alnum && is_combining_mark(c))
            })
        {
            return;
        }
        let normal: Cow<'_, str> = if quick {
            Cow::Borrowed(seg)
        } else {
            Cow::Owned(seg.nfkc().collect())
        };
        let mut buf: Vec<u8> = Vec::with_capacity(normal.len());
        for c in normal.chars() {
            if is_invisible(c) || (after_ascii_alnum && is_combining_mark(c)) {
                continue;
            }
            if let Some(a) = confusable(c)
                && self.word_folds_at(i)
            {
                buf.push(a);
                after_ascii_alnum = true;
                continue;
            }
            let mut tmp = [0u8; 4];
            buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            after_ascii_alnum = c.is_ascii_alphanumeric();
        }
        if buf != seg.as_bytes() {
            self.replace(i, j, &buf);
        }
    }

    /// The last byte the view holds before original offset `i`.
    fn prev_view_byte(&self, i: usize) -> Option<u8> {
        match &self.out {
            Some(out) if self.copied == i => out.as_bytes().last().copied(),
            _ => i.checked_sub(1).map(|p| self.text.as_bytes()[p]),
        }
    }

    /// Whether look-alike letters in the word around original offset `i` are
    /// folded: only when the word holds no letter of real non-Latin writing.
    fn word_folds_at(&mut self, i: usize) -> bool {
        if i < self.word_end {
            return self.word_folds;
        }
        let text = self.text;
        let mut foreign = false;
        for c in text[..i].chars().rev().take(WORD_REACH) {
            let (word, f) = self.word_and_foreign(c);
            if !word {
                break;
            }
            foreign |= f;
        }
        let mut end = i;
        for c in text[i..].chars().take(WORD_REACH) {
            let (word, f) = self.word_and_foreign(c);
            if !word {
                break;
            }
            foreign |= f;
            end += c.len_utf8();
        }
        self.word_end = end;
        self.word_folds = !foreign;
        self.word_folds
    }

    /// Whether `c` belongs to a word, and whether it is a foreign letter.
    fn word_and_foreign(&mut self, c: char) -> (bool, bool) {
        if c.is_ascii() {
            return (c.is_ascii_alphanumeric() || c == '_' || c == '-', false);
        }
        let f = self.flags(c);
        (f.word, f.foreign)
    }

    /// The view holds `with` where the original holds `i..j`.
    fn replace(&mut self, i: usize, j: usize, with: &[u8]) {
        let text = self.text;
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[self.copied..i]);
        let view = out.len();
        // `with` is ASCII or the UTF-8 of whole characters.
        out.push_str(std::str::from_utf8(with).unwrap_or(""));
        self.units.push(Unit {
            view,
            view_len: out.len() - view,
            orig: i,
            orig_end: j,
        });
        self.copied = j;
    }
}

/// Length of the UTF-8 sequence that starts with `b`.
fn utf8_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(original: &str, view: &str) {
        let v = View::build(original);
        assert_eq!(v.text(), view, "view of {original:?}");
    }

    #[test]
    fn plain_ascii_is_its_own_view() {
        let v = View::build("password=hunter2 \\d and \\\" stay");
        assert!(v.is_identity());
        assert_eq!(v.to_original(3, 7), (3, 7));
        let v = View::build("Schlüssel → 日本語 é");
        assert!(v.is_identity(), "already normal text needs no map");
    }

    #[test]
    fn normalises_and_folds() {
        check("gh\u{200B}p_ab\u{00AD}c", "ghp_abc");
        check("ＡＫＩＡ", "AKIA");
        check("pаssword", "password");
        check("АКІА2", "AKIA2");
        check("пароль: секрет", "пароль: секрет");
        check("Ελληνικά Ο", "Ελληνικά O");
        check("pas\u{0301}sword", "password");
        check("caf\u{00E9}", "café");
        check("https:\\/\\/u:p@h", "https://u:p@h");
        check("a\\u0026sig=x\\\\u003d", "a&sig=x=");
        check("\\\"q\\\" \\u0022", "\\\"q\\\" \\u0022");
        check("C:\\\\new \\u0022", "C:\\\\new \\u0022");
        // Near a `\"`, the text is JSON inside a JSON string: its `\\n` is a
        // line break.
        check("{\\\"k\\\": \\\"a\\\\nb", "{\\\"k\\\": \\\"a\nb");
        // A JSON text's line breaks and tabs are decoded, one unit each.
        check("a\\nb\\tc", "a\nb\tc");
        check("x\u{FE0F}\u{202E}y", "xy");
    }

    #[test]
    fn spans_map_back_over_hidden_characters() {
        let t = "key g\u{200B}hp_Ab\u{00AD}Cd end";
        let v = View::build(t);
        let vt = v.text();
        let s = vt.find("ghp_").unwrap();
        let e = vt.find(" end").unwrap();
        let (os, oe) = v.to_original(s, e);
        assert_eq!(&t[os..oe], "g\u{200B}hp_Ab\u{00AD}Cd");
        let t = "ＡＫＩＡxyz";
        let v = View::build(t);
        assert_eq!(v.to_original(0, 4), (0, 12));
        assert_eq!(v.to_original(1, 5), (3, 13));
        assert_eq!(v.to_original(4, 7), (12, 15));
        let t = "u:\\/\\/p";
        let v = View::build(t);
        assert_eq!(v.text(), "u://p");
        assert_eq!(v.to_original(4, 5), (6, 7));
        assert_eq!(v.to_original(2, 4), (2, 6));
    }
}
