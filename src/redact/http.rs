//! HTTP credentials: `Authorization` headers in any case and spelling
//! (`Bearer`, `Basic`, `Token`, `Bot`, bare keys), standalone `Bearer <token>`,
//! `curl -u user:password` and friends, `auth=("user", "password")` tuples and
//! `echo … | docker login --password-stdin`.
//!
//! Only the credential is replaced; the header name and scheme stay.

use super::kinds::Kind;
use super::scan::{Scan, priority};
use super::text::{b64_decode, contains_ci, line_end, line_start};
use super::value::{Strictness, is_placeholder, is_reference, is_secret_value, is_trivial};

/// Longest credential we read after a scheme word.
const MAX_CREDENTIAL: usize = 16 * 1024;

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

/// Reads a run of token bytes from `i`, trimming a sentence's final dot.
fn read_token(bytes: &[u8], i: usize) -> (usize, usize) {
    let mut e = i;
    while e < bytes.len() && e - i < MAX_CREDENTIAL {
        // X/Twitter app tokens carry `%2B` / `%3D` (URL-encoded `+`, `=`).
        let escaped = bytes[e] == b'%'
            && e > i
            && bytes
                .get(e + 1..e + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if !is_token_byte(bytes[e]) && !escaped {
            break;
        }
        e += 1;
    }
    while e > i && bytes[e - 1] == b'.' {
        e -= 1;
    }
    (i, e)
}

fn word_boundary_before(bytes: &[u8], start: usize) -> bool {
    start == 0 || !bytes[start - 1].is_ascii_alphanumeric()
}

/// After the word `authorization`: `: <scheme> <credential>` or `: <credential>`.
pub(crate) fn on_authorization(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let mut i = end;
    // Closing quote of a quoted header name, possibly escaped.
    while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b'\\') && i - end < 3 {
        i += 1;
    }
    i = skip_spaces(bytes, i);
    if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
        return;
    }
    i = skip_spaces(bytes, i + 1);
    while i < bytes.len() && matches!(bytes[i], b'"' | b'\'' | b'\\') && i - end < 8 {
        i += 1;
    }
    let (ws, we) = read_token(bytes, i);
    if ws == we {
        return;
    }
    let word = &bytes[ws..we];
    let scheme_like = word.len() <= 12 && word.iter().all(u8::is_ascii_alphabetic);
    if scheme_like && we < bytes.len() && bytes[we] == b' ' {
        if word.eq_ignore_ascii_case(b"bearer") || word.eq_ignore_ascii_case(b"basic") {
            return; // handled by their own anchors
        }
        let (cs, ce) = read_token(bytes, skip_spaces(bytes, we));
        bearer_credential(scan, cs, ce);
    } else {
        bearer_credential(scan, ws, we);
    }
}

/// `Bearer <token>` anywhere (headers, logs, code).
pub(crate) fn on_bearer(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if !word_boundary_before(bytes, start)
        || end >= bytes.len()
        || !matches!(bytes[end], b' ' | b'\t')
    {
        return;
    }
    let at = skip_spaces(bytes, end);
    let at = joined_literal(bytes, at).unwrap_or(at);
    let (cs, ce) = read_token(bytes, at);
    bearer_credential(scan, cs, ce);
}

/// Code that builds the header from two literals: `"Bearer " + "tok"`,
/// `format!("Bearer {}", "tok")`, `fmt.Sprintf("Bearer %s", "tok")`.
/// Where the second literal's text starts, when `at` closes the first.
fn joined_literal(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    for slot in [&b"{}"[..], b"%s", b"{0}"] {
        if bytes.get(i..i + slot.len()) == Some(slot) {
            i += slot.len();
            break;
        }
    }
    let q = *bytes.get(i).filter(|&&b| matches!(b, b'"' | b'\''))?;
    let j = skip_spaces(bytes, i + 1);
    let joiner = *bytes.get(j)?;
    let formatted = i > at;
    if !((joiner == b'+' && !formatted) || (joiner == b',' && formatted)) {
        return None;
    }
    let k = skip_spaces(bytes, j + 1);
    (bytes.get(k) == Some(&q)).then_some(k + 1)
}

fn bearer_credential(scan: &mut Scan<'_>, cs: usize, ce: usize) {
    let tok = &scan.bytes[cs..ce];
    // A long token (an Azure AD access token runs to a few KB) is judged by
    // its start and replaced whole.
    let judged = &tok[..tok.len().min(1024)];
    // Shorter tokens of an API's own (`Bearer 4yL6VzUTpKav4`) pass with all
    // three character classes.
    let p = super::text::Profile::of(judged);
    let mixed = tok.len() >= 12 && p.lower > 0 && p.upper > 0 && p.digit > 0;
    if (tok.len() >= 16 || mixed) && is_secret_value(judged, Strictness::Random, false) {
        scan.push(cs, ce, Kind::HttpBearerToken, priority::HTTP);
    }
}

