//! Private members of a JSON Web Key: in an object that has `"kty"`, the
//! values of `d`, `p`, `q`, `dp`, `dq`, `qi` (RSA and EC private parts) and
//! `k` (an `oct` key is nothing but its secret) are replaced; the public
//! members (`n`, `e`, `x`, `y`, `crv`, `kid`, …) stay readable. The object
//! may be plain JSON, a Python dict, or JSON escaped inside a string
//! (`JWT_PRIVATE_JWK="{\"kty\":…}"`, doubly escaped too).

use super::kinds::Kind;
use super::scan::{Scan, priority};

/// Anchors: the `kty` member name with the quote after it (plain, escaped
/// or single-quoted).
pub(crate) const ANCHORS: &[&str] = &["kty\"", "kty\\\"", "kty'"];

/// How far back the object's `{` is looked for, and how far its `}`: an
/// RSA-4096 private JWK is about 3.5 KB, more when escaped.
const MAX_BACK: usize = 4096;
const MAX_OBJECT: usize = 16384;

/// Members whose value is private key material.
const PRIVATE: &[&[u8]] = &[b"d", b"p", b"q", b"dp", b"dq", b"qi", b"k"];

/// Shortest value taken: a 128-bit `oct` key is 22 base64url characters.
const MIN_VALUE: usize = 16;

/// At a `kty` anchor: every private member of the enclosing object.
pub(crate) fn on_kty(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    // A JWKS lists several keys; one walk per object.
    if start < scan.jwk_done {
        return;
    }
    // Text already looked back over without finding a `{` is not read again
    // (a run of `"kty"` with no object around them stays linear).
    let lo = start.saturating_sub(MAX_BACK).max(scan.jwk_done);
    let Some(open) = bytes[lo..start].iter().rposition(|&b| b == b'{') else {
        scan.jwk_done = start;
        return;
    };
    let open = lo + open;
    let hi = (start + MAX_OBJECT).min(bytes.len());
    let close = bytes[start..hi]
        .iter()
        .position(|&b| b == b'}')
        .map_or(hi, |p| start + p);
    scan.jwk_done = close;
    let mut i = open + 1;
    while i < close {
        if !bytes[i].is_ascii_lowercase() || !matches!(bytes[i - 1], b'"' | b'\'') {
            i += 1;
            continue;
        }
        let name_end = i + bytes[i..close]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        let name = &bytes[i..name_end];
        i = name_end;
        if !PRIVATE.contains(&name) || !matches!(bytes.get(name_end), Some(b'"' | b'\'' | b'\\')) {
            continue;
        }
        let Some((vs, ve)) = member_value(&bytes[..close], name_end) else {
            continue;
        };
        if value_ok(&bytes[vs..ve]) {
            scan.push(vs, ve, Kind::JwkPrivateKey, priority::TOKEN);
        }
        i = ve;
    }
}

/// The base64url value after a member name's closing quote (`":"`,
/// `\":\"`, `': '`), up to its own closing quote.
fn member_value(bytes: &[u8], mut i: usize) -> Option<(usize, usize)> {
    let skip = |i: &mut usize, set: &[u8]| {
        let from = *i;
        while *i < bytes.len() && set.contains(&bytes[*i]) && *i - from < 16 {
            *i += 1;
        }
    };
    skip(&mut i, b"\\\"'");
    skip(&mut i, b" \t");
    if bytes.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    skip(&mut i, b" \t");
    let q = i;
    skip(&mut i, b"\\\"'");
    if i == q {
        return None;
    }
    let vs = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-')) {
        i += 1;
    }
    let closed = matches!(bytes.get(i), Some(b'"' | b'\'' | b'\\' | b'='));
    (closed && i > vs).then_some((vs, i))
}

/// Key material, not a placeholder (`<d>`, `…`, `REDACTED`) or a repeat.
fn value_ok(v: &[u8]) -> bool {
    v.len() >= MIN_VALUE && !super::value::is_token_body_fake(v) && super::text::entropy(v) >= 3.0
}

#[cfg(test)]
mod tests {
    use super::super::tests::redacted;

    #[test]
    fn private_members_go_public_ones_stay() {
        let t = r#"{"kty":"EC","crv":"P-256","x":"CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk","y":"FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e","d":"cRTWUNosqhJ2pADf7oxtv87NnckzLPdVvKS634L74lD"}"#;
        let out = redacted(t);
        assert!(!out.contains("cRTWUNosqhJ2pADf7oxtv87"), "{out}");
        assert!(
            out.contains("CUq2Zbeh6lKOILYUpNjdtBcSu0NVHXqWLFfP0Gkyqpk"),
            "{out}"
        );
        assert!(
            out.contains("FSQ1MYDduADxSnT9ciFWWMijVDHVcapA4HjfzJtEB7e"),
            "{out}"
        );
    }
}
