//! A self-identifying secret printed as base64 with nothing naming it:
//! `echo Z2hwX3…| base64 -d`, a blob that decodes to `AKIA…`, to a JSON
//! document holding `ghp_…` (or a Docker config's `"auth"`), or to
//! `-----BEGIN … PRIVATE KEY-----`.
//!
//! Every run of base64 characters long enough to hold a token is decoded
//! (cheaply: a run whose first bytes do not decode to text is dropped
//! there), and the decoded text is scanned by the same detectors; only what
//! identifies itself there (a prefixed token, a key block, a URL with a
//! password) counts, so random base64, hashes and images never match. The
//! whole run is replaced. Each byte of the text is in at most two runs, and a
//! decoded text is scanned once, so the pass stays linear.

use super::kinds::Kind;
use super::scan::{self, Anchors, Candidate, priority};
use super::text::b64_decode;
use super::tokens;

/// Shortest run decoded: 18 bytes, the shortest token worth finding there.
const MIN_RUN: usize = 24;
/// Longest run decoded (a few key files); longer runs are images and bundles.
const MAX_RUN: usize = 16 * 1024;
/// Bytes at the start of a run decoded to tell text from binary.
const PROBE: usize = 64;
/// Lines of a wrapped run (`base64` wraps at 76 columns) read as one.
const MAX_LINES: usize = 256;

/// Adds a candidate for every base64 run in `text` whose decoding holds a
/// self-identifying secret.
pub(crate) fn extend(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    text: &str,
    cands: &mut Vec<Candidate>,
) {
    let bytes = text.as_bytes();
    for url_safe in [false, true] {
        let mut i = 0;
        while i < bytes.len() {
            if !in_alphabet(bytes[i], url_safe) {
                i += 1;
                continue;
            }
            // The first line of the run: most words end well short of a run.
            let mut e = i + 1;
            while e < bytes.len() && in_alphabet(bytes[e], url_safe) {
                e += 1;
            }
            if e - i < MIN_RUN || (i > 0 && glued(bytes[i - 1], url_safe)) {
                i = e;
                continue;
            }
            let (end, pieces) = run(bytes, i, url_safe);
            if let Some(found) = decoded_secret(anchors, rules, bytes, &pieces, url_safe) {
                cands.push(Candidate {
                    start: i,
                    end,
                    ..found
                });
            }
            i = end.max(e);
        }
    }
}

/// Bit 0: the standard alphabet's letters, digits, `+` and `/`; bit 1: the
/// URL-safe one's (`-` and `_`).
static ALPHABET: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = 3;
        } else if c == b'+' || c == b'/' {
            t[b] = 1;
        } else if c == b'-' || c == b'_' {
            t[b] = 2;
        }
        b += 1;
    }
    t
};

/// Whether `b` may be inside a run of the alphabet.
fn in_alphabet(b: u8, url_safe: bool) -> bool {
    ALPHABET[usize::from(b)] & if url_safe { 2 } else { 1 } != 0
}

/// A run glued to a word before it (`abc` in `x.abc…`, a path) starts
/// elsewhere: only a run after a separator is decoded from its start.
fn glued(prev: u8, url_safe: bool) -> bool {
    in_alphabet(prev, url_safe)
        || matches!(prev, b'.' | b'%' | b'\\' | b'$' | b'&')
        || (!url_safe && matches!(prev, b'-' | b'_'))
        || (url_safe && matches!(prev, b'+' | b'/'))
}

/// The run starting at `s`: where it ends (after its `=` padding) and its
/// pieces, one per line of a wrapped run.
fn run(bytes: &[u8], s: usize, url_safe: bool) -> (usize, Vec<(usize, usize)>) {
    let mut pieces = Vec::new();
    let mut ps = s;
    loop {
        let mut e = ps;
        while e < bytes.len() && e - s < MAX_RUN && in_alphabet(bytes[e], url_safe) {
            e += 1;
        }
        let mut pe = e;
        while pe < bytes.len() && pe - e < 2 && bytes[pe] == b'=' {
            pe += 1;
        }
        pieces.push((ps, pe));
        // `base64` and PEM bodies wrap at 76 or 64 columns: a full-width
        // line followed by more of the alphabet continues the run.
        let width = e - ps;
        let wrapped = pe == e
            && matches!(width, 60 | 64 | 76)
            && pieces.len() < MAX_LINES
            && bytes.get(e) == Some(&b'\n');
        if !wrapped {
            return (pe, pieces);
        }
        let mut next = e + 1;
        // The same indentation as the line before (a YAML block scalar).
        let indent = ps - super::text::line_start(bytes, ps);
        while next < bytes.len() && next - (e + 1) < indent && bytes[next] == b' ' {
            next += 1;
        }
        if !bytes.get(next).is_some_and(|&b| in_alphabet(b, url_safe)) {
            return (pe, pieces);
        }
        ps = next;
    }
}

/// Whether the run's pieces decode to text holding a self-identifying
/// secret; that secret's kind and priority.
fn decoded_secret(
    anchors: &Anchors,
    rules: &tokens::Compiled,
    bytes: &[u8],
    pieces: &[(usize, usize)],
    url_safe: bool,
) -> Option<Candidate> {
    let len: usize = pieces.iter().map(|(s, e)| e - s).sum();
    if !(MIN_RUN..=MAX_RUN).contains(&len) {
        return None;
    }
    if url_safe
        && !pieces
            .iter()
            .any(|&(s, e)| bytes[s..e].iter().any(|b| matches!(b, b'-' | b'_')))
    {
        // The standard pass decoded this one already.
        return None;
    }
    // Cheap first: a run is mostly letters and digits, and an identifier or
    // a word (`AbstractSingletonProxyFactoryBean`) decodes to binary.
    let (s0, e0) = pieces[0];
    let probe = &bytes[s0..e0.min(s0 + PROBE)];
    let probe = &probe[..probe.len() - probe.len() % 4];
    if !looks_like_text(&b64_decode(probe)?) {
        return None;
    }
    let mut joined = Vec::with_capacity(len);
    for &(s, e) in pieces {
        joined.extend_from_slice(&bytes[s..e]);
    }
    let mut body: &[u8] = &joined;
    while body.last() == Some(&b'=') {
        body = &body[..body.len() - 1];
    }
    if body.len() % 4 == 1 {
        body = &body[..body.len() - 1];
    }
    let plain = b64_decode(body)?;
    if !looks_like_text(&plain) {
        return None;
    }
    let plain = std::str::from_utf8(&plain).ok()?;
    // A Docker config's `"auth"` (base64 of `user:password`) names itself
    // too, so `DOCKER_AUTH_CONFIG=<base64 of config.json>` counts.
    scan::scan_builtin(anchors, rules, plain)
        .into_iter()
        .filter(|c| c.priority >= priority::URL || c.kind == Kind::HttpBasicAuth.id())
        .max_by_key(|c| c.priority)
}

/// Printable text (UTF-8 allowed): at most one byte in 32 is a control byte.
fn looks_like_text(b: &[u8]) -> bool {
    if b.len() < 8 {
        return false;
    }
    let bad = b
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t') || c == 0x7f)
        .count();
    let high = b.iter().filter(|&&c| c >= 0x80).count();
    // A probe may end inside a character.
    let utf8 = std::str::from_utf8(b).is_ok_and(|_| true)
        || std::str::from_utf8(b).is_err_and(|e| e.error_len().is_none());
    bad * 32 <= b.len() && high * 4 <= b.len() && utf8
}