/// `Basic <base64(user:password)>`.
pub(crate) fn on_basic(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    if !word_boundary_before(bytes, start) {
        return;
    }
    let (cs, ce) = read_token(bytes, skip_spaces(bytes, end));
    if basic_blob_ok(&bytes[cs..ce]) {
        scan.push(cs, ce, Kind::HttpBasicAuth, priority::HTTP);
    }
}

/// A base64 blob that decodes to a printable `user:password` with a real password.
pub(crate) fn basic_blob_ok(blob: &[u8]) -> bool {
    if blob.len() < 8
        || !blob
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return false;
    }
    let Some(plain) = b64_decode(blob) else {
        return false;
    };
    if !plain.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return false;
    }
    match plain.iter().position(|&b| b == b':') {
        Some(c) => credential_pair_ok(&plain[..c], &plain[c + 1..]),
        None => false,
    }
}

/// The password half of a `user:password` pair is real.
pub(crate) fn credential_pair_ok(user: &[u8], pass: &[u8]) -> bool {
    !pass.is_empty()
        && !is_reference(pass)
        && !is_placeholder(pass)
        && !is_trivial(pass)
        && !pass.eq_ignore_ascii_case(user)
        && !contains_ci(pass, b"password")
        && !(pass.iter().all(u8::is_ascii_digit) && pass.len() < 6)
        && !pass.starts_with(b"$(")
        // Only punctuation (`git add -u :/`, a pathspec) is no password.
        && pass.iter().any(u8::is_ascii_alphanumeric)
}

/// `-u user:pass`, `--user user:pass`, `-a user:pass` (httpie), `--auth`,
/// `-pPASSWORD` (mysql), `-p PASSWORD` (docker login, sshpass), `-a PASSWORD` (redis-cli).
pub(crate) fn on_cli_flag(scan: &mut Scan<'_>, start: usize, end: usize) {
    let bytes = scan.bytes;
    let flag_start = if bytes[start] == b' ' {
        start + 1
    } else {
        start
    };
    if flag_start > 0
        && !matches!(
            bytes[flag_start - 1],
            b' ' | b'\t' | b'"' | b'\'' | b'`' | b'[' | b','
        )
    {
        return;
    }
    let flag = &bytes[flag_start..end];
    let ls = line_start(bytes, start).max(start.saturating_sub(256));
    let le = line_end(bytes, end).min(end + 512);
    let line = &bytes[ls..le];
    match flag {
        b"-u" | b"--user" | b"-a" | b"--auth" => {
            if end >= bytes.len() || !matches!(bytes[end], b' ' | b'=' | b'\t') {
                return;
            }
            let (vs, ve, _) = read_arg(bytes, end + 1, le);
            let v = &bytes[vs..ve];
            if let Some(c) = v.iter().position(|&b| b == b':') {
                // `user:'pw'` / `user:"pw"`: the shell joins a quoted
                // password to the user in front of it.
                let escaped = bytes.get(ve) == Some(&b'\\');
                let q = ve + usize::from(escaped);
                let (ps, pe) = if c + 1 == v.len() && matches!(bytes.get(q), Some(b'"' | b'\'')) {
                    // The same inside a JSON string: `user:\"pw\"`.
                    let (s, e, _) = read_arg(bytes, q, le);
                    let e = if escaped && e > s && bytes[e - 1] == b'\\' {
                        e - 1
                    } else {
                        e
                    };
                    (s, e)
                } else {
                    (vs + c + 1, ve)
                };
                // `-a https://api.example.com` (a URL, as `cf login` takes).
                if credential_pair_ok(&v[..c], &bytes[ps..pe]) && !bytes[ps..pe].starts_with(b"//")
                {
                    scan.push(ps, pe, Kind::HttpBasicAuth, priority::HTTP);
                }
            } else if flag == b"-a"
                && contains_ci(line, b"redis-cli")
                && is_secret_value(v, Strictness::Password, false)
            {
                scan.push(vs, ve, Kind::PasswordAssignment, priority::HTTP);
            }
        }
        b"-p" => {
            let mysql = contains_ci(line, b"mysql") || contains_ci(line, b"mariadb");
            let login = contains_ci(line, b" login") || contains_ci(line, b"sshpass");
            let attached = end < bytes.len() && !matches!(bytes[end], b' ' | b'\t' | b'\n' | b'\r');
            if attached && mysql {
                let (vs, ve, quoted) = read_arg(bytes, end, le);
                if is_secret_value(&bytes[vs..ve], Strictness::Password, quoted) {
                    scan.push(vs, ve, Kind::PasswordAssignment, priority::HTTP);
                }
            } else if !attached && login {
                let (vs, ve, quoted) = read_arg(bytes, skip_spaces(bytes, end), le);
                if is_secret_value(&bytes[vs..ve], Strictness::Password, quoted) {
                    scan.push(vs, ve, Kind::PasswordAssignment, priority::HTTP);
                }
            }
        }
        _ => {}
    }
}

