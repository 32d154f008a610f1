//! Signatures that turn a URL into a credential: Azure shared access
//! signatures (`sig=` in a SAS URL, connection string or
//! `SharedAccessSignature` header) and pre-signed S3 / GCS URLs
//! (`X-Amz-Signature`, `X-Amz-Security-Token`, `X-Goog-Signature`).
//!
//! Only the signature (or session token) is replaced; the URL, its
//! resource and its expiry stay readable. A `sig=` is believed when it
//! decodes to an HMAC-SHA256 (32 bytes) or sits among SAS parameters.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{b64_decode, contains_ci, line_end, near_line_start};
use super::value::is_token_body_fake;

/// Longest parameter value we read.
const MAX_PARAM: usize = 8 * 1024;
/// How far around a `sig=` its sibling SAS parameters are looked for.
const CONTEXT: usize = 600;
/// Longest `sig=` value taken for a signature.
const MAX_SIG: usize = 256;

/// Bytes that end a query parameter's value.
fn ends_param(b: u8) -> bool {
    matches!(
        b,
        b'&' | b'"'
            | b'\''
            | b'`'
            | b' '
            | b'\t'
            | b'\n'
            | b'\r'
            | b';'
            | b'<'
            | b'>'
            | b')'
            | b'\\'
            | b'#'
            | b','
    )
}

/// The value after a `name=` that ends at `end`.
fn param(bytes: &[u8], end: usize) -> (usize, usize) {
    let hi = (end + MAX_PARAM).min(bytes.len());
    let e = bytes[end..hi]
        .iter()
        .position(|&b| ends_param(b))
        .map_or(hi, |p| end + p);
    (end, e)
}

/// A parameter name starts here: after `?`, `&`, `;`, a space or a quote.
fn param_start(bytes: &[u8], start: usize) -> bool {
    start == 0
        || matches!(
            bytes[start - 1],
            b'?' | b'&' | b';' | b' ' | b'"' | b'\'' | b'\t' | b'\n' | b'='
        )
}

/// Percent-decodes the three characters base64 needs escaped in a URL.
fn url_decoded(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%' && i + 3 <= v.len() {
            let code = v[i + 1..i + 3].to_ascii_uppercase();
            let c = match code.as_slice() {
                b"2B" => Some(b'+'),
                b"2F" => Some(b'/'),
                b"3D" => Some(b'='),
                _ => None,
            };
            if let Some(c) = c {
                out.push(c);
                i += 3;
                continue;
            }
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

/// Handles `sig=` found at `start..end`.
pub(crate) fn on_sig(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start < scan.param_done || !param_start(bytes, start) || bytes[start] != b's' {
        return;
    }
    let (vs, ve) = param(bytes, end);
    scan.param_done = ve;
    let v = &bytes[vs..ve];
    // An HMAC-SHA256 is 44 base64 characters, percent-encoded at most 60.
    if v.len() < 16 || v.len() > MAX_SIG || is_token_body_fake(v) {
        return;
    }
    let Some(mac) = b64_decode(&url_decoded(v)) else {
        return;
    };
    let lo = near_line_start(bytes, start, CONTEXT).unwrap_or(start.saturating_sub(CONTEXT));
    let hi = line_end(bytes, ve).min(ve + CONTEXT);
    let around = &bytes[lo..hi];
    let sas = ["sv=", "se=", "sr=", "sp=", "skn=", "spr=", "srt="]
        .iter()
        .filter(|p| contains_ci(around, p.as_bytes()))
        .count();
    if mac.len() == 32 || (mac.len() >= 16 && sas >= 2) {
        scan.push(vs, ve, Kind::AzureSasToken, priority::TOKEN);
    }
}

/// Handles `X-Amz-Signature=`, `X-Goog-Signature=` and
/// `X-Amz-Security-Token=` found at `start..end`.
pub(crate) fn on_presigned(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start < scan.param_done || !param_start(bytes, start) {
        return;
    }
    let (vs, ve) = param(bytes, end);
    scan.param_done = ve;
    let v = &bytes[vs..ve];
    let token = bytes[start..end].eq_ignore_ascii_case(b"x-amz-security-token=");
    let ok = if token {
        v.len() >= 16 && !is_token_body_fake(v)
    } else {
        v.len() >= 64 && v.iter().all(u8::is_ascii_hexdigit)
    };
    if ok {
        scan.push(vs, ve, Kind::SignedUrl, priority::TOKEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(url_decoded(b"a%2Bb%2fc%3D"), b"a+b/c=");
        assert_eq!(url_decoded(b"100%"), b"100%");
        assert_eq!(url_decoded(b"%2"), b"%2");
    }
}
