//! Small byte-level helpers shared by the detectors: character classes,
//! Shannon entropy, line bounds and a tolerant base64 decoder.
//!
//! Everything here is pure and allocation-light; nothing here knows about kinds.

/// `[A-Za-z0-9]`
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `[A-Za-z0-9_]` — ASCII-only `\w`, on purpose: Unicode classes would make the
/// automata large and a secret is never spelled in non-ASCII letters.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[A-Za-z0-9_-]` (base64url plus nothing else).
pub(crate) fn is_word_dash(b: u8) -> bool {
    is_word(b) || b == b'-'
}

/// `[A-Za-z0-9+/=]` (standard base64 with padding).
pub(crate) fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// Shannon entropy of `s` in bits per byte.
pub(crate) fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Number of distinct bytes in `s`.
pub(crate) fn distinct(s: &[u8]) -> usize {
    let mut seen = [false; 256];
    let mut n = 0;
    for &b in s {
        if !seen[b as usize] {
            seen[b as usize] = true;
            n += 1;
        }
    }
    n
}

/// Character-class profile of a candidate value.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Profile {
    pub lower: usize,
    pub upper: usize,
    pub digit: usize,
    pub symbol: usize,
    pub space: usize,
    pub non_ascii: usize,
}

impl Profile {
    /// Counts the classes of `s`.
    pub(crate) fn of(s: &[u8]) -> Profile {
        let mut p = Profile::default();
        for &b in s {
            match b {
                b'a'..=b'z' => p.lower += 1,
                b'A'..=b'Z' => p.upper += 1,
                b'0'..=b'9' => p.digit += 1,
                b' ' | b'\t' => p.space += 1,
                0x80..=0xff => p.non_ascii += 1,
                _ => p.symbol += 1,
            }
        }
        p
    }

    /// How many of lower / upper / digit are present.
    pub(crate) fn alnum_classes(&self) -> usize {
        usize::from(self.lower > 0) + usize::from(self.upper > 0) + usize::from(self.digit > 0)
    }
}

/// How far the line helpers look. Detectors only need nearby context, and
/// the bound keeps a huge single-line input from making every anchor hit scan
/// the whole line (which would make the pass quadratic).
pub(crate) const LINE_REACH: usize = 2048;

/// Whether a CJK ideograph, kana, Hangul syllable or fullwidth form starts
/// at `i` (UTF-8 lead bytes of U+3000..U+DFFF, U+FF00..U+FFEF). Chinese,
/// Japanese and Korean put no space between a value and the prose after
/// it (`Xk9#pQ2!mZです`), so where such a character follows ASCII a value ends.
pub(crate) fn cjk_at(bytes: &[u8], i: usize) -> bool {
    match bytes.get(i) {
        Some(0xE3..=0xED) => true,
        Some(0xEF) => matches!(bytes.get(i + 1), Some(0xBC..=0xBF)),
        _ => false,
    }
}

/// Start of the line containing `pos`, or `pos - LINE_REACH` if that is nearer.
pub(crate) fn line_start(bytes: &[u8], pos: usize) -> usize {
    let pos = pos.min(bytes.len());
    let lo = pos.saturating_sub(LINE_REACH);
    bytes[lo..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(lo, |i| lo + i + 1)
}

/// Like [`line_start`], but only looks `reach` bytes back; `None` when the
/// line starts further away (callers then treat the head as "not empty").
pub(crate) fn near_line_start(bytes: &[u8], pos: usize, reach: usize) -> Option<usize> {
    let pos = pos.min(bytes.len());
    let lo = pos.saturating_sub(reach);
    match bytes[lo..pos].iter().rposition(|&b| b == b'\n') {
        Some(i) => Some(lo + i + 1),
        None if lo == 0 => Some(0),
        None => None,
    }
}

/// End (exclusive, at the `\n` or text end) of the line containing `pos`, or
/// `pos + LINE_REACH` if that is nearer.
pub(crate) fn line_end(bytes: &[u8], pos: usize) -> usize {
    let pos = pos.min(bytes.len());
    let hi = (pos + LINE_REACH).min(bytes.len());
    bytes[pos..hi]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(hi, |i| pos + i)
}

/// Case-insensitive ASCII search of `needle` in `hay`.
pub(crate) fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    find_ci(hay, needle).is_some()
}

/// Position of the first case-insensitive ASCII occurrence of `needle` in `hay`.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    // Candidates are found by their first byte in either case (memchr), so a
    // value without it costs one fast pass. Where that byte is dense (`pw=pw=…`
    // searched for `password`), each memchr call costs more than the bytes it
    // skips: after a few misses close together the rest is read byte by byte.
    let last = hay.len() - needle.len();
    let (lo, up) = (
        needle[0].to_ascii_lowercase(),
        needle[0].to_ascii_uppercase(),
    );
    let matches_at = |i: usize| hay[i..i + needle.len()].eq_ignore_ascii_case(needle);
    let mut from = 0;
    let mut close_misses = 0u8;
    while from <= last {
        if close_misses >= 4 {
            return (from..=last).find(|&i| (hay[i] == lo || hay[i] == up) && matches_at(i));
        }
        let i = from + memchr::memchr2(lo, up, &hay[from..=last])?;
        if matches_at(i) {
            return Some(i);
        }
        close_misses = if i - from < 32 { close_misses + 1 } else { 0 };
        from = i + 1;
    }
    None
}

/// Decodes standard or URL-safe base64, padded or not; `None` on any other byte.
pub(crate) fn b64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let s = match s.iter().position(|&b| b == b'=') {
        Some(i) if s[i..].iter().all(|&b| b == b'=') => &s[..i],
        Some(_) => return None,
        None => s,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in s {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Moves `i` back to the nearest UTF-8 character boundary of `text`.
pub(crate) fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Moves `i` forward to the nearest UTF-8 character boundary of `text`.
pub(crate) fn ceil_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_entropy() {
        assert_eq!(
            b64_decode(b"dXNlcjpwYXNz").as_deref(),
            Some(&b"user:pass"[..])
        );
        assert_eq!(b64_decode(b"YWRtaW4=").as_deref(), Some(&b"admin"[..]));
        assert!(b64_decode(b"a=b").is_none());
        assert!(entropy(b"aaaaaaaa") < 0.01);
        assert!(entropy(b"Z4CRYu4udt1o1G9c3d8k2aC1mz") > 4.0);
        assert_eq!(distinct(b"abcabc"), 3);
    }

    #[test]
    fn lines_and_boundaries() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_start(t.as_bytes(), 4), 3);
        assert_eq!(line_end(t.as_bytes(), 4), 7);
        assert_eq!(floor_char(t, 6), 5);
        assert_eq!(ceil_char(t, 6), 7);
        assert!(contains_ci(b"Hello World", b"WORLD"));
    }
}
