//! Session cookies: the value of a session-like cookie (`sessionid`,
//! `PHPSESSID`, `JSESSIONID`, `connect.sid`, `laravel_session`,
//! `__Secure-next-auth.session-token`, …) in a `Cookie:` / `Set-Cookie:`
//! header, `curl -b` / `--cookie`, or on its own as `NAME=value`.
//!
//! A session cookie is a bearer credential: whoever holds it is logged in.
//! Cookies that carry no session (`theme=dark`, `_ga=GA1.2.…`) are left alone.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::line_end;
use super::value::{Strictness, is_secret_value};

/// Longest cookie header we read.
const MAX_HEADER: usize = 8 * 1024;

/// Parts of a cookie name that mark a session or login.
const SESSION_PARTS: &[&str] = &[
    "sess",
    "sid",
    "auth",
    "token",
    "jwt",
    "remember",
    "csrf",
    "xsrf",
    "login",
    "identity",
    "secure-",
    "host-",
    "access",
    "refresh",
    "credential",
    "ticket",
    "saml",
];

/// `Set-Cookie` attributes: the first pair is the cookie, these are not.
const ATTRIBUTES: &[&str] = &[
    "path",
    "domain",
    "expires",
    "max-age",
    "samesite",
    "secure",
    "httponly",
    "priority",
    "partitioned",
];

fn session_name(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    SESSION_PARTS
        .iter()
        .any(|p| lower.windows(p.len()).any(|w| w == p.as_bytes()))
}

/// A session cookie's value is believed when it looks generated.
fn value_ok(v: &[u8]) -> bool {
    v.len() >= 16 && is_secret_value(v, Strictness::Random, true)
}

fn ends_value(b: u8) -> bool {
    matches!(
        b,
        b';' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'`' | b'&' | b',' | b'\\'
    )
}

/// Reads `name=value` at `i`; returns the name span, the value span and where it ends.
fn pair(bytes: &[u8], i: usize, limit: usize) -> Option<((usize, usize), (usize, usize))> {
    let eq = bytes[i..limit]
        .iter()
        .position(|&b| b == b'=' || ends_value(b))?;
    if bytes[i + eq] != b'=' || eq == 0 {
        return None;
    }
    let vs = i + eq + 1;
    let ve = bytes[vs..limit]
        .iter()
        .position(|&b| ends_value(b))
        .map_or(limit, |p| vs + p);
    Some(((i, i + eq), (vs, ve)))
}

/// After `Cookie:` / `Set-Cookie:` / `--cookie` / `-b`: every session-like pair.
pub(crate) fn on_header(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    if end < scan.cookie_done {
        return;
    }
    let limit = line_end(bytes, end).min(end + MAX_HEADER);
    scan.cookie_done = limit;
    let mut i = end;
    let mut first = true;
    let set_cookie = end >= 11 && bytes[end - 11..end].eq_ignore_ascii_case(b"set-cookie:");
    while i < limit {
        while i < limit && matches!(bytes[i], b' ' | b'\t' | b'"' | b'\'' | b';') {
            i += 1;
        }
        let Some(((ns, ne), (vs, ve))) = pair(bytes, i, limit) else {
            return;
        };
        let name = &bytes[ns..ne];
        let attribute = ATTRIBUTES
            .iter()
            .any(|a| name.eq_ignore_ascii_case(a.as_bytes()));
        if (!set_cookie || first) && !attribute && session_name(name) && value_ok(&bytes[vs..ve]) {
            scan.push(vs, ve, Kind::SessionCookie, priority::HTTP);
        }
        first = false;
        if ve >= limit || !matches!(bytes[ve], b';' | b' ' | b'&') {
            return;
        }
        i = ve + 1;
    }
}

/// A well-known session cookie name (`PHPSESSID=`, `connect.sid=`, …) at `start..end`.
pub(crate) fn on_name(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.') {
        return;
    }
    let limit = line_end(bytes, end).min(end + MAX_HEADER);
    let ve = bytes[end..limit]
        .iter()
        .position(|&b| ends_value(b))
        .map_or(limit, |p| end + p);
    if value_ok(&bytes[end..ve]) {
        scan.push(end, ve, Kind::SessionCookie, priority::HTTP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(session_name(b"sessionid"));
        assert!(session_name(b"__Secure-next-auth.session-token"));
        assert!(session_name(b"JSESSIONID"));
        assert!(!session_name(b"theme"));
        assert!(!session_name(b"_ga"));
    }
}
