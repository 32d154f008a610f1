//! A self-identifying secret percent-encoded inside another URL: a webhook
//! relay's or a redirect's query parameter holding a whole URL
//! (`?target=https%3A%2F%2Fhooks.slack.com%2Fservices%2FT…%2FB…%2F…`),
//! where the `%2F`s hide the token's shape from every detector.
//!
//! Each run that starts with an encoded `scheme%3A%2F%2F` is decoded and
//! the decoded text scanned by the same detectors; only what identifies
//! itself there (a prefixed token, a webhook URL, a URL with a password)
//! counts, and then the whole encoded run is replaced. Runs do not overlap,
//! so the pass stays linear.

use super::scan::{self, Anchors, Candidate, priority};
use super::text::find_ci;
use super::tokens;

/// Longest encoded run decoded.
const MAX_RUN: usize = 4096;
/// Longest scheme read back from `%3A%2F%2F`.
const MAX_SCHEME: usize = 16;

/// Adds a candidate for every encoded URL in `text` whose decoding holds a
/// self-identifying secret.
pub(crate) fn extend(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
    cands: &mut Vec<Candidate>,
) {
    let bytes = text.as_bytes();
    // Once or twice encoded (a redirect inside a redirect: `%253A%252F%252F`).
    for needle in [&b"%3A%2F%2F"[..], b"%253A%252F%252F"] {
        runs(anchors, rules, bytes, needle, cands);
    }
}

/// The runs that start with `needle` (an encoded `://`).
fn runs(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    bytes: &[u8],
    needle: &[u8],
    cands: &mut Vec<Candidate>,
) {
    let mut from = 0;
    while let Some(p) = find_ci(&bytes[from..], needle) {
        let sep = from + p;
        let mut s = sep;
        while s > 0 && sep - s < MAX_SCHEME && bytes[s - 1].is_ascii_alphanumeric() {
            s -= 1;
        }
        // The walk ran into an escape's hex digits (`%3Dhttps%253A…`).
        if let Some(p) = (s..sep).rev().find(|&j| j > 0 && bytes[j - 1] == b'%') {
            s = (p + 2).min(sep);
        }
        let mut e = sep;
        while e < bytes.len() && e - s < MAX_RUN && in_component(bytes[e]) {
            e += 1;
        }
        from = e.max(sep + needle.len());
        if s == sep {
            continue;
        }
        let Some(mut plain) = decode(&bytes[s..e]) else {
            continue;
        };
        if needle.len() > 9 {
            let Some(twice) = decode(plain.as_bytes()) else {
                continue;
            };
            plain = twice;
        }
        let found = scan::scan_builtin(anchors, rules, &plain)
            .into_iter()
            .filter(|c| c.priority >= priority::URL)
            .max_by_key(|c| c.priority);
        if let Some(found) = found {
            cands.push(Candidate {
                start: s,
                end: e,
                ..found
            });
        }
    }
}

/// A byte of an encoded query value: anything up to the next parameter,
/// fragment, quote or blank.
fn in_component(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'&' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`')
}

/// `run` with its `%XX` escapes decoded, if the result is text.
fn decode(run: &[u8]) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(run.len());
    let mut i = 0;
    while i < run.len() {
        if run[i] == b'%'
            && let (Some(h), Some(l)) = (
                run.get(i + 1).copied().and_then(hex),
                run.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(h * 16 + l).ok()?);
            i += 3;
        } else {
            out.push(run[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_only() {
        assert_eq!(
            decode(b"https%3A%2F%2Fa.io%2Fx%3Fy%3D1+2").as_deref(),
            Some("https://a.io/x?y=1+2")
        );
        assert_eq!(decode(b"%zz%4").as_deref(), Some("%zz%4"));
    }
}