/// Reads one shell argument (quoted or bare) starting at `i`, not past `limit`.
fn read_arg(bytes: &[u8], i: usize, limit: usize) -> (usize, usize, bool) {
    let i = skip_spaces(bytes, i).min(limit);
    if i < limit && matches!(bytes[i], b'"' | b'\'') {
        let q = bytes[i];
        let e = bytes[i + 1..limit]
            .iter()
            .position(|&b| b == q)
            .map_or(limit, |p| i + 1 + p);
        return (i + 1, e, true);
    }
    let mut e = i;
    while e < limit && !matches!(bytes[e], b' ' | b'\t' | b'"' | b'\'' | b'`' | b'\\') {
        e += 1;
    }
    // Shell punctuation glued to the end (`pw;`, `pw)`, `pw&&`) is not part of it.
    while e > i && matches!(bytes[e - 1], b';' | b'|' | b'&' | b')') {
        e -= 1;
    }
    (i, e, false)
}

/// `echo "…" | docker login … --password-stdin`: the echoed value is the password.
pub(crate) fn on_password_stdin(scan: &mut Scan<'_>, start: usize) {
    let bytes = scan.bytes;
    let ls = line_start(bytes, start).max(start.saturating_sub(512));
    let line = &bytes[ls..start];
    let Some(pipe) = line.iter().rposition(|&b| b == b'|') else {
        return;
    };
    let head = &line[..pipe];
    let echo = ["echo ", "printf ", "echo -n "]
        .iter()
        .filter_map(|w| super::text::find_ci(head, w.as_bytes()).map(|p| p + w.len()))
        .max();
    let Some(vs) = echo else { return };
    let (s, e, quoted) = read_arg(bytes, ls + vs, ls + pipe);
    let v = &bytes[s..e];
    let v_trim = v.strip_suffix(b" ").unwrap_or(v);
    if is_secret_value(v_trim, Strictness::Password, quoted) {
        scan.push(
            s,
            s + v_trim.len(),
            Kind::PasswordAssignment,
            priority::HTTP,
        );
    }
}

/// `auth=("user", "password")`, `HTTPBasicAuth("user", "password")`,
/// `btoa("user:password")`, `b64encode(b"user:password")`.
pub(crate) fn on_auth_tuple(scan: &mut Scan<'_>, end: usize) {
    let bytes = scan.bytes;
    let limit = (end + 300).min(line_end(bytes, end));
    let mut first = skip_spaces(bytes, end);
    if first + 1 < limit && bytes[first] == b'b' && matches!(bytes[first + 1], b'"' | b'\'') {
        first += 1;
    }
    let Some((us, ue, _)) = quoted_at(bytes, first, limit) else {
        return;
    };
    if let Some(c) = bytes[us..ue].iter().position(|&b| b == b':') {
        if credential_pair_ok(&bytes[us..us + c], &bytes[us + c + 1..ue]) {
            scan.push(us + c + 1, ue, Kind::HttpBasicAuth, priority::HTTP);
        }
        return;
    }
    let mut i = skip_spaces(bytes, ue + 1);
    if i >= limit || bytes[i] != b',' {
        return;
    }
    i = skip_spaces(bytes, i + 1);
    let Some((ps, pe, _)) = quoted_at(bytes, i, limit) else {
        return;
    };
    let user_start = skip_spaces(bytes, end) + 1;
    if credential_pair_ok(&bytes[user_start..ue], &bytes[ps..pe]) {
        scan.push(ps, pe, Kind::HttpBasicAuth, priority::HTTP);
    }
}

fn quoted_at(bytes: &[u8], i: usize, limit: usize) -> Option<(usize, usize, u8)> {
    if i >= limit || !matches!(bytes[i], b'"' | b'\'') {
        return None;
    }
    let q = bytes[i];
    let p = bytes[i + 1..limit].iter().position(|&b| b == q)?;
    Some((i + 1, i + 1 + p, q))
}
